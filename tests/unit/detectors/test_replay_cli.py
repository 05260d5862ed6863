"""``tracewatch replay`` and ``tracewatch detectors lint`` driven in-process."""

from __future__ import annotations

import json

import orjson
from typer.testing import CliRunner

from streams.cli import app

T0 = 1_767_225_600
CONFIG = """
bucket_s: 5
injection: {enabled: false}
detectors:
  - {name: loop, kind: runaway, series: session_id, max_requests_per_min: 30}
  - {name: spend, kind: budget, series: user_id, period: day, limit: 0.5}
"""


def trace_lines() -> list[str]:
    lines = []
    for i in range(200):  # a session looping at 2 calls per second, a user spending 0.01 per call
        lines.append(orjson.dumps({"trace_id": f"t{i}", "timestamp": T0 + i * 0.5, "model": "m",
                                   "session_id": "s1", "user_id": "u1", "cost_usd": 0.01}).decode())
    return lines


def write(tmp_path, lines, config=CONFIG):
    (tmp_path / "d.yaml").write_text(config)
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "t.jsonl"), str(tmp_path / "d.yaml")


def test_replay_prints_findings_as_json_lines_and_a_summary(tmp_path):
    lines = trace_lines()
    lines[3:3] = ["{not json", '{"trace_id": "x", "model": "m"}', "[1, 2]", ""]
    traces, config = write(tmp_path, lines)
    result = CliRunner().invoke(app, ["replay", traces, "--config", config])
    assert result.exit_code == 0, result.output
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    assert {f["detector"] for f in findings} == {"loop", "spend"}
    assert {f["target"]["session_id"] for f in findings if f["detector"] == "loop"} == {"s1"}
    spend = [f for f in findings if f["detector"] == "spend"]
    assert [f["severity"] for f in spend] == ["warning", "critical"]
    assert "remaining" in spend[0]["evidence"]["details"]
    err = result.stderr
    assert "events: 200" in err and "bad lines: 3" in err
    assert "line 4: not JSON" in err
    assert "line 5: timestamp: Field required" in err
    assert "line 6: expected a JSON object (or an array of objects)" in err


def test_replay_is_deterministic_and_sorts_by_event_time(tmp_path):
    lines = trace_lines()
    traces, config = write(tmp_path, lines)
    first = CliRunner().invoke(app, ["replay", traces, "--config", config]).stdout
    shuffled = lines[::-1]  # the same events in reverse file order
    (tmp_path / "r.jsonl").write_text("\n".join(shuffled) + "\n")
    again = CliRunner().invoke(app, ["replay", traces, "--config", config]).stdout
    reverse = CliRunner().invoke(app, ["replay", str(tmp_path / "r.jsonl"), "--config", config]).stdout
    assert first and first == again == reverse


def test_replay_reads_stdin(tmp_path):
    _, config = write(tmp_path, [])
    result = CliRunner().invoke(app, ["replay", "-", "--config", config], input="\n".join(trace_lines()) + "\n")
    assert result.exit_code == 0 and result.stdout.count("\n") >= 3


def test_replay_refuses_an_invalid_config_with_file_line_errors(tmp_path):
    traces, config = write(tmp_path, trace_lines(), config="detectors:\n  - name: x\n    kind: cots\n")
    result = CliRunner().invoke(app, ["replay", traces, "--config", config])
    assert result.exit_code == 2
    assert f'{config}:3: detectors[0].kind: unknown kind "cots" (did you mean "cost"?)' in result.stderr


def test_replay_of_a_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["replay", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_detectors_lint(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("detectors:\n  - name: x\n    kind: cost\n    ratoi: 2\n")
    result = CliRunner().invoke(app, ["detectors", "lint", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == f'{bad}:4: detectors[0].ratoi: unknown key "ratoi" (did you mean "ratio"?)\n'
    ok = CliRunner().invoke(app, ["detectors", "lint"])
    assert ok.exit_code == 0 and ok.stdout.endswith(": ok\n")
