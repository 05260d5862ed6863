"""`tracewatch replay FILE --runbooks DIR`: a backtest of runbooks on recorded traffic, nothing sent."""

import orjson
from typer.testing import CliRunner

from detectors.config import enable, load_config, to_yaml
from streams.cli import app
from tests.helpers.traffic import four_scenarios


def test_backtest_shows_the_page_and_the_block_for_a_users_cost_spike(tmp_path):
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_bytes(b"\n".join(four_scenarios(minutes=46)) + b"\n")
    # the user's daily budget is opt-in in the shipped config: this backtest switches it on
    config = tmp_path / "detectors.yaml"
    config.write_text(to_yaml(enable(load_config(), "budget_user_daily")))
    args = ["replay", str(traffic), "--runbooks", "runbooks/library", "--config", str(config)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    planned = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert "backtest: nothing was sent" in result.stderr
    blocks = [p for p in planned if p["action"]["type"] == "block" and p["runbook"] == "cost-spike"]
    assert blocks and {(b["incident"], b["action"]["target"]) for b in blocks} == {(blocks[0]["incident"], "user")}
    budget_incident = blocks[0]["incident"]
    injection = {p["incident"] for p in planned if p["runbook"] == "injection-campaign"}
    assert len(injection) >= 4  # the four attackers (the campaign is in the traffic too)
    assert any(p["action"]["type"] == "page" and p["incident"] == budget_incident for p in planned)
    # Same input, same plan: a backtest is deterministic.
    again = CliRunner().invoke(app, args)
    assert again.stdout == result.stdout


def test_backtest_refuses_broken_runbooks_with_file_and_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\ntrigger: {kind: cost}\nsteps:\n  - pagr: {}\n")
    traffic = tmp_path / "t.jsonl"
    traffic.write_bytes(four_scenarios(minutes=1)[0] + b"\n")
    result = CliRunner().invoke(app, ["replay", str(traffic), "--runbooks", str(tmp_path)])
    assert result.exit_code == 2
    assert "bad.yaml:4" in result.stderr and "page" in result.stderr
