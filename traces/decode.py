"""Decoders: bytes from a Kafka record in, trace events (and reasons for what was bad) out.

Three wire formats reach tracewatch (docs/architecture.md, "The trace event"):

- ``json``: tracewatch's own format, one event object or an array of them per message;
- ``otlp_proto`` and ``otlp_json``: one OTLP ``ExportTraceServiceRequest`` per message, as the
  OpenTelemetry Collector's Kafka exporter writes it (see :mod:`traces.otlp`).

Input is attacker-controlled, so every decoder has exactly two ways of saying "bad":

- :class:`DecodeError` — the whole message is unusable (not JSON, oversized, invalid UTF-8, bad
  protobuf, wrong top-level shape). The ingest agent dead-letters the original bytes.
- :class:`ItemError` in :attr:`Decoded.errors` — one item of a batch is bad; the others still decode.
  ``index`` is the item's position in the array (or the span's position in the OTLP request);
  ``None`` when the message was a single event object.

Nothing else escapes: a hypothesis test feeds arbitrary bytes to every decoder. Reasons are written
for a person and never echo more than a few dozen characters of the input.

>>> d = decode_json(b'[{"trace_id": "t1", "timestamp": 1700000000, "model": "gpt-4o"},'
...                 b' {"trace_id": "t2", "timestamp": 1700000000, "latency_ms": "fast"}]')
>>> [e.model for e in d.events], [(x.index, x.reason) for x in d.errors]
(['gpt-4o'], [(1, "missing required field 'model'; 'latency_ms': must be a number, got string 'fast'")])
>>> decode_json(b'{"trace_id": "t1",')
Traceback (most recent call last):
...
traces.decoded.DecodeError: not valid JSON: unexpected end of data (line 1, column 19)
"""

from __future__ import annotations

from typing import Any

import orjson

from traces.events import validate_common, validate_common_many

from traces.decoded import (
    FORMATS, MAX_BATCH_ITEMS, MAX_JSON_BYTES, DecodeError, Decoded, Format, ItemError,
    _as_bytes, check_size, json_kind, load_json, validate_event,
)
from traces.otlp import decode_otlp

__all__ = ["DecodeError", "Decoded", "ItemError", "FORMATS", "decode", "decode_json", "decode_otlp"]


def _item_raw(item: Any) -> bytes:
    try:
        return orjson.dumps(item)
    except (TypeError, ValueError):
        return b""


def decode_json(
    raw: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_items: int = MAX_BATCH_ITEMS
) -> Decoded:
    """Decode tracewatch's native JSON: one event object, or a non-empty array of them."""
    raw = _as_bytes(raw)
    if len(raw) > max_bytes:
        check_size(raw, max_bytes)
    value = load_json(raw)
    if type(value) is dict:
        event = validate_common(value)
        if event is not None:
            return Decoded(events=[event])
        result = validate_event(value)
        if isinstance(result, str):
            return Decoded(errors=[ItemError(None, result, raw)])
        return Decoded(events=[result])
    if not isinstance(value, list):
        raise DecodeError(
            f"top level is a JSON {json_kind(value)}; expected an object (one event) "
            "or an array of objects (a batch)"
        )
    if not value:
        raise DecodeError("empty array: a batch must contain at least one event object")
    if len(value) > max_items:
        raise DecodeError(f"batch has {len(value):,} items; the limit is {max_items:,} per message")
    events = validate_common_many(value)
    if events is not None:  # the common case: every item has the common shape
        return Decoded(events=events)
    return _decode_items(value)


def _decode_items(items: list[Any]) -> Decoded:
    """Item by item, so that each bad one gets its own reason and index."""
    decoded = Decoded()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            decoded.errors.append(
                ItemError(index, f"item {index} is a JSON {json_kind(item)}; expected an event object",
                          _item_raw(item))
            )
            continue
        result = validate_event(item)
        if isinstance(result, str):
            decoded.errors.append(ItemError(index, result, _item_raw(item)))
        else:
            decoded.events.append(result)
    return decoded


# ---- dispatch ------------------------------------------------------------------------------------


def decode(raw: bytes, fmt: Format, **kw: Any) -> Decoded:
    """Decode ``raw`` in wire format ``fmt`` (``json``, ``otlp_proto`` or ``otlp_json``)."""
    if fmt == "json":
        return decode_json(raw, **kw)
    if fmt in ("otlp_proto", "otlp_json"):
        return decode_otlp(raw, fmt, **kw)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
