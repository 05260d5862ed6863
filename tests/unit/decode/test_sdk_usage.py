"""Every row of docs/decoders.md "Token counts as the SDKs name them", read from the doc itself, on every JSON
path: ``decode_json`` (one object, and the second item of a batch), ``TraceEvent`` and ``tracewatch replay``'s
reader give the same counts, or all refuse the row with its reason."""

from __future__ import annotations

import io

import orjson
import pytest
from pydantic import ValidationError

from streams.cli.replay import read_events
from traces.decode import decode_json
from traces.events import COUNT_FIELDS, TraceEvent
from tests.unit.decode.test_accepted_shapes import BASE, DOC, unquote

SECTION = "## Token counts as the SDKs name them"


def doc_rows() -> list[tuple[str, str, str]]:
    text = DOC.read_text()
    start = text.index(SECTION)
    rows = []
    for line in text[start:text.index("\n## ", start + 1)].splitlines():
        if not line.startswith("| `"):
            continue
        cells = [unquote(c.strip()) for c in line.strip()[1:-1].split("|")]  # (no cell holds a "|")
        assert len(cells) == 3 and bool(cells[1]) != bool(cells[2]), line
        rows.append((cells[0], cells[1], cells[2]))
    return rows


ROWS = doc_rows()


def test_the_table_covers_each_sdk_and_a_refusal():
    sent = " ".join(row[0] for row in ROWS)
    for name in ("prompt_tokens_details", "input_tokens_details", "cache_creation_input_tokens", '"usage": "chat"'):
        assert name in sent
    assert sum(bool(row[2]) for row in ROWS) >= 2


@pytest.mark.parametrize("sent, read_as, reason", ROWS, ids=[row[0][:60] for row in ROWS])
def test_row(sent, read_as, reason):
    raw = orjson.dumps({**BASE, **orjson.loads(sent)})
    results: dict[str, TraceEvent | str] = {}
    decoded = decode_json(raw)
    results["decode_json"] = decoded.events[0] if decoded.events else decoded.errors[0].reason
    decoded = decode_json(b"[" + orjson.dumps(BASE) + b", " + raw + b"]")
    results["batch"] = decoded.events[1] if len(decoded.events) == 2 else decoded.errors[0].reason
    try:
        results["TraceEvent"] = TraceEvent.model_validate(orjson.loads(raw))
    except ValidationError as exc:
        results["TraceEvent"] = f"refused: {exc.errors()[0]['loc']}"
    events, bad = read_events(io.BytesIO(raw + b"\n"))
    results["replay"] = events[0][2] if events else f"replay: {bad[0][1]}"
    if reason:
        field = reason.split("'")[1]
        assert results["decode_json"] == results["batch"] == reason
        assert results["TraceEvent"] == f"refused: ('{field}',)"
        assert results["replay"].startswith(f"replay: {field}: ")
        return
    expected = {field: None for field in COUNT_FIELDS} | orjson.loads(read_as)
    for path, event in results.items():
        assert isinstance(event, TraceEvent), (path, event)
        assert {field: getattr(event, field) for field in COUNT_FIELDS} == expected, path
        assert event.model_dump() == results["TraceEvent"].model_dump(), path
        sent_usage = orjson.loads(sent).get("usage")
        assert event.metadata.get("usage") == sent_usage, path  # the usage object stays as sent
