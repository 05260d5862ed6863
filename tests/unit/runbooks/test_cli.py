"""`tracewatch runbooks lint/test` on the shipped library (must pass) and on broken runbooks."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from streams.cli import app

LIBRARY = Path(__file__).resolve().parents[3] / "runbooks" / "library"


def test_library_lints_clean():
    result = CliRunner().invoke(app, ["runbooks", "lint", str(LIBRARY)])
    assert result.exit_code == 0, result.output
    assert "6 runbook(s) OK in 6 file(s)" in result.stdout


def test_library_tests_pass():
    result = CliRunner().invoke(app, ["runbooks", "test", str(LIBRARY)])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.stdout and " 0 failed" in result.stdout
    assert result.stdout.count("PASS") >= 8


def test_failing_runbook_test_shows_a_diff_and_exits_1(tmp_path):
    (tmp_path / "rb.yaml").write_text(
        "name: rb\ntrigger: {kind: cost}\nsteps:\n  - block: {ttl: 2h}\n"
        "tests:\n  - name: wrong ttl\n    incident: {kind: cost, target: {user_id: u1}}\n"
        "    expect: [{type: block, ttl: 1h}]\n"
        "  - name: expects nothing\n    incident: {kind: latency}\n    expect: []\n"
    )
    result = CliRunner().invoke(app, ["runbooks", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "  FAIL  wrong ttl" in result.stdout
    assert "action 0 (block).ttl: expected '1h', got '2h'" in result.stdout
    assert "  PASS  expects nothing" in result.stdout
    assert "1 passed, 1 failed" in result.stdout


def test_lint_of_a_missing_path_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["runbooks", "lint", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_commented_reference_runbook_in_the_library_readme_lints_and_passes(tmp_path):
    text = (LIBRARY / "README.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("\n```", 1)[0]
    (tmp_path / "reference.yaml").write_text(block)
    result = CliRunner().invoke(app, ["runbooks", "test", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed" in result.stdout
