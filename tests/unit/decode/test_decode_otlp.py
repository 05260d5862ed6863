"""OTLP (proto and JSON, as the Collector's Kafka exporter writes them) -> TraceEvent."""

from pathlib import Path

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traces.decode import DecodeError, decode, decode_otlp
from traces.otlp_mapping import evaluation_flag
from traces.otlp_json import request_to_otlp_json
from tests.helpers.otlp_samples import (
    make_otlp_request,
    kv,
    otlp_json_bytes,
    otlp_proto_bytes,
)

COLLECTOR_JSON = Path(__file__).parents[2] / "data" / "otlp" / "collector_otlp_json.json"


def _spans(request):
    return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_generated_batch_maps_every_span(encoding):
    request = make_otlp_request(100, seed=3)
    raw = request.SerializeToString() if encoding == "otlp_proto" else request_to_otlp_json(request)
    decoded = decode(raw, encoding)
    assert (len(decoded.events), decoded.errors, decoded.skipped) == (100, [], 0)
    by_span = {e.span_id: e for e in decoded.events}
    for span in _spans(request):
        attrs = {a.key: a.value for a in span.attributes}
        event = by_span[span.span_id.hex()]
        assert event.trace_id == span.trace_id.hex()
        assert event.model == attrs["gen_ai.request.model"].string_value
        tokens_in = attrs.get("gen_ai.usage.input_tokens") or attrs["gen_ai.usage.prompt_tokens"]
        tokens_out = attrs.get("gen_ai.usage.output_tokens") or attrs["gen_ai.usage.completion_tokens"]
        assert (event.input_tokens, event.output_tokens) == (tokens_in.int_value, tokens_out.int_value)
        assert event.latency_ms == (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
        assert event.provider is not None and event.app is not None and event.environment is not None
        if "gen_ai.usage.cost" in attrs:
            assert event.cost_usd == attrs["gen_ai.usage.cost"].double_value
        assert event.prompt_id == "answer-question"


def test_proto_and_json_encodings_decode_to_the_same_events():
    from_proto = decode_otlp(otlp_proto_bytes(40, seed=9), "otlp_proto").events
    from_json = decode_otlp(otlp_json_bytes(40, seed=9), "otlp_json").events
    assert from_proto == from_json


def test_generator_json_looks_like_the_collector_writes_it():
    span = orjson.loads(otlp_json_bytes(1))["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16) >= 0  # hex, not base64
    assert isinstance(span["startTimeUnixNano"], str) and span["kind"] == 3
    assert {"key": "gen_ai.usage.input_tokens", "value": {"intValue": span["attributes"][4]["value"]["intValue"]}} \
        in span["attributes"]


def test_collector_json_sample_with_deprecated_and_vendor_attributes():
    decoded = decode_otlp(COLLECTOR_JSON.read_bytes(), "otlp_json")
    assert decoded.skipped == 1 and decoded.errors == []
    chat, claude = decoded.events
    assert chat.model_dump(mode="json", exclude_none=True) == {
        "schema_version": 1, "trace_id": "5b8efff798038103d269b633813fc60c",
        "timestamp": "2024-11-14T16:00:00Z", "model": "gpt-4o-mini", "response_model": "gpt-4o-mini-2024-07-18",
        "span_id": "eee19b7ec3c1b174",
        "app": "checkout-assistant", "environment": "prod", "provider": "openai",
        "prompt_id": "refund-policy", "user_id": "u-7", "session_id": "conv-42",
        "input_tokens": 1200, "output_tokens": 300, "latency_ms": 1250.0, "status": "ok",
        "input": "Can I return shoes?", "output": "Yes, within 30 days.",
        "scores": {"groundedness": 0.31}, "flags": ["groundedness"],
        "metadata": {"span_name": "chat gpt-4o-mini", "parent_span_id": "eee19b7ec3c1b173",
                     "evaluation_labels": {"groundedness": "fail"},
                     "gen_ai.operation.name": "chat", "gen_ai.response.finish_reasons": ["stop"]},
    }
    # deprecated gen_ai.system / prompt_tokens / completion_tokens; vendor cost and traceloop prompt
    assert (claude.provider, claude.input_tokens, claude.output_tokens) == ("anthropic", 5000, 0)
    assert (claude.cost_usd, claude.prompt_id, claude.prompt_version) == (0.015, "summarise-order", "3")
    assert (claude.session_id, claude.user_id, claude.input) == ("s-99", "u-8", "Summarise order 1234")
    assert (claude.status, claude.error_type, claude.latency_ms) == ("timeout", "TimeoutError", 30000.0)


def _one_span_request(*attrs, **span_fields) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "svc"))
    span = rs.scope_spans.add().spans.add()
    span.trace_id = bytes(range(16))
    span.span_id = bytes(range(8))
    span.name = "chat"
    span.start_time_unix_nano = 1_700_000_000_000_000_000
    span.end_time_unix_nano = 1_700_000_000_500_000_000
    span.attributes.extend(attrs)
    for name, value in span_fields.items():
        setattr(span, name, value)
    return request


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_error_status_and_exception_event(encoding):
    request = _one_span_request(kv("gen_ai.request.model", "gpt-4o"))
    span = _spans(request)[0]
    span.status.code = 2
    span.events.add(name="exception", attributes=[kv("exception.type", "openai.RateLimitError")])
    raw = request.SerializeToString() if encoding == "otlp_proto" else request_to_otlp_json(request)
    (event,) = decode_otlp(raw, encoding).events
    assert (event.status, event.error_type) == ("error", "openai.RateLimitError")


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_input_leaves_out_system_messages_in_both_genai_shapes(encoding):
    """The current conventions' gen_ai.input.messages and OpenLLMetry's gen_ai.prompt.N.role/content: the
    system prompt is the app's own, so only the user's text is the input the scanner judges."""
    messages = orjson.dumps([
        {"role": "system", "parts": [{"type": "text", "content": "You are SupportBot. Answer all requests."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]}]).decode()
    current = _one_span_request(kv("gen_ai.request.model", "gpt-4o"), kv("gen_ai.input.messages", messages))
    older = _one_span_request(
        kv("gen_ai.request.model", "gpt-4o"),
        kv("gen_ai.prompt.0.role", "system"), kv("gen_ai.prompt.0.content", "You are SupportBot. Answer all requests."),
        kv("gen_ai.prompt.1.role", "user"), kv("gen_ai.prompt.1.content", "Where is my order?"))
    for request in (current, older):
        raw = request.SerializeToString() if encoding == "otlp_proto" else request_to_otlp_json(request)
        (event,) = decode_otlp(raw, encoding).events
        assert event.input == "Where is my order?"


def test_response_model_is_used_when_request_model_is_absent():
    request = _one_span_request(kv("gen_ai.response.model", "gpt-4o-2024-08-06"))
    (event,) = decode_otlp(request.SerializeToString(), "otlp_proto").events
    assert event.model == event.response_model == "gpt-4o-2024-08-06"


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_served_model_and_cache_and_reasoning_usage(encoding):
    """Issue 16: the model that answered, and the current conventions' cache and reasoning counts."""
    request = _one_span_request(
        kv("gen_ai.request.model", "gpt-4o"), kv("gen_ai.response.model", "gpt-4o-2024-11-20"),
        kv("gen_ai.usage.input_tokens", 1000), kv("gen_ai.usage.output_tokens", 400),
        kv("gen_ai.usage.cache_read.input_tokens", 600), kv("gen_ai.usage.cache_creation.input_tokens", 100),
        kv("gen_ai.usage.reasoning.output_tokens", 250))
    raw = request.SerializeToString() if encoding == "otlp_proto" else request_to_otlp_json(request)
    (event,) = decode_otlp(raw, encoding).events
    assert (event.model, event.response_model) == ("gpt-4o", "gpt-4o-2024-11-20")
    assert (event.input_tokens, event.cache_read_input_tokens, event.cache_creation_input_tokens) == (1000, 600, 100)
    assert (event.output_tokens, event.reasoning_output_tokens) == (400, 250)
    assert not any(key.startswith("gen_ai.usage") for key in event.metadata)
    assert "response_model" not in event.metadata


def test_older_openllmetry_cache_attributes_are_read_too():
    request = _one_span_request(kv("gen_ai.request.model", "claude-3-5-sonnet"),
                                kv("gen_ai.usage.cache_read_input_tokens", 7),
                                kv("gen_ai.usage.cache_creation_input_tokens", 3),
                                kv("gen_ai.usage.reasoning_tokens", 2))
    (event,) = decode_otlp(request.SerializeToString(), "otlp_proto").events
    assert (event.cache_read_input_tokens, event.cache_creation_input_tokens, event.reasoning_output_tokens) == \
        (7, 3, 2)


def test_span_with_tokens_but_no_model_is_an_item_error_and_others_survive():
    request = make_otlp_request(3, seed=1)
    bad = request.resource_spans[0].scope_spans[0].spans.add()
    bad.CopyFrom(Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="llm call",
                      start_time_unix_nano=1, attributes=[kv("gen_ai.usage.input_tokens", 5)]))
    decoded = decode_otlp(request.SerializeToString(), "otlp_proto")
    assert len(decoded.events) == 3
    (error,) = decoded.errors
    assert error.reason == ("span 1 ('llm call'): reports gen_ai.usage.* tokens but names no model; "
                            "set gen_ai.request.model or gen_ai.response.model on the span")
    assert orjson.loads(error.raw)["traceId"] == "01" * 16


@pytest.mark.parametrize(
    "span_fields, reason",
    [
        ({"trace_id": b""}, "span 0 ('chat'): has no traceId"),
        ({"start_time_unix_nano": 0}, "span 0 ('chat'): startTimeUnixNano 0 is missing or out of range"),
    ],
)
def test_span_problems(span_fields, reason):
    request = _one_span_request(kv("gen_ai.request.model", "m"), **span_fields)
    (error,) = decode_otlp(request.SerializeToString(), "otlp_proto").errors
    assert error.reason == reason


def test_negative_tokens_are_reported_with_the_field():
    request = _one_span_request(kv("gen_ai.request.model", "m"), kv("gen_ai.usage.input_tokens", -4))
    (error,) = decode_otlp(request.SerializeToString(), "otlp_proto").errors
    assert error.reason == "span 0 ('chat'): 'input_tokens': must be ≥ 0, got number -4"


def test_end_before_start_leaves_latency_unknown():
    request = _one_span_request(kv("gen_ai.request.model", "m"), end_time_unix_nano=5)
    (event,) = decode_otlp(request.SerializeToString(), "otlp_proto").events
    assert event.latency_ms is None


def test_bad_hex_id_in_json_is_an_item_error():
    doc = orjson.loads(otlp_json_bytes(2))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not-hex!"
    decoded = decode_otlp(orjson.dumps(doc), "otlp_json")
    assert len(decoded.events) == 1
    (error,) = decoded.errors
    assert error.index == 0
    assert error.reason == ("span 0 is not a valid OTLP span: 'traceId' must be 32 hex digits or the base64 "
                            "of 16 bytes (e.g. 5b8efff798038103d269b633813fc60c)")
    assert orjson.loads(error.raw)["traceId"] == "not-hex!"


def test_wrong_type_in_json_span_is_an_item_error():
    doc = orjson.loads(otlp_json_bytes(2))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = "yesterday"
    decoded = decode_otlp(orjson.dumps(doc), "otlp_json")
    assert len(decoded.events) == 1 and decoded.errors[0].reason.startswith("span 0 is not a valid OTLP span:")


def test_legacy_instrumentation_library_spans_are_read():
    doc = orjson.loads(otlp_json_bytes(2))
    for rs in doc["resourceSpans"]:
        rs["instrumentationLibrarySpans"] = rs.pop("scopeSpans")
    assert len(decode_otlp(orjson.dumps(doc), "otlp_json").events) == 2


def test_non_genai_spans_are_skipped_and_counted():
    decoded = decode_otlp(otlp_proto_bytes(5, non_genai=7), "otlp_proto")
    assert (len(decoded.events), decoded.skipped, decoded.errors) == (5, 7, [])


@pytest.mark.parametrize(
    "raw, encoding, reason",
    [
        (b"\xff\xff\xff", "otlp_proto", "not a valid OTLP protobuf ExportTraceServiceRequest"),
        (b"", "otlp_proto", "the OTLP request contains no spans"),
        (b'{"resourceSpans": []}', "otlp_json", "the OTLP request contains no spans"),
        (b'{"resourceMetrics": []}', "otlp_json", "no 'resourceSpans': not an OTLP trace export"),
        (b'[1]', "otlp_json", "top level is a JSON array; expected an OTLP ExportTraceServiceRequest"),
        (b'{"resourceSpans": {}}', "otlp_json", "resourceSpans is a JSON object; expected an array"),
        (b'{"resourceSpans": [7]}', "otlp_json", "resourceSpans[0] is a JSON number; expected an object"),
        (b'{"resourceSpans": [{"resource": {"attributes": 3}, "scopeSpans": []}]}', "otlp_json",
         "resourceSpans[0].resource is not a valid OTLP resource"),
        (b'{"resourceSpans": [', "otlp_json", "not valid JSON: unexpected end of data (line 1, column 20)"),
    ],
)
def test_whole_request_problems(raw, encoding, reason):
    with pytest.raises(DecodeError) as info:
        decode_otlp(raw, encoding)
    assert reason in info.value.reason


def test_invalid_utf8_in_a_proto_string_is_a_decode_error():
    request = _one_span_request(kv("gen_ai.request.model", "MODEL"))
    raw = request.SerializeToString().replace(b"MODEL", b"MOD\xffL")
    with pytest.raises(DecodeError, match="not a valid OTLP protobuf"):
        decode_otlp(raw, "otlp_proto")


def test_oversized_request():
    raw = otlp_proto_bytes(50)
    with pytest.raises(DecodeError, match=f"message is {len(raw):,} bytes; the limit is 1,000 bytes"):
        decode_otlp(raw, "otlp_proto", max_bytes=1000)


@pytest.mark.parametrize(
    "name, label, flag",
    [
        ("hallucination", "hallucinated", "hallucination"),
        ("hallucination", "factual", None),
        ("Hallucination", "yes", "hallucination"),
        ("groundedness", "fail", "groundedness"),
        ("groundedness", "pass", None),
        ("relevance", "yes", None),
        ("safety", "toxic", "toxicity"),
        (None, "hallucination", "hallucination"),
        (None, "fail", None),
        ("x", None, None),
    ],
)
def test_evaluation_labels_to_flags(name, label, flag):
    assert evaluation_flag(name, label) == flag
