"""Properties: no input makes a decoder raise anything but DecodeError, and nothing is lost."""

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traces.decode import DecodeError, decode
from traces.events import TraceEvent
from traces.prices import PriceTable
from tests.helpers.otlp_samples import otlp_json_bytes, otlp_proto_bytes

FORMATS = ["json", "otlp_proto", "otlp_json"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PRICES = PriceTable.load()

scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
EVENT_KEYS = list(TraceEvent.model_fields) + ["extra_field"]
event_like = st.dictionaries(st.sampled_from(EVENT_KEYS), json_values, max_size=len(EVENT_KEYS)).map(
    lambda d: {"trace_id": "t", "timestamp": 1700000000, "model": "gpt-4o", **d}
)


def decode_only_raises_decode_error(raw, fmt):
    try:
        decoded = decode(raw, fmt)
    except DecodeError as exc:
        assert exc.reason and len(exc.reason) < 400
        return None
    for error in decoded.errors:
        assert error.reason and len(error.reason) < 1200 and isinstance(error.raw, bytes)
    for event in decoded.events:
        assert isinstance(event, TraceEvent)
        PRICES.apply(event)  # pricing must cope with whatever a decoder let through
    return decoded


@FAST
@given(raw=st.binary(max_size=600), fmt=st.sampled_from(FORMATS))
def test_arbitrary_bytes(raw, fmt):
    decode_only_raises_decode_error(raw, fmt)


@FAST
@given(value=json_values, fmt=st.sampled_from(["json", "otlp_json"]))
def test_arbitrary_json_values(value, fmt):
    decode_only_raises_decode_error(orjson.dumps(value), fmt)


@FAST
@given(items=st.lists(event_like | json_values, min_size=1, max_size=6))
def test_every_batch_item_is_either_an_event_or_an_item_error(items):
    decoded = decode_only_raises_decode_error(orjson.dumps(items), "json")
    assert decoded is not None
    assert len(decoded.events) + len(decoded.errors) == len(items)
    assert [e.index for e in decoded.errors] == sorted(e.index for e in decoded.errors)


@FAST
@given(text=st.text(max_size=200))
def test_arbitrary_text_including_surrogate_escapes(text):
    for fmt in ("json", "otlp_json"):
        decode_only_raises_decode_error(text.encode("utf-8", "surrogatepass"), fmt)
        decode_only_raises_decode_error(orjson.dumps(text)[:-1] + b'\\ud800"', fmt)


SAMPLE_SPAN = orjson.loads(otlp_json_bytes(1))["resourceSpans"][0]["scopeSpans"][0]["spans"][0]


@FAST
@given(key=st.sampled_from(sorted(SAMPLE_SPAN) + ["links", "status", "events"]), value=json_values,
       attr=st.integers(0, 12), attr_value=json_values)
def test_mutated_otlp_json_spans(key, value, attr, attr_value):
    span = orjson.loads(orjson.dumps(SAMPLE_SPAN))
    span["attributes"][attr % len(span["attributes"])]["value"] = attr_value
    span[key] = value
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span, SAMPLE_SPAN]}]}]}
    decoded = decode_only_raises_decode_error(orjson.dumps(doc), "otlp_json")
    assert decoded is not None
    assert len(decoded.events) + len(decoded.errors) + decoded.skipped == 2


PROTO = otlp_proto_bytes(3)


@FAST
@given(edits=st.lists(st.tuples(st.integers(0, len(PROTO) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.integers(0, len(PROTO)))
def test_corrupted_protobuf(edits, cut):
    raw = bytearray(PROTO)
    for position, byte in edits:
        raw[position] = byte
    decode_only_raises_decode_error(bytes(raw[:cut] if cut else raw), "otlp_proto")


GENAI_KEYS = ["gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens",
              "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.cost",
              "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt.0.content", "error.type",
              "traceloop.prompt.version", "gen_ai.conversation.id", "gen_ai.system"]
any_values = st.one_of(
    st.text(max_size=20).map(lambda s: AnyValue(string_value=s)),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats().map(lambda f: AnyValue(double_value=f)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.binary(max_size=8).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)
spans = st.builds(
    lambda attrs, ids, start, end, code: Span(
        trace_id=ids[0], span_id=ids[1], name="s", start_time_unix_nano=start, end_time_unix_nano=end,
        attributes=[KeyValue(key=k, value=v) for k, v in attrs], status={"code": code}),
    st.lists(st.tuples(st.sampled_from(GENAI_KEYS), any_values), max_size=6),
    st.tuples(st.binary(max_size=16), st.binary(max_size=8)),
    st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2),
)


@FAST
@given(span_list=st.lists(spans, min_size=1, max_size=4), fmt=st.sampled_from(["otlp_proto", "otlp_json"]))
def test_every_span_is_an_event_an_error_or_skipped(span_list, fmt):
    from traces.otlp_json import request_to_otlp_json

    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.extend(span_list)
    raw = request.SerializeToString() if fmt == "otlp_proto" else request_to_otlp_json(request)
    decoded = decode_only_raises_decode_error(raw, fmt)
    assert decoded is not None
    assert len(decoded.events) + len(decoded.errors) + decoded.skipped == len(span_list)
