"""Every row of docs/decoders.md "Accepted shapes", read from the doc itself, on every decode path.

A JSON row is checked for each field of its group through ``decode_json`` (one object and a batch),
``TraceEvent.model_validate``, the strict twin and ``tracewatch replay``'s reader; an OTLP row through
the OTLP/JSON walker, ``ParseDict`` (the walker's fallback) and protobuf. The paths must give the same
event, with the stored value of the row, or all refuse it with the row's reason.
"""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import ValidationError

from streams.cli.replay import read_events
from traces.decode import decode_json, decode_otlp
from traces.events import COUNT_FIELDS, ID_FIELDS, MEASURE_FIELDS, TraceEvent, validate_common
from traces.otlp_mapping import _RESOURCE_FIELDS, _SPAN_FIELDS
from traces.otlp_json import _ids_to_base64
from tests.helpers.otlp_samples import otlp_json_bytes
from tests.unit.decode.test_fast_path import state

DOC = Path(__file__).parents[3] / "docs" / "decoders.md"
SECTION = "## Accepted shapes"
GROUPS = {"ids and versions": ID_FIELDS, "token counts": COUNT_FIELDS, "cost and latencies": MEASURE_FIELDS,
          "status": ("status",), "scores": ("scores",), "flags": ("flags",), "metadata": ("metadata",),
          "timestamp": ("timestamp",)}
OTLP_IDS = {"traceId": "trace_id", "spanId": "span_id", "parentSpanId": "metadata.parent_span_id"}
BASE = {"trace_id": "t1", "timestamp": 1_700_000_000, "model": "gpt-4o"}


def section() -> str:
    text = DOC.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:end if end != -1 else None]


def unquote(cell: str) -> str:
    """The text inside a table cell's backticks ('' for an empty cell)."""
    if not cell:
        return ""
    assert cell.startswith("`") and cell.endswith("`"), cell
    return cell[1:-1]


def doc_rows() -> list[tuple[str, str, str, str]]:
    """(fields, sent, stored, rejected with) for each row of the section's table, as written."""
    rows = []
    for line in section().splitlines():
        if not line.startswith("| ") or line.startswith(("| fields ", "| --- ")):
            continue
        cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]  # (no cell holds a "|")
        assert len(cells) == 4, line
        fields, sent, stored, reason = cells[0], unquote(cells[1]), unquote(cells[2]), unquote(cells[3])
        assert bool(stored) != bool(reason), f"a row is either stored or rejected: {line}"
        rows.append((fields, sent, stored, reason))
    return rows


ROWS = doc_rows()


def test_the_table_has_rows_for_every_group_and_path():
    kinds = {fields.split(" `")[0] for fields, *_ in ROWS}
    assert kinds == {*GROUPS, "OTLP/JSON", "OTLP attribute", "OTLP resource attribute"}
    assert len(ROWS) >= 40


def test_the_doc_lists_the_fields_of_each_group_as_the_code_has_them():
    for group, fields in GROUPS.items():
        (line,) = [line for line in section().splitlines() if line.startswith(f"- **{group}**: ")]
        listed = re.findall(r"`([a-z_]+)`", line.split(" — ")[0])
        assert listed == list(fields), group


# ---- JSON rows ------------------------------------------------------------------------------------


def json_paths(field: str, sent_json: str) -> list[tuple[str, TraceEvent | str]]:
    """(path, the event or the reason) for BASE with ``field`` set to the JSON text ``sent_json``."""
    base = {k: v for k, v in BASE.items() if k != field}
    raw = orjson.dumps(base)[:-1] + b', "' + field.encode() + b'": ' + sent_json.encode() + b"}"
    data = orjson.loads(raw)
    results: list[tuple[str, TraceEvent | str]] = []

    decoded = decode_json(raw)
    results.append(("decode_json", decoded.events[0] if decoded.events else decoded.errors[0].reason))
    decoded = decode_json(b"[" + orjson.dumps(BASE) + b", " + raw + b"]")
    assert decoded.events[0].trace_id == "t1"
    if len(decoded.events) == 2:
        results.append(("decode_json batch", decoded.events[1]))
    else:
        assert [e.index for e in decoded.errors] == [1]
        results.append(("decode_json batch", decoded.errors[0].reason))

    try:
        results.append(("TraceEvent", TraceEvent.model_validate(copy.deepcopy(data))))
    except ValidationError as exc:
        results.append(("TraceEvent", f"ValidationError on {exc.errors()[0]['loc']}"))
    twin = validate_common(copy.deepcopy(data))
    if twin is not None:  # (the twin may leave an input to TraceEvent, but must not refuse a good one wrongly)
        results.append(("strict twin", twin))

    events, bad = read_events(io.BytesIO(raw + b"\n"))
    results.append(("replay", events[0][2] if events else f"replay: {bad[0][1]}"))
    return results


JSON_ROWS = [(fields, sent, stored, reason) for fields, sent, stored, reason in ROWS if fields in GROUPS]


@pytest.mark.parametrize("fields, sent, stored, reason", JSON_ROWS,
                         ids=[f"{f}: {s}" for f, s, *_ in JSON_ROWS])
def test_json_row(fields, sent, stored, reason):
    for field in GROUPS[fields]:
        results = dict(json_paths(field, sent))
        if stored:
            expected = orjson.loads(stored)
            reference = results["TraceEvent"]
            assert isinstance(reference, TraceEvent), (field, reference)
            value = reference.epoch if field == "timestamp" else getattr(reference, field)
            assert (value, type(value)) == (expected, type(expected)), field
            for path, result in results.items():
                assert isinstance(result, TraceEvent), (field, path, result)
                assert state(result) == state(reference), (field, path)
        else:
            assert results["decode_json"] == f"'{field}': {reason}"
            assert results["decode_json batch"] == f"'{field}': {reason}"
            assert results["TraceEvent"] == f"ValidationError on ('{field}',)"
            assert results["replay"].startswith(f"replay: {field}: ")
            assert "strict twin" not in results


def test_numeric_ids_and_counts_stay_on_the_fast_path():
    event = validate_common({**BASE, "user_id": 12345, "prompt_version": 4, "trace_id": 4.0,
                             "input_tokens": "12", "output_tokens": 3.0})
    assert event is not None
    assert (event.user_id, event.prompt_version, event.trace_id, event.input_tokens, event.output_tokens) == \
        ("12345", "4", "4", 12, 3)


# ---- OTLP rows ------------------------------------------------------------------------------------

SAMPLE = orjson.loads(otlp_json_bytes(1, seed=2))
ATTRIBUTE_FIELDS = {name: field for field, names in _SPAN_FIELDS + _RESOURCE_FIELDS for name in names}


def otlp_document(kind: str, name: str, sent: object) -> dict:
    """The sample request with the row applied to its one span (or to the span's resource)."""
    doc = copy.deepcopy(SAMPLE)
    rs = doc["resourceSpans"][0]
    (span,) = [span for ss in rs["scopeSpans"] for span in ss["spans"]]
    if kind == "OTLP/JSON":
        span[name] = sent
        return doc
    field = ATTRIBUTE_FIELDS[name]
    holder = rs["resource"] if kind == "OTLP resource attribute" else span
    # Drop whatever else gives the same field, so that the row's attribute is the one read.
    same = {n for n, f in ATTRIBUTE_FIELDS.items() if f == field}
    holder["attributes"] = [kv for kv in holder["attributes"] if kv["key"] not in same]
    holder["attributes"].append({"key": name, "value": sent})
    return doc


def otlp_paths(doc: dict) -> dict[str, object]:
    """(path -> the event or the reason) for an OTLP/JSON request document with one model span."""
    results: dict[str, object] = {}
    walked = doc
    parsed = copy.deepcopy(doc)
    parsed["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["unknownField"] = 1  # the walker declines it
    for path, document in (("walker", walked), ("ParseDict", parsed)):
        decoded = decode_otlp(orjson.dumps(document), "otlp_json")
        assert len(decoded.events) + len(decoded.errors) == 1, path
        results[path] = decoded.events[0] if decoded.events else decoded.errors[0].reason
    if isinstance(results["ParseDict"], TraceEvent):  # ids protobuf can carry: the same request in protobuf
        as_proto = copy.deepcopy(parsed)
        for rs in as_proto["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    _ids_to_base64(span)
        request = json_format.ParseDict(as_proto, ExportTraceServiceRequest(), ignore_unknown_fields=True)
        decoded = decode_otlp(request.SerializeToString(), "otlp_proto")
        results["protobuf"] = decoded.events[0] if decoded.events else decoded.errors[0].reason
    return results


def stored_value(event: TraceEvent, field: str) -> object:
    if field.startswith("metadata."):
        return event.metadata[field.split(".", 1)[1]]
    return getattr(event, field)


OTLP_ROWS = [(fields, sent, stored, reason) for fields, sent, stored, reason in ROWS if fields not in GROUPS]


@pytest.mark.parametrize("fields, sent, stored, reason", OTLP_ROWS,
                         ids=[f"{f}: {s}" for f, s, *_ in OTLP_ROWS])
def test_otlp_row(fields, sent, stored, reason):
    kind, name = fields.split(" `")
    name = name.rstrip("`")
    field = OTLP_IDS[name] if kind == "OTLP/JSON" else ATTRIBUTE_FIELDS[name]
    results = otlp_paths(otlp_document(kind, name, orjson.loads(sent)))
    if stored:
        expected = orjson.loads(stored)
        reference = results["walker"]
        assert isinstance(reference, TraceEvent), reference
        value = stored_value(reference, field)
        assert (value, type(value)) == (expected, type(expected))
        assert set(results) == {"walker", "ParseDict", "protobuf"}
        for path, result in results.items():
            assert isinstance(result, TraceEvent), (path, result)
            assert state(result) == state(reference), path
    else:
        for path, result in results.items():
            assert isinstance(result, str) and result.startswith("span 0 "), (path, result)
            assert result.endswith(": " + reason), (path, result)
