"""The OTLP/JSON reader: an ``otlp_json`` request read into spans, and spans written as OTLP/JSON.

OTLP/JSON is the protobuf JSON mapping with lowerCamelCase names, trace and span ids in hex rather
than base64, 64-bit integers as strings and enums as integers; ids in base64, as protobuf's own JSON
mapping writes bytes and some tools send them, are read too (:func:`otlp_id`). What a span *means*
is :mod:`traces.otlp_mapping`'s business; this module only reads the shape.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Error as ProtobufError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traces.decoded import (
    DecodeError,
    ItemError,
    json_kind,
    load_json,
)
from traces.otlp_mapping import attributes, proto_span_data, resource_data, span_data

_ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")

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


def dump_or_empty(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, ValueError):
        return b""


#: One span on its way out: its index, what it mapped to (event data, a reason, None for "not a
#: model call", or an ItemError already) and where it came from (a Span, or its OTLP/JSON dict).
Mapped = tuple[int, "dict[str, Any] | str | ItemError | None", "Span | dict[str, Any] | None"]


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


def json_spans(raw: bytes) -> list[Mapped]:
    """Every span of an OTLP/JSON request, mapped (:func:`traces.otlp.decode_otlp` finishes them)."""
    document = load_json(raw)
    if not isinstance(document, dict):
        raise DecodeError(f"top level is a JSON {json_kind(document)}; expected an OTLP "
                          "ExportTraceServiceRequest object with 'resourceSpans'")
    if "resourceSpans" not in document:
        raise DecodeError("no 'resourceSpans': not an OTLP trace export (is this a metrics or logs "
                          "topic, or tracewatch's own JSON format?)")
    mapped: list[Mapped] = []
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
    return mapped


def _json_span(resource: dict[str, Any], span_json: Any, index: int) -> Mapped:
    try:
        return index, _j_span_data(resource, span_json), span_json
    except _Uncommon:
        pass
    span = parse_span(span_json, index)
    if isinstance(span, ItemError):
        return index, span, None
    return index, proto_span_data(resource, span), span


def parse_span(span_json: Any, index: int) -> Span | ItemError:
    original = dump_or_empty(span_json)
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


