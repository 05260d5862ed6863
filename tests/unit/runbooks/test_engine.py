"""The executor: outbox first, idempotent resume, bounded retries, throttle, cooldown, cap, waits."""

from __future__ import annotations

import pytest

from runbooks.actions.base import ActionError
from runbooks.engine import Engine, InMemoryOutbox, execution_id
from runbooks.schema import Runbook

from tests.unit.runbooks.runbook_helpers import Scripted, make_event


def runbook(**overrides) -> Runbook:
    raw = {"name": "rb", "trigger": {"kind": "cost"}, "steps": [{"page": {}}, {"slack": {}}]}
    raw.update(overrides)
    return Runbook.model_validate(raw)


def engine_with(rb, ports, log, outbox=None, **scripts):
    actions = {t: Scripted(t, log, scripts.get(t), destructive=t in ("block", "rollback_prompt"))
               for t in ("page", "slack", "block", "rollback_prompt")}
    return Engine([rb], actions, ports, outbox or InMemoryOutbox(), backoff_s=1.0), actions


async def test_execution_is_in_the_outbox_before_the_first_side_effect(ports):
    outbox, log = InMemoryOutbox(), []
    seen_at_first_call = []
    engine, actions = engine_with(runbook(), ports, log, outbox)
    actions["page"].on_call = lambda ctx: seen_at_first_call.append(outbox.get(ctx.execution_id))
    [execution] = await engine.handle(make_event())
    recorded = seen_at_first_call[0]
    assert recorded is not None and [s.index for s in recorded.steps] == ["0", "1"]
    assert outbox.records[0].status == "pending"
    assert all(s.status == "planned" for s in outbox.records[0].steps)
    assert execution.status == "succeeded"
    assert log == [("page", f"{execution.execution_id}:0"), ("slack", f"{execution.execution_id}:1")]


async def test_redelivered_event_does_not_repeat_side_effects(ports):
    log = []
    engine, _ = engine_with(runbook(), ports, log)
    first = await engine.handle(make_event())
    again = await engine.handle(make_event())
    assert [e.execution_id for e in first] == [e.execution_id for e in again]
    assert len(log) == 2


async def test_resume_after_crash_skips_steps_that_were_ok(ports):
    outbox, log = InMemoryOutbox(), []
    crash = RuntimeError("worker killed")
    engine, actions = engine_with(runbook(), ports, log, outbox)

    def die(ctx):
        raise crash

    actions["slack"].on_call = die  # not an ActionError: stands in for the process dying mid-step
    await engine.handle(make_event())
    xid = execution_id("rb", make_event())
    # what the outbox held just before the slack attempt was recorded as failed
    before_crash = next(r for r in reversed(outbox.records) if r.step("1").status == "running")
    assert before_crash.step("0").status == "ok"

    restarted_log = []
    restarted, _ = engine_with(runbook(), ports, restarted_log, outbox)
    resumed = await restarted.resume(before_crash)
    assert restarted_log == [("slack", f"{xid}:1")]  # the page is not sent twice, same key for slack
    assert resumed.status == "succeeded"


async def test_retries_are_bounded_and_audited(ports, clock):
    log = []
    rb = runbook(steps=[{"page": {}, "retries": 2}])
    failures = [ActionError("503", retryable=True, status_code=503) for _ in range(5)]
    engine, _ = engine_with(rb, ports, log, page=failures)
    start = clock.now()
    [execution] = await engine.handle(make_event())
    assert len(log) == 3
    assert [(a.attempt, a.outcome, a.status_code) for a in execution.audit] == [
        (1, "error", 503), (2, "error", 503), (3, "error", 503)]
    assert execution.status == "failed"
    assert clock.now() - start == 1.0 + 2.0  # exponential backoff on the (fake) clock


async def test_retry_then_success_and_retry_after_is_honoured(ports, clock):
    log = []
    script = [ActionError("429", retryable=True, status_code=429, retry_after=7.0), "ok"]
    engine, _ = engine_with(runbook(steps=[{"page": {}}]), ports, log, page=script)
    start = clock.now()
    [execution] = await engine.handle(make_event())
    assert execution.status == "succeeded" and len(log) == 2
    assert clock.now() - start == 7.0
    assert [a.outcome for a in execution.audit] == ["error", "ok"]


async def test_non_retryable_error_is_not_retried_and_abort_stops(ports):
    log = []
    rb = runbook(steps=[{"page": {}, "on_failure": "abort"}, {"slack": {}}])
    engine, _ = engine_with(rb, ports, log, page=[ActionError("400", retryable=False, status_code=400)])
    [execution] = await engine.handle(make_event())
    assert log == [("page", f"{execution.execution_id}:0")]
    assert execution.step("1").status == "skipped" and execution.status == "failed"


async def test_failed_step_with_continue_goes_on(ports):
    log = []
    engine, _ = engine_with(runbook(), ports, log, page=[ActionError("400", retryable=False)])
    [execution] = await engine.handle(make_event())
    assert [t for t, _ in log] == ["page", "slack"]
    assert execution.status == "failed"


async def test_throttle_suppresses_repeats_per_incident_key(ports, clock):
    log = []
    engine, _ = engine_with(runbook(throttle={"min_interval": "10m"}), ports, log)
    await engine.handle(make_event(incident_id="inc-1", time=1.0))
    clock.t += 60
    [second] = await engine.handle(make_event(incident_id="inc-2", time=2.0))
    assert second.status == "suppressed" and second.reason.startswith("throttled")
    clock.t += 600
    [third] = await engine.handle(make_event(incident_id="inc-3", time=3.0))
    assert third.status == "succeeded"
    assert len(log) == 4


async def test_cooldown_after_resolve(ports, clock):
    log = []
    rb = runbook(trigger={"kind": "cost", "on": ["opened", "resolved"]}, throttle={"cooldown": "30m"},
                 steps=[{"page": {}, "when": 'event == "opened"'}])
    engine, _ = engine_with(rb, ports, log)
    await engine.handle(make_event(incident_id="inc-1", time=1.0))
    await engine.handle(make_event("resolved", incident_id="inc-1", time=2.0))
    clock.t += 300
    [reopened] = await engine.handle(make_event(incident_id="inc-2", time=3.0))
    assert reopened.status == "suppressed" and reopened.reason.startswith("cooldown")
    clock.t += 1800
    [later] = await engine.handle(make_event(incident_id="inc-3", time=4.0))
    assert later.status == "succeeded"


async def test_destructive_cap_per_hour(ports, clock):
    log = []
    rb = runbook(steps=[{"block": {}}, {"page": {}}], max_destructive_per_hour=2)
    engine, _ = engine_with(rb, ports, log)
    statuses = []
    for i in range(3):
        [ex] = await engine.handle(make_event(incident_id=f"inc-{i}", time=float(i)))
        statuses.append(ex.step("0").status)
    assert statuses == ["ok", "ok", "suppressed"]
    assert [t for t, _ in log].count("page") == 3  # the page still goes out
    clock.t += 3601
    [ex] = await engine.handle(make_event(incident_id="inc-9", time=9.0))
    assert ex.step("0").status == "ok"


async def test_step_when_condition(ports):
    log = []
    rb = runbook(steps=[{"page": {}, "when": "evidence.observed > 3 * evidence.baseline"},
                        {"slack": {}, "when": 'labels.model == "gpt-4o"'}])
    engine, _ = engine_with(rb, ports, log)
    [execution] = await engine.handle(make_event(observed=50, baseline=10))
    assert [t for t, _ in log] == ["page"]
    assert execution.step("1").status == "skipped"


async def test_wait_for_ack_does_not_block_and_escalates_on_timeout(ports, clock):
    log = []
    rb = runbook(steps=[{"slack": {}}, {"wait_for_ack": {"timeout": "15m", "escalate": [{"page": {}}]}},
                        {"slack": {}}])
    engine, _ = engine_with(rb, ports, log)
    [execution] = await engine.handle(make_event())
    assert execution.status == "waiting" and [t for t, _ in log] == ["slack"]
    await engine.drain()
    assert [t for t, _ in log] == ["slack", "page", "slack"]
    assert log[1][1].endswith(":1.escalate.0")
    assert execution.status == "succeeded" and execution.step("1").detail == {"outcome": "timeout"}


async def test_wait_for_ack_stops_waiting_when_acknowledged(ports, clock):
    log = []
    event = make_event()
    start = clock.now()

    async def state(incident_id):
        acked = event.incident.model_copy()
        if clock.now() - start >= 120:
            acked.state = "acknowledged"
        return acked

    ports.incident_state = state
    rb = runbook(steps=[{"wait_for_ack": {"timeout": "1h", "escalate": [{"page": {}}]}}])
    engine, _ = engine_with(rb, ports, log)
    [execution] = await engine.handle(event)
    await engine.drain()
    assert log == [] and execution.step("0").detail == {"outcome": "acknowledged"}
    assert clock.now() - start < 3600


async def test_resume_of_a_wait_keeps_its_deadline(ports, clock):
    outbox, log = InMemoryOutbox(), []
    rb = runbook(steps=[{"wait_for_ack": {"timeout": "10m", "escalate": [{"page": {}}]}}])
    engine, _ = engine_with(rb, ports, log, outbox)
    [execution] = await engine.handle(make_event())
    waiting = outbox.get(execution.execution_id)  # the worker dies here; its task is gone
    for task in list(engine._tasks):
        task.cancel()
    clock.t += 300
    restarted, _ = engine_with(rb, ports, log, outbox)
    await restarted.resume(waiting)
    await restarted.drain()
    assert [t for t, _ in log] == ["page"]
    assert clock.now() == pytest.approx(1000.0 + 600.0)


async def test_observe_rebuilds_throttle_after_restart(ports, clock):
    outbox, log = InMemoryOutbox(), []
    rb = runbook(throttle={"min_interval": "10m"})
    engine, _ = engine_with(rb, ports, log, outbox)
    [first] = await engine.handle(make_event(incident_id="inc-1"))
    restarted, _ = engine_with(rb, ports, log, outbox)
    restarted.observe(outbox.get(first.execution_id))
    [second] = await restarted.handle(make_event(incident_id="inc-2", time=5.0))
    assert second.status == "suppressed"
