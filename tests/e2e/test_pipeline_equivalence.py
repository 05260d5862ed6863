"""One pipeline: the same events through a real worker and through ``tracewatch replay --runbooks`` give
the same incidents and the same runbook actions (issue 14). Both drive ``runbooks.pipeline.Pipeline``;
this checks that the worker's spread of it over Kafka topics does not change what it decides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_scenarios import AUTH, API_TOKEN, all_counted, budget_env, publish  # noqa: F401 - fixture
from tests.helpers.service import wait_for
from tests.helpers.traffic import four_scenarios

pytestmark = pytest.mark.e2e
LIBRARY = Path(__file__).resolve().parents[2] / "runbooks" / "library"  # the worker's default runbooks


def worker_decisions(service) -> dict[tuple[str, str, str], list[str]]:
    """(incident id, event, runbook) → the action types its execution ran, as the worker recorded them."""
    api = httpx.Client(base_url=service.url, timeout=10)
    decisions: dict[tuple[str, str, str], list[str]] = {}
    listed = api.get("/v1/incidents", params={"limit": 1000, "superseded": "true"}).json()["incidents"]
    for incident in listed:
        for execution in api.get(f"/v1/incidents/{incident['id']}").json()["executions"]:
            # What was tried (a step whose `when` was false is skipped); wait_for_ack is no action.
            ran = []
            for step in execution["steps"]:
                if step["type"] == "wait_for_ack":
                    break
                if step["status"] in ("ok", "failed"):
                    ran.append(step["type"])
            decisions[(incident["id"], execution["event"], execution["runbook"])] = ran
    return decisions


def busy_steps(service) -> list[str]:
    """Steps the worker has not done yet, before any wait for an acknowledgement (that wait lasts minutes
    of wall time in the worker and none in replay's fake clock: what follows it is not compared)."""
    busy = []
    api = httpx.Client(base_url=service.url, timeout=10)
    for incident in api.get("/v1/incidents", params={"limit": 1000, "superseded": "true"}).json()["incidents"]:
        for execution in api.get(f"/v1/incidents/{incident['id']}").json()["executions"]:
            for step in execution["steps"]:
                if step["type"] == "wait_for_ack":
                    break
                if step["status"] in ("planned", "queued", "running", "retrying"):
                    busy.append(f"{execution['runbook']}/{incident['id']} step {step['index']} {step['status']}")
    return busy


def replay_decisions(path, env: dict[str, str]) -> dict[tuple[str, str, str], list[str]]:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("tracewatch")), "replay", str(path), "--runbooks", str(LIBRARY)],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=600, check=True)
    decisions: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for line in out.stdout.splitlines():
        planned = json.loads(line)
        decisions[(planned["incident"], planned["event"], planned["runbook"])].append(planned["action"]["type"])
    return dict(decisions)


def test_the_worker_and_replay_decide_the_same(broker, start_worker, worker_env, budget_env, tmp_path,  # noqa: F811
                                               pagerduty_double, slack_double):
    service = start_worker(TRACEWATCH_API_TOKEN=API_TOKEN, **worker_env, **budget_env)
    api = httpx.Client(base_url=service.url, timeout=10)
    for version in ("3", "4"):  # the prompt the surge rolls back, as in test_scenarios
        assert api.post("/v1/prompts/support-chat/versions", json={"version": version}, headers=AUTH).status_code == 200
        assert api.post("/v1/prompts/support-chat/promote", json={"version": version}, headers=AUTH).status_code == 200
    messages = four_scenarios()
    traces = tmp_path / "traces.jsonl"
    traces.write_bytes(b"\n".join(messages) + b"\n")

    publish(broker.bootstrap, messages)
    wait_for(lambda: all_counted(service, len(messages)), timeout=300, message="all traffic to be ingested")
    expected = replay_decisions(traces, budget_env)
    assert len({incident for incident, event, _ in expected if event == "opened"}) >= 4  # the four scenarios

    # Resolutions come from event time in replay and from the wall clock in the worker: compare the rest.
    def caught_up() -> bool:
        missing, busy = set(expected) - set(worker_decisions(service)), busy_steps(service)
        assert not missing and not busy, f"no execution yet for {sorted(missing)}; steps to do: {busy}"
        return True

    wait_for(caught_up, timeout=300, message="the worker's executions for every incident event replay saw")
    actual = {key: ran for key, ran in worker_decisions(service).items() if key[1] != "resolved"}
    # The same incidents (same ids: an id comes from the incident's first finding), the same events and
    # the same runbooks on each ...
    assert set(actual) == set(expected)
    # ... and the same actions. Which incidents hit a runbook's cap on destructive actions per hour
    # depends on the order executions start in, which Kafka's partitions do not fix: per runbook, the
    # worker and replay run the same action lists, as many times each.
    def per_runbook(decisions: dict) -> dict[str, Counter]:
        out: dict[str, Counter] = defaultdict(Counter)
        for (_, event, runbook), ran in decisions.items():
            out[runbook][(event, tuple(ran))] += 1
        return dict(out)

    assert per_runbook(actual) == per_runbook(expected)
    capped = {"injection-campaign"}  # the only shipped runbook whose cap this traffic reaches
    assert {k: v for k, v in actual.items() if k[2] not in capped} == \
        {k: v for k, v in expected.items() if k[2] not in capped}
