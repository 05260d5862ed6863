"""The fast paths agree with the full ones wherever they take an input.

- ``traces.events.validate_common`` (TraceEvent's strict twin) against ``TraceEvent.model_validate``;
- ``traces.otlp._j_span_data`` (the OTLP/JSON walker) against ``json_format.ParseDict`` + the
  protobuf mapping.

A fast path may decline any input (then the full path runs); when it accepts one, the result must
be the same, value for value and type for type.
"""

import base64
import copy
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from pydantic import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traces.decode import ItemError, decode_json
from traces.events import COUNT_FIELDS, ID_FIELDS, TraceEvent, validate_common, validate_common_many
from traces.otlp_json import _j_resource, _j_span_data, parse_span, _Uncommon
from traces.otlp_mapping import proto_span_data, resource_data
from tests.helpers.otlp_samples import otlp_json_bytes

MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def state(event: TraceEvent) -> tuple:
    """Everything an event holds, with types (5 and 5.0 differ, so do UTC and naive datetimes)."""
    return (repr(vars(event)), event.model_fields_set, event.__pydantic_extra__, type(event),
            event.model_dump_json())


# ---- TraceEvent's strict twin ---------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats() | st.text(max_size=12)
           | st.sampled_from(["", " ", "7", "1.5", "inf", "nan", "2023-11-14T22:13:20Z", "2023-11-14T22:13:20",
                              "2023-11-14T23:13:20+01:00", "1700000000", "1700000000000", "ok", "error"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
timestamps = (st.integers(-5, 2**40) | st.floats(-1e12, 1e12) | st.floats()
              | st.datetimes(timezones=st.none() | st.timezones()) | json_values)
chat = st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": json_values}) | json_values, max_size=3)
field_values = {
    "timestamp": timestamps,
    "input": st.text(max_size=20) | chat,
    "output": st.text(max_size=20) | chat,
    "flags": st.lists(st.text(max_size=5), max_size=3) | st.dictionaries(st.text(max_size=5), json_values,
                                                                        max_size=3),
    "scores": st.dictionaries(st.text(max_size=5), st.floats() | st.integers() | json_values, max_size=3),
    "metadata": st.dictionaries(st.text(max_size=5), json_values, max_size=3) | json_values,
    "input_tokens": st.integers(-3, 2**70) | json_values,
    "cost_usd": st.floats() | st.integers(-3, 10**30) | json_values,
}
FIELDS = list(TraceEvent.model_fields)
event_like = st.fixed_dictionaries(
    {"trace_id": st.just("t") | json_values, "timestamp": timestamps, "model": st.just("gpt-4o") | json_values},
    optional={name: field_values.get(name, json_values) for name in FIELDS
              if name not in ("trace_id", "timestamp", "model")}
    | {"team": json_values, "queue_depth": st.integers(), "model_": json_values},
)

# Mostly well-typed events, so that the twin accepts many, each with at most one hostile field.
text = st.text(max_size=6)
well_typed = {
    "schema_version": st.integers(0, 3), "timestamp": st.integers(0, 2**35) | st.floats(0, 3e10)
    | st.sampled_from(["2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123456789+05:30", "2023-11-14T22:13:20",
                       "1700000000", "1700000000123", "2023-11-14"]),
    "input_tokens": st.integers(0, 2**64), "output_tokens": st.integers(-1, 2**64),
    "cost_usd": st.floats(0, 1e6) | st.integers(0, 10**20), "latency_ms": st.floats(-1, 1e6) | st.integers(0, 99),
    "ttft_ms": st.floats(0, 1e6), "status": st.sampled_from(["ok", "error", "timeout"]),
    "input": text, "output": text, "scores": st.dictionaries(text, st.floats(0, 1) | st.integers(), max_size=2),
    "flags": st.lists(text, max_size=2), "metadata": st.dictionaries(text, json_values, max_size=2),
}
# Ids and versions as apps send them: text, or numbers (which both paths store as text), or not.
for name in ID_FIELDS:
    well_typed[name] = (st.text(max_size=6) | st.none() | st.integers(-(2**70), 2**70) | st.floats()
                        | st.booleans() | st.sampled_from([4, 4.0, 1.5, -0.0, 12345, 2.0**53, 1e300]))
for name in COUNT_FIELDS:
    well_typed[name] = (st.integers(-1, 2**64) | st.floats(-1, 1e20) | st.booleans()
                        | st.sampled_from(["12", "12.0", " 12 ", "12.5", "-3", "1e3", "1_000", "+7", "٣"]))
common_like = st.fixed_dictionaries(
    {"trace_id": st.text(min_size=1, max_size=6) | st.integers(0, 10**6), "timestamp": well_typed["timestamp"],
     "model": st.just("m")},
    optional={name: well_typed.get(name, st.text(max_size=6) | st.none()) for name in FIELDS
              if name not in ("trace_id", "timestamp", "model")} | {"team": json_values},
).flatmap(lambda d: st.sampled_from([None, *d]).flatmap(
    lambda key: st.just(d) if key is None else field_values.get(key, json_values).map(lambda v: {**d, key: v})))
event_like = common_like | event_like


def full(data):
    try:
        return TraceEvent.model_validate(copy.deepcopy(data))
    except Exception as exc:  # noqa: BLE001 - whatever the full path does, the twin must decline
        return exc


@MANY
@given(data=event_like)
def test_twin_accepts_only_what_the_model_accepts_and_builds_the_same_event(data):
    fast = validate_common(copy.deepcopy(data))
    if fast is None:
        return
    reference = full(data)
    assert isinstance(reference, TraceEvent), (data, reference)
    assert state(fast) == state(reference)


@MANY
@given(items=st.lists(event_like | json_values, min_size=1, max_size=5))
def test_twin_on_batches_is_all_or_nothing_and_the_same(items):
    events = validate_common_many(copy.deepcopy(items))
    if events is None:
        return
    assert [state(e) for e in events] == [state(full(item)) for item in items]


@MANY
@given(items=st.lists(event_like, min_size=1, max_size=5))
def test_decode_json_gives_what_item_by_item_validation_gives(items):
    try:
        raw = orjson.dumps(items)
    except TypeError:  # an integer orjson cannot write, or a datetime key
        return
    decoded = decode_json(raw)
    parsed = orjson.loads(raw)
    expected = [full(item) for item in parsed]
    assert [state(e) for e in decoded.events] == [state(e) for e in expected if isinstance(e, TraceEvent)]
    assert [e.index for e in decoded.errors] == [i for i, e in enumerate(expected)
                                                 if not isinstance(e, TraceEvent)]


def test_the_common_shape_takes_the_fast_path():
    # Guards the speed, not the behaviour: the bench's events must not fall back.
    common = {"schema_version": 1, "trace_id": "t", "timestamp": 1795437406.853339, "model": "m",
              "app": "a", "input_tokens": 3, "cost_usd": 0.1, "latency_ms": 450, "status": "ok",
              "scores": {"g": 0.7}, "flags": [], "metadata": {}, "team": "x"}
    for stamp in (1795437406.853339, 1700000000, "2023-11-14T23:13:20+01:00",
                  datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=7)):
        assert validate_common({**common, "timestamp": stamp}) is not None
    assert validate_common_many([common, common]) is not None
    # Apps that send numeric ids or whole-float counts do so in every event: those stay on it too.
    numeric = {**common, "user_id": 12345, "prompt_version": 4, "session_id": 7.0, "input_tokens": 12.0}
    assert validate_common_many([numeric, common]) is not None


@pytest.mark.parametrize("value, text", [(4, "4"), (4.0, "4"), (-0.0, "0"), (1.5, "1.5"), (0.1, "0.1"),
                                         (12345678901234567890, "12345678901234567890"),
                                         (2.0**53 - 1, "9007199254740991")])
def test_numeric_ids_are_the_same_text_on_both_paths(value, text):
    for name in ID_FIELDS:
        data = {"trace_id": "t", "timestamp": 0, "model": "m", name: value}
        fast, reference = validate_common(dict(data)), TraceEvent.model_validate(dict(data))
        assert getattr(reference, name) == text
        assert fast is not None and state(fast) == state(reference)


@pytest.mark.parametrize("value", [True, False, 2.0**53, -1e300, float("nan"), float("inf"), 10**600, {}, [1]])
def test_what_is_no_id_is_left_to_the_model_which_refuses_it(value):
    for name in ID_FIELDS:
        data = {"trace_id": "t", "timestamp": 0, "model": "m", name: value}
        assert validate_common(dict(data)) is None
        with pytest.raises(ValidationError):
            TraceEvent.model_validate(data)


# ---- the OTLP/JSON walker -------------------------------------------------------------------------

int_texts = st.sampled_from(["-", "+5", " 5", "1e3", "٣", "²", "007", "-0", "--1", "5-", "", "18446744073709551616",
                             "9223372036854775808", "-9223372036854775809"])
any_values = st.recursive(
    st.one_of(
        st.builds(lambda v: {"stringValue": v}, st.text(max_size=8) | st.integers() | st.none()),
        st.builds(lambda v: {"intValue": v}, st.integers(-(2**65), 2**65) | st.integers(-(2**65), 2**65).map(str)
                  | int_texts | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()),
        st.builds(lambda v: {"doubleValue": v}, st.floats() | st.integers(-(2**70), 2**70) | st.booleans()
                  | st.sampled_from(["NaN", "1.5", "Infinity"])),
        st.builds(lambda v: {"boolValue": v}, st.booleans() | st.integers(0, 1) | st.just("true")),
        st.sampled_from([{}, {"bytesValue": "AAE="}, {"string_value": "x"}, {"stringValue": "a", "boolValue": True},
                         None, 3, {"arrayValue": {}}, {"arrayValue": None}, {"kvlistValue": {"values": None}},
                         {"stringValueStrindex": 1}]),
    ),
    lambda inner: st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3))
    | st.builds(lambda kvs: {"kvlistValue": {"values": kvs}},
                st.lists(st.builds(lambda k, v: {"key": k, "value": v}, st.sampled_from(["a", "b"]), inner),
                         max_size=3)),
    max_leaves=6,
)
GENAI_KEYS = ["gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.cost",
              "gen_ai.input.messages", "gen_ai.prompt.0.content", "gen_ai.prompt.1.content",
              "gen_ai.completion.0.content", "error.type", "gen_ai.system", "gen_ai.operation.name", "service.name",
              "enduser.id", "traceloop.prompt.version", "session.id"]
key_values = st.builds(lambda k, v: {"key": k, "value": v}, st.sampled_from(GENAI_KEYS), any_values) | st.sampled_from(
    [{"key": "k"}, {"value": {"stringValue": "v"}}, {"key": 1, "value": {}}, {"key": "k", "value": {}, "x": 1}, None])
u64s = (st.integers(-2, 2**64 + 1) | st.integers(0, 2**64 + 1).map(str) | int_texts | st.none() | st.floats(0, 2e19)
        | st.just(True))
ids = st.sampled_from(["", "0102", "ABcd", "abc", "zz", "0x12", "ab cd", None, 5, "AAE=", "W47/95gDgQPSabYzgT/GDA==",
                       "7uGbfsPBsXQ", "7uGbfsPBsXQ==", "7uGb fsPBsXQ", "7uGbfsPBsXé", "W47_95gDgQPSabYzgT/GDA"]) \
    | st.binary(max_size=17).map(bytes.hex) \
    | st.binary(min_size=7, max_size=17).flatmap(lambda b: st.sampled_from([  # padded, URL-safe unpadded, cut
        base64.b64encode(b).decode(), base64.urlsafe_b64encode(b).decode().rstrip("="),
        base64.b64encode(b).decode()[:-1]]))
events = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["gen_ai.evaluation.result", "exception", "other"]) | st.none() | st.just(3),
    "timeUnixNano": u64s, "droppedAttributesCount": u64s,
    "attributes": st.lists(st.builds(lambda k, v: {"key": k, "value": v},
                                     st.sampled_from(["gen_ai.evaluation.name", "gen_ai.evaluation.score.value",
                                                      "gen_ai.evaluation.score.label", "exception.type"]),
                                     any_values), max_size=4),
    "time_unix_nano": st.just("1"), "extra": st.just(1)})
span_mutations = {
    "traceId": ids, "spanId": ids, "parentSpanId": ids, "traceState": st.text(max_size=3) | st.none() | st.just(1),
    "name": st.text(max_size=5) | st.none() | st.just(1),
    "kind": st.integers(-1, 7) | st.sampled_from(["SPAN_KIND_CLIENT", "3", None, True]),
    "flags": u64s, "droppedAttributesCount": u64s, "droppedEventsCount": u64s, "droppedLinksCount": u64s,
    "startTimeUnixNano": u64s, "endTimeUnixNano": u64s,
    "attributes": st.lists(key_values, max_size=6) | st.none() | st.just({}),
    "events": st.lists(events | st.none(), max_size=3) | st.none(),
    "links": st.sampled_from([[], None, [{"traceId": "01"}], {}]),
    "status": st.fixed_dictionaries({}, optional={"code": st.integers(-1, 3) | st.sampled_from(["STATUS_CODE_ERROR", None]),
                                                  "message": st.text(max_size=5) | st.none() | st.just(2)})
    | st.sampled_from([None, 3, {"code": 2, "extra": 1}]),
    "start_time_unix_nano": st.just("1700000000000000000"), "unknown": json_values,
}
SAMPLE = orjson.loads(otlp_json_bytes(8, seed=5))
SAMPLE_SPANS = [span for rs in SAMPLE["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]]
RESOURCE = resource_data({"service.name": "svc", "deployment.environment.name": "prod"})


def slow_path(span_json):
    span = parse_span(copy.deepcopy(span_json), 0)
    if isinstance(span, ItemError):
        return span
    return proto_span_data(RESOURCE, span)


def fast_path(span_json):
    try:
        return _j_span_data(RESOURCE, copy.deepcopy(span_json))
    except _Uncommon:
        return _Uncommon


def assert_walker_agrees(span_json):
    fast = fast_path(span_json)
    if fast is _Uncommon:
        return False
    slow = slow_path(span_json)
    assert not isinstance(slow, ItemError), (span_json, slow.reason)
    assert repr(fast) == repr(slow)
    return True


def test_walker_takes_the_collector_spans():
    assert all(assert_walker_agrees(span) for span in SAMPLE_SPANS)


@MANY
@given(which=st.integers(0, len(SAMPLE_SPANS) - 1),
       changes=st.lists(st.sampled_from(sorted(span_mutations)).flatmap(
           lambda key: st.tuples(st.just(key), span_mutations[key])), max_size=3),
       attr=st.integers(0, 20), attr_value=any_values, drop=st.sampled_from([None, *sorted(SAMPLE_SPANS[0])]))
def test_walker_agrees_with_parse_dict_on_mutated_spans(which, changes, attr, attr_value, drop):
    span = copy.deepcopy(SAMPLE_SPANS[which])
    span["attributes"][attr % len(span["attributes"])]["value"] = attr_value
    for key, value in changes:
        span[key] = value
    if drop is not None:
        span.pop(drop, None)
    assert_walker_agrees(span)


@MANY
@given(resource=st.fixed_dictionaries({}, optional={
    "attributes": st.lists(key_values, max_size=4), "droppedAttributesCount": u64s, "entityRefs": st.just([])}))
def test_resource_walker_agrees_with_parse_dict(resource):
    from google.protobuf import json_format
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    from traces.otlp_mapping import attributes

    try:
        fast = _j_resource(copy.deepcopy(resource))
    except _Uncommon:
        return
    message = Resource()
    json_format.ParseDict(resource, message, ignore_unknown_fields=True)
    assert repr(fast) == repr(attributes(message.attributes))


@pytest.mark.parametrize("key", ["gen_ai.prompt.\u00b2.content", "gen_ai.prompt.\u0663.content"])
def test_unusual_digits_in_indexed_prompts_do_not_crash(key):
    span = copy.deepcopy(SAMPLE_SPANS[0])
    span["attributes"].append({"key": key, "value": {"stringValue": "hi"}})
    assert assert_walker_agrees(span)
