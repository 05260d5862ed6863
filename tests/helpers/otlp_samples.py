"""Deterministic OTLP trace batches, as the OpenTelemetry Collector's Kafka exporter would write them.

``make_otlp_request(n_spans, seed)`` builds an ``ExportTraceServiceRequest`` with ``n_spans`` GenAI
model-call spans spread over two services and two instrumentation scopes. Every span has a model,
input and output tokens and a positive duration, so it decodes to exactly one event. The spans mix
current, deprecated and vendor attribute names (``gen_ai.system``, ``gen_ai.usage.prompt_tokens``,
``gen_ai.usage.cost``, ``traceloop.prompt.*``), some carry ``gen_ai.evaluation.result`` events and
some have ERROR status. ``non_genai`` adds that many plain HTTP spans, which decoders skip.

>>> req = make_otlp_request(10, seed=1)
>>> sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
10
>>> otlp_proto_bytes(10, seed=1) == req.SerializeToString()
True
>>> otlp_json_bytes(3)[:40]
b'{"resourceSpans":[{"resource":{"attribut'
"""

from __future__ import annotations

import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from traces.otlp_json import request_to_otlp_json

#: (request model, response model, provider)
MODELS = [
    ("gpt-4o", "gpt-4o-2024-08-06", "openai"),
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai"),
    ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20241022", "anthropic"),
    ("gemini-1.5-flash", "gemini-1.5-flash-002", "gcp.gemini"),
]
SERVICES = [("support-bot", "production"), ("search-summaries", "staging")]
BASE_TIME_NS = 1_700_000_000_000_000_000


def kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _genai_span(rng: random.Random, i: int, trace_id: bytes) -> Span:
    request_model, response_model, provider = MODELS[i % len(MODELS)]
    start = BASE_TIME_NS + i * 1_000_000_000 + rng.randrange(1_000_000)
    latency_ns = rng.randrange(50, 5000) * 1_000_000
    input_tokens, output_tokens = rng.randrange(10, 4000), rng.randrange(1, 1000)
    deprecated = i % 3 == 1  # older instrumentations
    attrs = [
        kv("gen_ai.operation.name", "chat"),
        kv("gen_ai.request.model", request_model),
        kv("gen_ai.response.model", response_model),
        kv("gen_ai.system" if deprecated else "gen_ai.provider.name", provider),
        kv("gen_ai.usage.prompt_tokens" if deprecated else "gen_ai.usage.input_tokens", input_tokens),
        kv("gen_ai.usage.completion_tokens" if deprecated else "gen_ai.usage.output_tokens",
           output_tokens),
        kv("gen_ai.conversation.id", f"conv-{i % 7}"),
        kv("enduser.id" if i % 2 else "user.id", f"user-{i % 11}"),
        kv("traceloop.prompt.key", "answer-question"),
        kv("traceloop.prompt.version", str(1 + i % 3)),
    ]
    if i % 5 == 0:
        attrs.append(kv("gen_ai.usage.cost", round(rng.uniform(0.0001, 0.05), 6)))
    span = Span(
        trace_id=trace_id,
        span_id=rng.randbytes(8),
        name=f"chat {request_model}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + latency_ns,
        attributes=attrs,
    )
    if i % 4 == 0:
        label = "hallucinated" if i % 8 == 0 else "factual"
        span.events.add(
            name="gen_ai.evaluation.result",
            time_unix_nano=start + latency_ns,
            attributes=[kv("gen_ai.evaluation.name", "hallucination"),
                        kv("gen_ai.evaluation.score.value", round(rng.random(), 3)),
                        kv("gen_ai.evaluation.score.label", label)],
        )
    if i % 10 == 9:
        span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="rate limited"))
        span.attributes.append(kv("error.type", "RateLimitError"))
    return span


def make_otlp_request(n_spans: int, seed: int = 0, *, non_genai: int = 0) -> ExportTraceServiceRequest:
    """``n_spans`` GenAI model-call spans (+ ``non_genai`` HTTP spans) in one export request."""
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    scopes = {}
    for service, environment in SERVICES:
        rs = request.resource_spans.add()
        rs.resource.attributes.extend([kv("service.name", service),
                                       kv("deployment.environment.name", environment)])
        for scope_name in ("opentelemetry.instrumentation.openai", "openllmetry"):
            ss = rs.scope_spans.add()
            ss.scope.name = scope_name
            ss.scope.version = "0.40.0"
            scopes[len(scopes)] = ss
    for i in range(n_spans):
        trace_id = rng.randbytes(16)
        scopes[i % len(scopes)].spans.append(_genai_span(rng, i, trace_id))
    for j in range(non_genai):
        start = BASE_TIME_NS + j * 1_000_000
        scopes[j % len(scopes)].spans.append(Span(
            trace_id=rng.randbytes(16), span_id=rng.randbytes(8), name="GET /healthz",
            kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=start, end_time_unix_nano=start + 10**6,
            attributes=[kv("http.request.method", "GET"), kv("http.response.status_code", 200)],
        ))
    return request


def otlp_proto_bytes(n: int, seed: int = 0, **kw) -> bytes:
    """The request as the Kafka exporter's ``otlp_proto`` encoding writes it."""
    return make_otlp_request(n, seed, **kw).SerializeToString()


def otlp_json_bytes(n: int, seed: int = 0, **kw) -> bytes:
    """The request as the Kafka exporter's ``otlp_json`` encoding writes it (hex ids, int64 strings)."""
    return request_to_otlp_json(make_otlp_request(n, seed, **kw))
