"""OTLP traces in, trace events out: the GenAI semantic conventions mapped to :class:`TraceEvent`.

The OpenTelemetry Collector's Kafka exporter writes one whole ``ExportTraceServiceRequest`` per
record, as protobuf (``otlp_proto``, the default) or as OTLP/JSON (``otlp_json``: the protobuf JSON
mapping with lowerCamelCase names, trace and span ids in hex rather than base64, 64-bit integers as
strings, enums as integers; ids in base64, as protobuf's own JSON mapping writes bytes and some tools
send them, are read too: :func:`otlp_id`). This module splits such a request into spans and maps each
*model call* span to one event.

Mapping (first attribute present wins; see ``docs/decoders.md`` for the full table):

===========================  ====================================================================
event field                  span attribute (resource attribute where noted)
===========================  ====================================================================
model                        ``gen_ai.request.model``, ``gen_ai.response.model``
response_model               ``gen_ai.response.model`` (the model that answered)
provider                     ``gen_ai.provider.name``, ``gen_ai.system`` (deprecated)
input_tokens                 ``gen_ai.usage.input_tokens``, ``gen_ai.usage.prompt_tokens`` (deprecated)
output_tokens                ``gen_ai.usage.output_tokens``, ``gen_ai.usage.completion_tokens`` (dep.)
cache_read_input_tokens      ``gen_ai.usage.cache_read.input_tokens`` (part of input_tokens)
cache_creation_input_tokens  ``gen_ai.usage.cache_creation.input_tokens`` (part of input_tokens)
reasoning_output_tokens      ``gen_ai.usage.reasoning.output_tokens`` (part of output_tokens)
cost_usd                     ``gen_ai.usage.cost`` (vendor)
prompt_id                    ``gen_ai.prompt.name``, ``traceloop.prompt.key`` (vendor)
prompt_version               ``gen_ai.prompt.version``, ``traceloop.prompt.version`` (vendor)
session_id                   ``gen_ai.conversation.id``, ``session.id``
user_id                      ``enduser.id``, ``user.id``
error_type                   ``error.type``, else the ``exception.type`` of an ``exception`` event
input / output               ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (text parts joined),
                             else the indexed ``gen_ai.prompt.N.content`` / ``gen_ai.completion.N.content``
app                          resource ``service.name``
environment                  resource ``deployment.environment.name``, ``deployment.environment``
===========================  ====================================================================

``timestamp`` is the span start, ``latency_ms`` is end minus start, ``trace_id``/``span_id`` are hex.
Ids and versions given as numbers (``intValue`` 4, ``doubleValue`` 4.0) become text ("4") in
:class:`TraceEvent`, as in tracewatch's own JSON.
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
from streams.events import MAX_TEXT_CHARS, validate_common_many

EVALUATION_EVENT = "gen_ai.evaluation.result"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_EPOCH_S = 32503680000  # year 3000, the same bound as TraceEvent
#: The id fields of an OTLP/JSON span (and of its links) and their size in bytes.
_ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")

# (event field, attribute names in order of preference)
_SPAN_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("gen_ai.request.model", "gen_ai.response.model")),
    ("response_model", ("gen_ai.response.model",)),
    ("provider", ("gen_ai.provider.name", "gen_ai.system")),
    ("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
    ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")),
    # (the current conventions' names first, then OpenLLMetry's older ones)
    ("cache_read_input_tokens", ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")),
    ("cache_creation_input_tokens", ("gen_ai.usage.cache_creation.input_tokens",
                                     "gen_ai.usage.cache_creation_input_tokens")),
    ("reasoning_output_tokens", ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")),
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
#: Fields whose numeric or boolean attribute values become text here. (Ids and versions are left to
#: TraceEvent, which reads numbers as text the same way for every format and refuses booleans.)
_TEXT_FIELDS = {"error_type"}
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
            message_parts = message.get("parts")
            if isinstance(message_parts, list):  # (iterating text or an object found nothing anyway)
                for part in message_parts:
                    if isinstance(part, dict) and isinstance(part.get("content"), str):
                        parts.append(part["content"])
    return "\n".join(parts)


def _indexed_content(found: list[tuple[int, str]]) -> str | None:
    return "\n".join(v for _, v in sorted(found)) if found else None


def _content_index(key: str, prefix: str) -> int | None:
    """N of OpenLLMetry's older ``gen_ai.prompt.N.content`` / ``gen_ai.completion.N.content``."""
    if key.endswith(".content"):
        middle = key[len(prefix):-len(".content")]
        # isdecimal, not isdigit: int() rejects digits such as '²'
        if middle.isdecimal() and len(middle) < 6:
            return int(middle)
    return None


def _clip(text: str | None) -> str | None:
    return text[:MAX_TEXT_CHARS] if text is not None and len(text) > MAX_TEXT_CHARS else text


def _nanos_to_datetime(nanos: int) -> datetime | None:
    if not 0 < nanos < _MAX_EPOCH_S * 1_000_000_000:
        return None
    return _EPOCH + timedelta(microseconds=nanos // 1000)


# ---- span -> event -------------------------------------------------------------------------------

_PROMPT, _COMPLETION = "gen_ai.prompt.", "gen_ai.completion."
#: The span events the mapping reads; the attributes of others are never looked at.
_MAPPED_EVENTS = frozenset({EVALUATION_EVENT, "exception"})


def resource_data(resource: dict[str, Any]) -> dict[str, Any]:
    """The event fields a resource's attributes give (the same for all its spans)."""
    data: dict[str, Any] = {}
    _first_present(resource, _RESOURCE_FIELDS, data)
    return data


def _first_present(attrs: dict[str, Any], fields: tuple[tuple[str, tuple[str, ...]], ...],
                   data: dict[str, Any]) -> None:
    get = attrs.get
    for field, names in fields:
        for key in names:  # the first one present wins
            value = get(key)
            if value is not None and value != "":
                if field in _TEXT_FIELDS and isinstance(value, (int, float, bool)):
                    value = str(value)
                data[field] = value
                break


def span_data(
    resource: dict[str, Any],
    attrs: dict[str, Any],
    events: Iterable[tuple[str, dict[str, Any]]],
    trace_id: bytes,
    span_id: bytes,
    parent_span_id: bytes,
    name: str,
    start: int,
    end: int,
    status_code: int,
    status_message: str,
) -> dict[str, Any] | str | None:
    """Map one span's parts to the data of a :class:`TraceEvent` (still to be validated).

    ``resource`` is :func:`resource_data` of the span's resource. ``None`` when the span is not a
    model call, a reason (str) when it is a bad one. ``events`` are the span's (name, attributes)
    pairs; only those named in ``_MAPPED_EVENTS`` are needed.
    """
    data: dict[str, Any] = {}
    _first_present(attrs, _SPAN_FIELDS, data)
    data.update(resource)
    get = attrs.get

    if "model" not in data:
        if any(key.startswith("gen_ai.usage.") for key in attrs):
            return ("reports gen_ai.usage.* tokens but names no model; set gen_ai.request.model "
                    "or gen_ai.response.model on the span")
        return None

    if not trace_id:
        return "has no traceId"
    data["trace_id"] = trace_id.hex()
    if span_id:
        data["span_id"] = span_id.hex()
    timestamp = _nanos_to_datetime(start)
    if timestamp is None:
        return f"startTimeUnixNano {start} is missing or out of range"
    data["timestamp"] = timestamp
    if end and end >= start:
        data["latency_ms"] = (end - start) / 1e6

    # One pass over the gen_ai.* keys: indexed prompt and completion parts, and the attributes
    # no field consumes, which are kept in metadata.
    prompts: list[tuple[int, str]] = []
    completions: list[tuple[int, str]] = []
    extra: list[str] = []
    for key, value in attrs.items():
        # (no consumed key is an indexed gen_ai.prompt.N.content one, so testing it first is safe)
        if key in _CONSUMED or not key.startswith("gen_ai."):
            continue
        if key.startswith(_PROMPT):
            if isinstance(value, str) and (n := _content_index(key, _PROMPT)) is not None:
                prompts.append((n, value))
        elif key.startswith(_COMPLETION):
            if isinstance(value, str) and (n := _content_index(key, _COMPLETION)) is not None:
                completions.append((n, value))
        else:
            extra.append(key)
    text = _clip(messages_text(get("gen_ai.input.messages")) or _indexed_content(prompts))
    if text is not None:
        data["input"] = text
    text = _clip(messages_text(get("gen_ai.output.messages")) or _indexed_content(completions))
    if text is not None:
        data["output"] = text

    scores: dict[str, float] = {}
    flags: list[str] = []
    labels: dict[str, str] = {}
    for event_name, event_attrs in events:
        if event_name == EVALUATION_EVENT:
            name_ = event_attrs.get("gen_ai.evaluation.name")
            score = event_attrs.get("gen_ai.evaluation.score.value")
            label = event_attrs.get("gen_ai.evaluation.score.label")
            if isinstance(name_, str) and name_ and isinstance(score, (int, float)) \
                    and not isinstance(score, bool) and math.isfinite(score):
                scores[name_] = float(score)
            if isinstance(name_, str) and name_ and isinstance(label, str):
                labels[name_] = label
            flag = evaluation_flag(name_ if isinstance(name_, str) else None,
                                   label if isinstance(label, str) else None)
            if flag and flag not in flags:
                flags.append(flag)
        elif event_name == "exception" and "error_type" not in data:
            exc_type = event_attrs.get("exception.type")
            if isinstance(exc_type, str) and exc_type:
                data["error_type"] = exc_type
    data["scores"] = scores
    data["flags"] = flags

    error_type = data.get("error_type")
    if status_code == Status.STATUS_CODE_ERROR or get("error.type"):
        data["status"] = "error"
        if isinstance(error_type, str) and "timeout" in error_type.lower().replace("_", ""):
            data["status"] = "timeout"
        elif not error_type and status_message:
            data["error_type"] = status_message[:200]

    metadata: dict[str, Any] = {"span_name": name}
    if parent_span_id:
        metadata["parent_span_id"] = parent_span_id.hex()
    if labels:
        metadata["evaluation_labels"] = labels
    for key in extra[:_MAX_METADATA_ATTRS]:
        metadata[key] = attrs[key]
    data["metadata"] = metadata
    return data  # (no value is None: every one is set only when present)


def proto_span_data(resource: dict[str, Any], span: Span) -> dict[str, Any] | str | None:
    """:func:`span_data` for a protobuf span; ``resource`` is :func:`resource_data`."""
    return span_data(
        resource, attributes(span.attributes),
        [(e.name, attributes(e.attributes)) for e in span.events if e.name in _MAPPED_EVENTS],
        span.trace_id, span.span_id, span.parent_span_id, span.name,
        span.start_time_unix_nano, span.end_time_unix_nano, span.status.code, span.status.message,
    )


def span_to_event(resource: dict[str, Any], span: Span):
    """Map one span: a :class:`TraceEvent`, ``None`` when it is not a model call, or a reason (str)."""
    data = proto_span_data(resource_data(resource), span)
    return validate_event(data) if isinstance(data, dict) else data


def _span_label(index: int, name: str) -> str:
    name = name if len(name) <= 40 else name[:39] + "…"
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


def otlp_id(text: str, size: int) -> bytes | None:
    """The bytes of an OTLP/JSON trace (``size`` 16) or span (8) id, or None when it is not one.

    ``2 * size`` hex digits are hex, as OTLP/JSON writes ids. Otherwise base64 of exactly ``size``
    bytes, as protobuf's canonical JSON mapping writes them (standard or URL-safe alphabet, padded or
    not). Otherwise hex of another length, which was always taken (so are such ids in protobuf).

    >>> otlp_id("5B8EFFF798038103D269B633813FC60C", 16).hex(), otlp_id("W47/95gDgQPSabYzgT/GDA==", 16).hex()
    ('5b8efff798038103d269b633813fc60c', '5b8efff798038103d269b633813fc60c')
    >>> otlp_id("7uGbfsPBsXQ", 8).hex(), otlp_id("not-an-id!", 8)
    ('eee19b7ec3c1b174', None)
    """
    n = len(text)
    if n == 2 * size and _HEX_DIGITS.issuperset(text):
        return bytes.fromhex(text)
    # Base64 of `size` bytes is 4 * ceil(size / 3) characters padded, (4 * size + 2) // 3 without.
    if (4 * size + 2) // 3 <= n <= 4 * ((size + 2) // 3):
        try:
            raw = base64.b64decode((text + "=" * (-n % 4)).translate(_URLSAFE_TO_STANDARD), validate=True)
        except ValueError:  # (binascii.Error is one; so is non-ASCII text)
            raw = b""
        if len(raw) == size:
            return raw
    if n % 2 == 0 and _HEX_DIGITS.issuperset(text):
        return bytes.fromhex(text)
    return None


def _ids_to_base64(span: dict[str, Any]) -> None:
    """OTLP/JSON ids may be hex or base64; protobuf's JSON mapping expects base64. Convert in place."""
    targets = [span] + [link for link in span.get("links") or () if isinstance(link, dict)]
    for target in targets:
        for key, size in _ID_BYTES.items():
            value = target.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise ValueError(f"'{key}' must be hex or base64 text, got {json_kind(value)}")
            raw = otlp_id(value, size)
            if raw is None:
                example = "5b8efff798038103d269b633813fc60c"[: 2 * size]
                raise ValueError(f"'{key}' must be {2 * size} hex digits or the base64 of {size} bytes "
                                 f"(e.g. {example})")
            target[key] = base64.b64encode(raw).decode()


def _parse_error(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 100 else text[:99] + "…"


# ---- OTLP JSON, the common shape -----------------------------------------------------------------
#
# json_format.ParseDict costs ~100 µs a span. Spans as the Collector writes them use few forms, so
# those are read straight from the parsed JSON; any other form (snake_case names, enum names, bytes
# values, nulls, links, out-of-range numbers, unknown keys) raises _Uncommon and that span goes through
# ParseDict as before, which also words the reason when it is bad. The walker accepts a span only if
# ParseDict would, and reads the same values from it; tests/unit/decode/test_fast_path.py compares
# the two on generated and mutated spans.


class _Uncommon(Exception):
    """Not the common shape: let json_format decide."""


_INT64 = (-(2**63), 2**63 - 1)
_SPAN_KEYS = frozenset({"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
                        "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount",
                        "events", "droppedEventsCount", "links", "droppedLinksCount", "status"})
_EVENT_KEYS = frozenset({"timeUnixNano", "name", "attributes", "droppedAttributesCount"})
_STATUS_KEYS = frozenset({"code", "message"})
_RESOURCE_KEYS = frozenset({"attributes", "droppedAttributesCount"})
_KV_KEYS = frozenset({"key", "value"})
_VALUES_KEYS = frozenset({"values"})


def _is_decimal_text(text: str) -> bool:
    """ASCII digits only: what both int() and ParseDict read the same way."""
    return text.isascii() and text.isdigit()


def _j_str(value: Any) -> str:
    if type(value) is not str:
        raise _Uncommon
    return value


def _j_uint(value: Any, bits: int) -> int:
    """An unsigned protobuf integer: a JSON number, or (64-bit ones) decimal text."""
    if type(value) is int:
        number = value
    elif type(value) is str and _is_decimal_text(value):
        number = int(value)
    else:
        raise _Uncommon
    if number >> bits:
        raise _Uncommon
    return number


def _j_enum(value: Any, top: int) -> int:
    if type(value) is not int or not 0 <= value <= top:
        raise _Uncommon
    return value


def _j_id(value: Any, size: int) -> bytes:
    if type(value) is not str:
        raise _Uncommon
    if len(value) == 2 * size and _HEX_DIGITS.issuperset(value):  # the Collector's form, inline
        return bytes.fromhex(value)
    raw = otlp_id(value, size)
    if raw is None:
        raise _Uncommon
    return raw


def _j_list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise _Uncommon
    return value


def _j_any(value: Any) -> Any:
    """An OTLP/JSON ``AnyValue`` as :func:`any_value` gives it (bytes values are not common)."""
    if type(value) is not dict or len(value) > 1:
        raise _Uncommon
    if not value:
        return None
    ((kind, inner),) = value.items()
    if kind == "stringValue":
        return _j_str(inner)
    if kind == "intValue":
        if type(inner) is int:
            number = inner
        elif type(inner) is str and _is_decimal_text(inner[1:] if inner[:1] == "-" else inner):
            number = int(inner)
        else:
            raise _Uncommon
        if not _INT64[0] <= number <= _INT64[1]:
            raise _Uncommon
        return number
    if kind == "doubleValue":
        if type(inner) is int or (type(inner) is float and math.isfinite(inner)):
            return float(inner)  # (orjson gives no NaN or infinity; ParseDict rejects them)
        raise _Uncommon
    if kind == "boolValue":
        if type(inner) is bool:
            return inner
        raise _Uncommon
    if kind == "arrayValue" or kind == "kvlistValue":
        if type(inner) is not dict or not inner.keys() <= _VALUES_KEYS:
            raise _Uncommon
        values = _j_list(inner.get("values", []))
        if kind == "arrayValue":
            return [_j_any(v) for v in values]
        return _j_attributes(values)
    raise _Uncommon


def _j_attributes(kvs: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for kv in _j_list(kvs):
        if type(kv) is not dict or kv.keys() != _KV_KEYS:
            raise _Uncommon
        key, value = _j_str(kv["key"]), kv["value"]
        # The most common form, {"stringValue": "..."}, inline; _j_any reads it the same way.
        if type(value) is dict and len(value) == 1 and type(text := value.get("stringValue")) is str:
            attrs[key] = text
        else:
            attrs[key] = _j_any(value)
    return attrs


def _j_resource(resource: dict[str, Any]) -> dict[str, Any]:
    if not resource.keys() <= _RESOURCE_KEYS:
        raise _Uncommon
    if "droppedAttributesCount" in resource:
        _j_uint(resource["droppedAttributesCount"], 32)
    return _j_attributes(resource.get("attributes", []))


def _j_span_data(resource: dict[str, Any], span: Any) -> dict[str, Any] | str | None:
    """:func:`span_data` for an OTLP/JSON span in the common shape; raises _Uncommon otherwise."""
    if type(span) is not dict or not span.keys() <= _SPAN_KEYS:
        raise _Uncommon
    get = span.get
    for key in ("droppedAttributesCount", "droppedEventsCount", "droppedLinksCount", "flags"):
        if key in span:
            _j_uint(span[key], 32)
    if "traceState" in span:
        _j_str(span["traceState"])
    if "kind" in span:
        _j_enum(span["kind"], 5)
    if _j_list(get("links", [])):
        raise _Uncommon
    events = []
    for event in _j_list(get("events", [])):
        if type(event) is not dict or not event.keys() <= _EVENT_KEYS:
            raise _Uncommon
        if "timeUnixNano" in event:
            _j_uint(event["timeUnixNano"], 64)
        if "droppedAttributesCount" in event:
            _j_uint(event["droppedAttributesCount"], 32)
        event_attrs = _j_attributes(event.get("attributes", []))  # checked even when not mapped
        events.append((_j_str(event.get("name", "")), event_attrs))
    status = get("status", {})
    if type(status) is not dict or not status.keys() <= _STATUS_KEYS:
        raise _Uncommon
    return span_data(
        resource, _j_attributes(get("attributes", [])), events,
        _j_id(get("traceId", ""), 16), _j_id(get("spanId", ""), 8), _j_id(get("parentSpanId", ""), 8),
        _j_str(get("name", "")),
        _j_uint(get("startTimeUnixNano", 0), 64), _j_uint(get("endTimeUnixNano", 0), 64),
        _j_enum(status.get("code", 0), 2), _j_str(status.get("message", "")),
    )


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


def _dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, ValueError):
        return b""


#: One span on its way out: its index, what it mapped to (event data, a reason, None for "not a
#: model call", or an ItemError already) and where it came from (a Span, or its OTLP/JSON dict).
_Mapped = tuple[int, "dict[str, Any] | str | ItemError | None", "Span | dict[str, Any] | None"]


def _span_error(index: int, reason: str, source: Span | dict[str, Any] | None) -> ItemError:
    """The ItemError for a span that mapped to a reason; ``raw`` is the span as OTLP/JSON."""
    if isinstance(source, dict):  # read by the walker: parse it for the raw form, as before
        source = _parse_span(source, index)
        if isinstance(source, ItemError):  # cannot happen: the walker only takes what parses
            return ItemError(index, f"span {index}: {reason}", source.raw)
    assert isinstance(source, Span)
    return ItemError(index, f"{_span_label(index, source.name)}: {reason}",
                     _dump(span_to_otlp_json(source)))


def _finish(mapped: list[_Mapped]) -> Decoded:
    """Validate every span's event data (all at once when all are well) and collect the results."""
    datas = [result for _, result, _ in mapped if isinstance(result, dict)]
    events = validate_common_many(datas) if datas else []
    if events is None:  # some span's data is not in the common shape: one by one
        events = [validate_event(data) for data in datas]
    out = Decoded()
    next_event = iter(events).__next__
    for index, result, source in mapped:
        if result is None:
            out.skipped += 1
        elif isinstance(result, ItemError):
            out.errors.append(result)
        elif isinstance(result, str):
            out.errors.append(_span_error(index, result, source))
        else:
            event = next_event()
            if isinstance(event, str):
                out.errors.append(_span_error(index, event, source))
            else:
                out.events.append(event)
    return out


def _from_proto(raw: bytes) -> Decoded:
    request = _decode_proto(raw)
    mapped: list[_Mapped] = []
    index = 0
    for rs in request.resource_spans:
        resource = resource_data(attributes(rs.resource.attributes))
        for ss in rs.scope_spans:
            for span in ss.spans:
                mapped.append((index, proto_span_data(resource, span), span))
                index += 1
    if index == 0:
        raise DecodeError("the OTLP request contains no spans")
    return _finish(mapped)


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


def _json_resource(resource_json: Any, where: str) -> dict[str, Any]:
    if isinstance(resource_json, dict):
        try:
            return _j_resource(resource_json)
        except _Uncommon:
            pass
    resource_msg = Resource()
    try:
        if not isinstance(resource_json, dict):
            raise json_format.ParseError(f"expected an object, got {json_kind(resource_json)}")
        json_format.ParseDict(resource_json, resource_msg, ignore_unknown_fields=True)
    except (json_format.ParseError, ProtobufError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(f"{where}.resource is not a valid OTLP resource: {_parse_error(exc)}") \
            from None
    return attributes(resource_msg.attributes)


def _from_json(raw: bytes) -> Decoded:
    document = load_json(raw)
    if not isinstance(document, dict):
        raise DecodeError(f"top level is a JSON {json_kind(document)}; expected an OTLP "
                          "ExportTraceServiceRequest object with 'resourceSpans'")
    if "resourceSpans" not in document:
        raise DecodeError("no 'resourceSpans': not an OTLP trace export (is this a metrics or logs "
                          "topic, or tracewatch's own JSON format?)")
    mapped: list[_Mapped] = []
    index = 0
    for r, rs in enumerate(_list_at(document, "", "resourceSpans")):
        where = f"resourceSpans[{r}]"
        if not isinstance(rs, dict):
            raise DecodeError(f"{where} is a JSON {json_kind(rs)}; expected an object")
        resource = resource_data(_json_resource(rs.get("resource") or {}, where))
        for s, ss in enumerate(_list_at(rs, where, "scopeSpans", "instrumentationLibrarySpans")):
            if not isinstance(ss, dict):
                raise DecodeError(f"{where}.scopeSpans[{s}] is a JSON {json_kind(ss)}; expected an object")
            for span_json in _list_at(ss, f"{where}.scopeSpans[{s}]", "spans"):
                mapped.append(_json_span(resource, span_json, index))
                index += 1
    if index == 0:
        raise DecodeError("the OTLP request contains no spans")
    return _finish(mapped)


def _json_span(resource: dict[str, Any], span_json: Any, index: int) -> _Mapped:
    try:
        return index, _j_span_data(resource, span_json), span_json
    except _Uncommon:
        pass
    span = _parse_span(span_json, index)
    if isinstance(span, ItemError):
        return index, span, None
    return index, proto_span_data(resource, span), span


def _parse_span(span_json: Any, index: int) -> Span | ItemError:
    original = _dump(span_json)
    if not isinstance(span_json, dict):
        return ItemError(index, f"span {index} is a JSON {json_kind(span_json)}; expected an object",
                         original)
    span = Span()
    try:
        _ids_to_base64(span_json)
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
