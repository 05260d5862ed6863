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

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from traces.decoded import (
    validate_event,
)
from traces.events import MAX_TEXT_CHARS
from traces.messages import is_app_role, messages_text

EVALUATION_EVENT = "gen_ai.evaluation.result"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_EPOCH_S = 32503680000  # year 3000, the same bound as TraceEvent
#: The id fields of an OTLP/JSON span (and of its links) and their size in bytes.

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


def _indexed_content(found: list[tuple[int, str]], app: set[int] | frozenset[int] = frozenset()) -> str | None:
    """The parts in order, without those whose role is the app's own (``traces.messages``)."""
    return "\n".join(v for n, v in sorted(found) if n not in app) if found else None


def _content_index(key: str, prefix: str, suffix: str = ".content") -> int | None:
    """N of OpenLLMetry's older ``gen_ai.prompt.N.content`` / ``gen_ai.completion.N.content`` (``.role``)."""
    if key.endswith(suffix):
        middle = key[len(prefix):-len(suffix)]
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


def _texts(attrs: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Set ``input`` and ``output`` from the messages or the indexed prompt and completion parts, in one
    pass over the gen_ai.* keys; the keys no field consumes (kept in metadata)."""
    prompts: list[tuple[int, str]] = []
    app_parts: set[int] = set()  # prompt parts of role system / developer
    completions: list[tuple[int, str]] = []
    extra: list[str] = []
    for key, value in attrs.items():
        # (no consumed key is an indexed gen_ai.prompt.N.content one, so testing it first is safe)
        if key in _CONSUMED or not key.startswith("gen_ai."):
            continue
        if key.startswith(_PROMPT):
            if isinstance(value, str) and (n := _content_index(key, _PROMPT)) is not None:
                prompts.append((n, value))
            elif is_app_role(value) and (n := _content_index(key, _PROMPT, ".role")) is not None:
                app_parts.add(n)
        elif key.startswith(_COMPLETION):
            if isinstance(value, str) and (n := _content_index(key, _COMPLETION)) is not None:
                completions.append((n, value))
        else:
            extra.append(key)
    get = attrs.get
    text = _clip(messages_text(get("gen_ai.input.messages")) or _indexed_content(prompts, app_parts))
    if text is not None:
        data["input"] = text
    text = _clip(messages_text(get("gen_ai.output.messages")) or _indexed_content(completions))
    if text is not None:
        data["output"] = text
    return extra


def _event_data(events: Iterable[tuple[str, dict[str, Any]]], data: dict[str, Any]) -> dict[str, str]:
    """Set ``scores`` and ``flags`` from the evaluation events and ``error_type`` from the first exception
    event; the evaluation labels (kept in metadata)."""
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
    return labels


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

    extra = _texts(attrs, data)
    labels = _event_data(events, data)

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


def span_label(index: int, name: str) -> str:
    name = name if len(name) <= 40 else name[:39] + "…"
    return f"span {index} ({name!r})"


