"""OTLP traces in, trace events out: one ``ExportTraceServiceRequest`` per Kafka record.

The OpenTelemetry Collector's Kafka exporter writes one whole request per record, as protobuf
(``otlp_proto``, the default) or as OTLP/JSON (``otlp_json``, read by :mod:`traces.otlp_json`). Each
*model call* span becomes one event as :mod:`traces.otlp_mapping` says; spans that are not model
calls are skipped and counted.
"""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Error as ProtobufError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traces.decoded import (
    MAX_OTLP_BYTES,
    Decoded,
    DecodeError,
    ItemError,
    _as_bytes,
    check_size,
    validate_event,
)
from traces.events import validate_common_many
from traces.otlp_json import Mapped, dump_or_empty, parse_span, json_spans, span_to_otlp_json
from traces.otlp_mapping import span_label, attributes, proto_span_data, resource_data

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



def _span_error(index: int, reason: str, source: Span | dict[str, Any] | None) -> ItemError:
    """The ItemError for a span that mapped to a reason; ``raw`` is the span as OTLP/JSON."""
    if isinstance(source, dict):  # read by the walker: parse it for the raw form, as before
        source = parse_span(source, index)
        if isinstance(source, ItemError):  # cannot happen: the walker only takes what parses
            return ItemError(index, f"span {index}: {reason}", source.raw)
    assert isinstance(source, Span)
    return ItemError(index, f"{span_label(index, source.name)}: {reason}",
                     dump_or_empty(span_to_otlp_json(source)))


def _finish(mapped: list[Mapped]) -> Decoded:
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
    mapped: list[Mapped] = []
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
        return _finish(json_spans(raw))
    raise ValueError(f"unknown OTLP encoding {encoding!r}; expected 'otlp_proto' or 'otlp_json'")
