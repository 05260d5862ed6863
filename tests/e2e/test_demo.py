"""``tracewatch demo --json`` as a user runs it: every scenario detected and acted on, nothing left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TRACEWATCH = str(Path(sys.executable).with_name("tracewatch"))
EXPECTED = {  # scenario → the actions its runbook takes
    "cost_spike": {"page", "block"},
    "latency_regression": {"page", "slack"},
    "hallucination_surge": {"rollback", "slack"},
    "injection_campaign": {"block", "slack"},
    "provider_model_update": {"pin", "slack"},
}


@pytest.mark.e2e
def test_demo_detects_and_acts_on_all_five_scenarios(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEWATCH_")}  # stand-ins, embedded broker
    # The demo ends as soon as all five are handled (about 100 s); the duration is only a cap, generous
    # so that a busy machine (CI with other jobs) does not turn a late action into a failure.
    result = subprocess.run([TRACEWATCH, "demo", "--duration", "420", "--json"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=540)
    assert result.stdout, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    rows = {row["scenario"]: row for row in summary["scenarios"]}
    assert set(rows) == set(EXPECTED)
    for name, actions in EXPECTED.items():
        row = rows[name]
        assert row["detected"] and row["incident_id"].startswith("inc-"), (name, row, result.stderr[-2000:])
        assert set(row["expected"]) == actions
        for action in actions:
            assert row[action] is True, f"{name}: no {action}; {json.dumps(row)}\n{result.stderr[-2000:]}"
    assert summary["handled"] is True and result.returncode == 0
    # the worker was stopped (and reaped) before the demo exited
    assert not Path(f"/proc/{summary['worker_pid']}").exists()
