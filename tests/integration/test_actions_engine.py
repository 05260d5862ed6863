"""The shipped cost-spike runbook through the real engine, with the real page action and the PagerDuty
double in an outage: the page arrives once PagerDuty recovers, exactly once, also after a restart."""

from __future__ import annotations

import logging

import pytest

from detectors.finding import Evidence, Finding, Target
from runbooks.actions import build_actions
from runbooks.controls import InMemoryControls
from runbooks.engine import Engine
from runbooks.execution import InMemoryOutbox
from runbooks.ports import Ports
from incidents.incident import Incident, IncidentEvent
from runbooks.loader import load_file
from runbooks.prompts import PromptRegistry
from runbooks.testing import FakeClock
from streams.settings import PACKAGE_ROOT
from tests.doubles.fixtures import TEST_ROUTING_KEY, action_settings, pagerduty_double, slack_double, test_ca  # noqa: F401
from tests.doubles.incidents import HOSTILE

pytestmark = pytest.mark.integration


def _event() -> IncidentEvent:
    finding = Finding(time=1_700_000_000.0, detector="user_budget", kind="budget", series="user_id=u-7",
                      severity="critical", score=1.0, summary="user over budget " + HOSTILE,
                      evidence=Evidence(observed=60.0, baseline=10.0), target=Target(user_id="u-7"))
    incident = Incident.open_from(finding, incident_id="inc-engine-1")
    return IncidentEvent(event="opened", incident=incident, time=finding.time)


async def test_outage_then_recovery_pages_once(action_settings, pagerduty_double, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    runbook, problems = load_file(PACKAGE_ROOT / "runbooks" / "library" / "cost_spike.yaml")
    assert runbook is not None and problems == []
    clock = FakeClock(1_700_000_000.0)
    ports = Ports(clock=clock, controls=InMemoryControls(clock), prompts=PromptRegistry(clock))
    outbox = InMemoryOutbox()
    pagerduty_double.fail_next(2, 500)
    pagerduty_double.fail_next(2, 429, retry_after=4)
    actions = build_actions(action_settings)
    actions["page"].config = actions["page"].config.model_copy(update={"backoff_s": 0.005, "max_retries": 1})

    engine = Engine([runbook], actions, ports, outbox, backoff_s=0.0)
    [execution] = await engine.handle(_event())
    await engine.drain()

    page = next(s for s in execution.steps if s.type == "page")
    assert page.status == "ok" and page.detail["dedup_key"] == "inc-engine-1", page.error
    assert [e["dedup_key"] for e in pagerduty_double.events] == ["inc-engine-1"]
    outcomes = [(a.outcome, a.status_code) for a in execution.audit if a.type == "page"]
    assert outcomes == [("error", 500), ("error", 429), ("ok", 202)]
    assert ports.controls.is_blocked("user:u-7", clock.now())
    assert TEST_ROUTING_KEY not in caplog.text

    # A restarted worker (new engine, same outbox) sees the redelivered event: nothing is sent again.
    restarted = Engine([runbook], build_actions(action_settings), ports, outbox)
    [again] = await restarted.handle(_event())
    await restarted.drain()
    assert again.execution_id == execution.execution_id
    assert len(pagerduty_double.events) == 1
