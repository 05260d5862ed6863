"""OTLP traces in, trace events out: the GenAI semantic conventions mapped to :class:`TraceEvent`.

The OpenTelemetry Collector's Kafka exporter writes one whole ``ExportTraceServiceRequest`` per
record, as protobuf (``otlp_proto``, the default) or as OTLP/JSON (``otlp_json``: the protobuf JSON
mapping with lowerCamelCase names, trace and span ids in hex rather than base64, 64-bit integers as
strings, enums as integers). This module splits such a request into spans and maps each *model call*
span to one event.

Mapping (first attribute present wins; see ``docs/decoders.md`` for the full table):

=====================  ========================================================================
event field            span attribute (resource attribute where noted)
=====================  ========================================================================
model                  ``gen_ai.request.model``, ``gen_ai.response.model``
provider               ``gen_ai.provider.name``, ``gen_ai.system`` (deprecated)
input_tokens           ``gen_ai.usage.input_tokens``, ``gen_ai.usage.prompt_tokens`` (deprecated)
output_tokens          ``gen_ai.usage.output_tokens``, ``gen_ai.usage.completion_tokens`` (dep.)
cost_usd               ``gen_ai.usage.cost`` (vendor)
prompt_id              ``gen_ai.prompt.name``, ``traceloop.prompt.key`` (vendor)
prompt_version         ``gen_ai.prompt.version``, ``traceloop.prompt.version`` (vendor)
session_id             ``gen_ai.conversation.id``, ``session.id``
user_id                ``enduser.id``, ``user.id``
error_type             ``error.type``, else the ``exception.type`` of an ``exception`` event
input / output         ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (text parts joined),
                       else the indexed ``gen_ai.prompt.N.content`` / ``gen_ai.completion.N.content``
app                    resource ``service.name``
environment            resource ``deployment.environment.name``, ``deployment.environment``
=====================  ========================================================================

``timestamp`` is the span start, ``latency_ms`` is end minus start, ``trace_id``/``span_id`` are hex.
``status`` is ``error`` when the span status code is ERROR or ``error.type`` is set, and ``timeout``
when that error type names a timeout. ``gen_ai.evaluation.result`` span events become
``scores[name] = score.value`` and, by the label, flags (see :func:`evaluation_flag`).

Spans without a model attribute are not model calls (HTTP, database, agent or tool spans): they
are *skipped* and counted in :attr:`Decoded.skipped`. A span that reports ``gen_ai.usage.*`` tokens
but names no model is an error (``ItemError``): its cost cannot be attributed.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Literal

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Error as ProtobufError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from streams.decode import (
    MAX_OTLP_BYTES,
    DecodeError,
    Decoded,
    ItemError,
    _as_bytes,
    check_size,
    json_kind,
    load_json,
    validate_event,
)
from streams.events import MAX_TEXT_CHARS

EVALUATION_EVENT = "gen_ai.evaluation.result"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_EPOCH_S = 32503680000  # year 3000, the same bound as TraceEvent
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

# (event field, attribute names in order of preference)
_SPAN_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("gen_ai.request.model", "gen_ai.response.model")),
    ("provider", ("gen_ai.provider.name", "gen_ai.system")),
    ("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
    ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")),
    ("cost_usd", ("gen_ai.usage.cost",)),
    ("prompt_id", ("gen_ai.prompt.name", "traceloop.prompt.key")),
    ("prompt_version", ("gen_ai.prompt.version", "traceloop.prompt.version")),
    ("session_id", ("gen_ai.conversation.id", "session.id")),
    ("user_id", ("enduser.id", "user.id")),
    ("error_type", ("error.type",)),
)
_RESOURCE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("app", ("service.name",)),
    ("environment", ("deployment.environment.name", "deployment.environment")),
)
_STRING_FIELDS = {"model", "provider", "prompt_id", "prompt_version", "session_id", "user_id",
                  "error_type", "app", "environment"}
_CONSUMED = {name for _, names in _SPAN_FIELDS for name in names} | {
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"}
_MAX_METADATA_ATTRS = 32

# ---- evaluation labels -> flags --------------------------------------------------------------------

#: A label that names a problem is that flag (``hallucinated`` -> ``hallucination``).
PROBLEM_LABELS = {
    "hallucination": "hallucination", "hallucinated": "hallucination",
    "toxic": "toxicity", "toxicity": "toxicity", "unsafe": "unsafe", "jailbreak": "jailbreak",
    "prompt_injection": "prompt_injection", "injection": "prompt_injection",
    "negative_feedback": "negative_feedback", "pii": "pii",
}
#: A failing verdict flags the evaluation's own name (``groundedness`` + ``fail`` -> ``groundedness``).
FAIL_LABELS = {"fail", "failed", "failure", "incorrect", "bad"}
#: "The problem is present" verdicts, which flag the name only when the name is a problem.
PRESENT_LABELS = {"yes", "true", "detected", "present"}


def _norm(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").split())


def evaluation_flag(name: str | None, label: str | None) -> str | None:
    """The flag a ``gen_ai.evaluation.result`` event raises, if any.

    >>> evaluation_flag("faithfulness", "hallucinated"), evaluation_flag("Hallucination", "fail")
    ('hallucination', 'hallucination')
    >>> evaluation_flag("groundedness", "FAIL"), evaluation_flag("toxicity", "yes")
    ('groundedness', 'toxicity')
    >>> evaluation_flag("relevance", "yes"), evaluation_flag("groundedness", "pass")
    (None, None)
    """
    if not isinstance(label, str) or not label.strip():
        return None
    verdict = _norm(label)
    if verdict in PROBLEM_LABELS:
        return PROBLEM_LABELS[verdict]
    subject = _norm(name) if isinstance(name, str) and name.strip() else ""
    if verdict in FAIL_LABELS and subject:
        return PROBLEM_LABELS.get(subject, subject)
    if verdict in PRESENT_LABELS and subject in PROBLEM_LABELS:
        return PROBLEM_LABELS[subject]
    return None


# ---- values --------------------------------------------------------------------------------------


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (bytes as hex text)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return None


def attributes(kvs: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def _first(attrs: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def messages_text(value: Any) -> str | None:
    """Text of a ``gen_ai.input.messages``-style value: JSON text, a list of messages, or plain text.

    >>> messages_text('[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]')
    'hi'
    >>> messages_text([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    'a\\nb'
    """
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.lstrip()
        if not stripped.startswith(("[", "{")):
            return value
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return str(value)
    parts: list[str] = []
    for message in value:
        if isinstance(message, str):
            parts.append(message)
        elif isinstance(message, dict):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            for part in message.get("parts") or ():
                if isinstance(part, dict) and isinstance(part.get("content"), str):
                    parts.append(part["content"])
    return "\n".join(parts)


def _indexed_content(attrs: dict[str, Any], prefix: str) -> str | None:
    # OpenLLMetry's older form: gen_ai.prompt.0.content, gen_ai.prompt.1.content, ...
    found: list[tuple[int, str]] = []
    for key, value in attrs.items():
        if key.startswith(prefix) and key.endswith(".content") and isinstance(value, str):
            middle = key[len(prefix):-len(".content")]
            if middle.isdigit() and len(middle) < 6:
                found.append((int(middle), value))
    return "\n".join(v for _, v in sorted(found)) if found else None


def _clip(text: str | None) -> str | None:
    return text[:MAX_TEXT_CHARS] if text is not None and len(text) > MAX_TEXT_CHARS else text


def _nanos_to_datetime(nanos: int) -> datetime | None:
    if not 0 < nanos < _MAX_EPOCH_S * 1_000_000_000:
        return None
    return _EPOCH + timedelta(microseconds=nanos // 1000)


# ---- span -> event -------------------------------------------------------------------------------


def span_to_event(resource: dict[str, Any], span: Span):
    """Map one span: a :class:`TraceEvent`, ``None`` when it is not a model call, or a reason (str)."""
    attrs = attributes(span.attributes)
    data: dict[str, Any] = {}
    for field, names in _SPAN_FIELDS:
        value = _first(attrs, names)
        if value is not None:
            data[field] = value
    for field, names in _RESOURCE_FIELDS:
        value = _first(resource, names)
        if value is not None:
            data[field] = value
    for field in _STRING_FIELDS & data.keys():
        if isinstance(data[field], (int, float, bool)):
            data[field] = str(data[field])

    if "model" not in data:
        if any(key.startswith("gen_ai.usage.") for key in attrs):
            return ("reports gen_ai.usage.* tokens but names no model; set gen_ai.request.model "
                    "or gen_ai.response.model on the span")
        return None

    if not span.trace_id:
        return "has no traceId"
    data["trace_id"] = span.trace_id.hex()
    if span.span_id:
        data["span_id"] = span.span_id.hex()
    start = _nanos_to_datetime(span.start_time_unix_nano)
    if start is None:
        return f"startTimeUnixNano {span.start_time_unix_nano} is missing or out of range"
    data["timestamp"] = start
    end = span.end_time_unix_nano
    if end and end >= span.start_time_unix_nano:
        data["latency_ms"] = (end - span.start_time_unix_nano) / 1e6

    data["input"] = _clip(messages_text(attrs.get("gen_ai.input.messages"))
                          or _indexed_content(attrs, "gen_ai.prompt."))
    data["output"] = _clip(messages_text(attrs.get("gen_ai.output.messages"))
                           or _indexed_content(attrs, "gen_ai.completion."))

    scores: dict[str, float] = {}
    flags: list[str] = []
    labels: dict[str, str] = {}
    for event in span.events:
        event_attrs = attributes(event.attributes)
        if event.name == EVALUATION_EVENT:
            name = event_attrs.get("gen_ai.evaluation.name")
            score = event_attrs.get("gen_ai.evaluation.score.value")
            label = event_attrs.get("gen_ai.evaluation.score.label")
            if isinstance(name, str) and name and isinstance(score, (int, float)) \
                    and not isinstance(score, bool) and math.isfinite(score):
                scores[name] = float(score)
            if isinstance(name, str) and name and isinstance(label, str):
                labels[name] = label
            flag = evaluation_flag(name if isinstance(name, str) else None,
                                   label if isinstance(label, str) else None)
            if flag and flag not in flags:
                flags.append(flag)
        elif event.name == "exception" and "error_type" not in data:
            exc_type = event_attrs.get("exception.type")
            if isinstance(exc_type, str) and exc_type:
                data["error_type"] = exc_type
    data["scores"] = scores
    data["flags"] = flags

    error_type = data.get("error_type")
    if span.status.code == Status.STATUS_CODE_ERROR or attrs.get("error.type"):
        data["status"] = "error"
        if isinstance(error_type, str) and "timeout" in error_type.lower().replace("_", ""):
            data["status"] = "timeout"
        elif not error_type and span.status.message:
            data["error_type"] = span.status.message[:200]

    metadata: dict[str, Any] = {"span_name": span.name}
    if span.parent_span_id:
        metadata["parent_span_id"] = span.parent_span_id.hex()
    response_model = attrs.get("gen_ai.response.model")
    if response_model and response_model != data["model"]:
        metadata["response_model"] = response_model
    if labels:
        metadata["evaluation_labels"] = labels
    extra = [k for k in attrs if k.startswith("gen_ai.") and k not in _CONSUMED
             and not k.startswith(("gen_ai.prompt.", "gen_ai.completion."))]
    for key in extra[:_MAX_METADATA_ATTRS]:
        metadata[key] = attrs[key]
    data["metadata"] = metadata

    return validate_event({k: v for k, v in data.items() if v is not None})


def _span_label(index: int, span: Span) -> str:
    name = span.name if len(span.name) <= 40 else span.name[:39] + "…"
    return f"span {index} ({name!r})"


# ---- OTLP JSON helpers ------------------------------------------------------------------------------


def span_to_otlp_json(span: Span) -> dict[str, Any]:
    """A span in OTLP/JSON form (hex ids, int64 as strings, enums as integers)."""
    data = json_format.MessageToDict(span, use_integers_for_enums=True)
    for key, value in (("traceId", span.trace_id), ("spanId", span.span_id),
                       ("parentSpanId", span.parent_span_id)):
        if value:
            data[key] = value.hex()
    for link_json, link in zip(data.get("links", []), span.links):
        if link.trace_id:
            link_json["traceId"] = link.trace_id.hex()
        if link.span_id:
            link_json["spanId"] = link.span_id.hex()
    return data


def request_to_otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """Serialise a request the way the Collector's ``otlp_json`` encoding does."""
    data = json_format.MessageToDict(request, use_integers_for_enums=True)
    for rs_json, rs in zip(data.get("resourceSpans", []), request.resource_spans):
        for ss_json, ss in zip(rs_json.get("scopeSpans", []), rs.scope_spans):
            ss_json["spans"] = [span_to_otlp_json(span) for span in ss.spans]
    return orjson.dumps(data)


def _hex_to_base64(span: dict[str, Any]) -> None:
    """OTLP/JSON ids are hex; protobuf's JSON mapping expects base64. Convert in place."""
    targets = [span] + [link for link in span.get("links") or () if isinstance(link, dict)]
    for target in targets:
        for key in _ID_FIELDS:
            value = target.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise ValueError(f"'{key}' must be hex text, got {json_kind(value)}")
            if len(value) % 2 or not set(value) <= _HEX_DIGITS:
                raise ValueError(f"'{key}' must be hex text (e.g. 5b8efff798038103d269b633813fc60c)")
            target[key] = base64.b64encode(bytes.fromhex(value)).decode()


def _parse_error(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 100 else text[:99] + "…"


# ---- decoding ---------------------------------------------------------------------------------------


def _decode_proto(raw: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(raw)
    except (ProtobufDecodeError, ProtobufError, ValueError, RecursionError) as exc:
        detail = str(exc).rsplit(":", 1)[-1].strip()[:80] or "cannot parse"
        raise DecodeError(
            f"not a valid OTLP protobuf ExportTraceServiceRequest ({detail}); check that the "
            "Collector's Kafka exporter encoding matches this topic's format"
        ) from None


def _collect(resource: dict[str, Any], spans: Iterable[tuple[Span | ItemError, int]], out: Decoded):
    for span, index in spans:
        if isinstance(span, ItemError):
            out.errors.append(span)
            continue
        result = span_to_event(resource, span)
        if result is None:
            out.skipped += 1
        elif isinstance(result, str):
            raw = _dump(span_to_otlp_json(span))
            out.errors.append(ItemError(index, f"{_span_label(index, span)}: {result}", raw))
        else:
            out.events.append(result)


def _dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, ValueError):
        return b""


def _from_proto(raw: bytes) -> Decoded:
    request = _decode_proto(raw)
    out = Decoded()
    index = 0
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        pairs = []
        for ss in rs.scope_spans:
            for span in ss.spans:
                pairs.append((span, index))
                index += 1
        _collect(resource, pairs, out)
    if index == 0:
        raise DecodeError("the OTLP request contains no spans")
    return out


def _list_at(container: dict[str, Any], where: str, *keys: str) -> list[Any]:
    for key in keys:
        if key in container:
            value = container[key]
            if value is None:
                return []
            if not isinstance(value, list):
                path = f"{where}.{key}" if where else key
                raise DecodeError(f"{path} is a JSON {json_kind(value)}; expected an array")
            return value
    return []


def _from_json(raw: bytes) -> Decoded:
    document = load_json(raw)
    if not isinstance(document, dict):
        raise DecodeError(f"top level is a JSON {json_kind(document)}; expected an OTLP "
                          "ExportTraceServiceRequest object with 'resourceSpans'")
    if "resourceSpans" not in document:
        raise DecodeError("no 'resourceSpans': not an OTLP trace export (is this a metrics or logs "
                          "topic, or tracewatch's own JSON format?)")
    out = Decoded()
    index = 0
    for r, rs in enumerate(_list_at(document, "", "resourceSpans")):
        where = f"resourceSpans[{r}]"
        if not isinstance(rs, dict):
            raise DecodeError(f"{where} is a JSON {json_kind(rs)}; expected an object")
        resource_json = rs.get("resource") or {}
        resource_msg = Resource()
        try:
            if not isinstance(resource_json, dict):
                raise json_format.ParseError(f"expected an object, got {json_kind(resource_json)}")
            json_format.ParseDict(resource_json, resource_msg, ignore_unknown_fields=True)
        except (json_format.ParseError, ProtobufError, ValueError, TypeError, RecursionError) as exc:
            raise DecodeError(f"{where}.resource is not a valid OTLP resource: {_parse_error(exc)}") \
                from None
        resource = attributes(resource_msg.attributes)
        pairs: list[tuple[Span | ItemError, int]] = []
        for s, ss in enumerate(_list_at(rs, where, "scopeSpans", "instrumentationLibrarySpans")):
            if not isinstance(ss, dict):
                raise DecodeError(f"{where}.scopeSpans[{s}] is a JSON {json_kind(ss)}; expected an object")
            for span_json in _list_at(ss, f"{where}.scopeSpans[{s}]", "spans"):
                pairs.append((_parse_span(span_json, index), index))
                index += 1
        _collect(resource, pairs, out)
    if index == 0:
        raise DecodeError("the OTLP request contains no spans")
    return out


def _parse_span(span_json: Any, index: int) -> Span | ItemError:
    original = _dump(span_json)
    if not isinstance(span_json, dict):
        return ItemError(index, f"span {index} is a JSON {json_kind(span_json)}; expected an object",
                         original)
    span = Span()
    try:
        _hex_to_base64(span_json)
        json_format.ParseDict(span_json, span, ignore_unknown_fields=True)
    except (json_format.ParseError, ProtobufError, ValueError, TypeError, RecursionError) as exc:
        return ItemError(index, f"span {index} is not a valid OTLP span: {_parse_error(exc)}", original)
    return span


def decode_otlp(
    raw: bytes, encoding: Literal["otlp_proto", "otlp_json"], *, max_bytes: int = MAX_OTLP_BYTES
) -> Decoded:
    """Decode one ``ExportTraceServiceRequest`` into events, per-span errors and a skip count.

    ``ItemError.index`` is the span's position in the request (counting across resources and
    scopes); ``ItemError.raw`` is that span as OTLP/JSON.
    """
    raw = _as_bytes(raw)
    check_size(raw, max_bytes)
    if encoding == "otlp_proto":
        return _from_proto(raw)
    if encoding == "otlp_json":
        return _from_json(raw)
    raise ValueError(f"unknown OTLP encoding {encoding!r}; expected 'otlp_proto' or 'otlp_json'")
