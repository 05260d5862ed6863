"""The executor: outbox first, idempotent resume, bounded retries, throttle, cooldown, cap, waits."""

from __future__ import annotations

import asyncio

import pytest

from runbooks.actions.base import ActionError, ActionResult
from runbooks.engine import Engine
from runbooks.execution import InMemoryOutbox, execution_id
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
    await engine.drain()
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
    await engine.drain()
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
    await engine.drain()
    xid = execution_id("rb", make_event())
    # what the outbox held just before the slack attempt was recorded as failed
    before_crash = next(r for r in reversed(outbox.records) if r.step("1").status == "running")
    assert before_crash.step("0").status == "ok"

    restarted_log = []
    restarted, _ = engine_with(runbook(), ports, restarted_log, outbox)
    resumed = await restarted.resume(before_crash)
    await restarted.drain()
    assert restarted_log == [("slack", f"{xid}:1")]  # the page is not sent twice, same key for slack
    assert resumed.status == "succeeded"


async def test_retries_of_a_protective_step_are_bounded_and_audited(ports, clock):
    log = []
    rb = runbook(steps=[{"block": {}, "retries": 2}])
    failures = [ActionError("503", retryable=True, status_code=503) for _ in range(5)]
    engine, _ = engine_with(rb, ports, log, block=failures)
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
    await engine.drain()
    assert execution.status == "succeeded" and len(log) == 2
    assert clock.now() - start == 7.0
    assert [a.outcome for a in execution.audit] == ["error", "ok"]


async def test_non_retryable_error_is_not_retried_and_abort_stops(ports):
    log = []
    rb = runbook(steps=[{"page": {}, "on_failure": "abort"}, {"slack": {}}])
    engine, _ = engine_with(rb, ports, log, page=[ActionError("400", retryable=False, status_code=400)])
    [execution] = await engine.handle(make_event())  # a notification with abort: the rest waits for it
    assert log == [("page", f"{execution.execution_id}:0")]
    assert execution.step("1").status == "skipped" and execution.status == "failed"


async def test_failed_step_with_continue_goes_on(ports):
    log = []
    engine, _ = engine_with(runbook(), ports, log, page=[ActionError("400", retryable=False)])
    [execution] = await engine.handle(make_event())
    await engine.drain()
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
    await engine.drain()
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
    await engine.drain()
    assert later.status == "succeeded"


async def test_destructive_cap_per_hour(ports, clock):
    log = []
    rb = runbook(steps=[{"block": {}}, {"page": {}}], max_destructive_per_hour=2)
    engine, _ = engine_with(rb, ports, log)
    statuses = []
    for i in range(3):
        [ex] = await engine.handle(make_event(incident_id=f"inc-{i}", time=float(i)))
        statuses.append(ex.step("0").status)
    await engine.drain()
    assert statuses == ["ok", "ok", "suppressed"]
    assert [t for t, _ in log].count("page") == 3  # the page still goes out
    clock.t += 3601
    [ex] = await engine.handle(make_event(incident_id="inc-9", time=9.0))
    assert ex.step("0").status == "ok"


async def test_observing_executions_again_does_not_count_their_destructive_steps_twice(ports, clock):
    # Every rebalance makes the worker observe every execution on record again: the cap must count
    # each destructive step once, or a few rebalances would stop protective actions.
    outbox, log = InMemoryOutbox(), []
    rb = runbook(steps=[{"block": {}}], max_destructive_per_hour=2)
    engine, _ = engine_with(rb, ports, log, outbox)
    [first] = await engine.handle(make_event(incident_id="inc-1", time=1.0))
    for _ in range(3):
        engine.observe(outbox.get(first.execution_id))
    [second] = await engine.handle(make_event(incident_id="inc-2", time=2.0))
    [third] = await engine.handle(make_event(incident_id="inc-3", time=3.0))
    assert [first.step("0").status, second.step("0").status, third.step("0").status] == \
        ["ok", "ok", "suppressed"]


async def test_step_when_condition(ports):
    log = []
    rb = runbook(steps=[{"page": {}, "when": "evidence.observed > 3 * evidence.baseline"},
                        {"slack": {}, "when": 'labels.model == "gpt-4o"'}])
    engine, _ = engine_with(rb, ports, log)
    [execution] = await engine.handle(make_event(observed=50, baseline=10))
    await engine.drain()
    assert [t for t, _ in log] == ["page"]
    assert execution.step("1").status == "skipped"


async def test_wait_for_ack_does_not_block_and_escalates_on_timeout(ports, clock):
    log = []
    rb = runbook(steps=[{"slack": {}}, {"wait_for_ack": {"timeout": "15m", "escalate": [{"page": {}}]}},
                        {"slack": {}}])
    engine, _ = engine_with(rb, ports, log)
    [execution] = await engine.handle(make_event())
    assert execution.status == "waiting" and execution.step("0").status == "queued"
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


async def test_a_restarted_engine_learns_throttles_from_the_mirrored_records(ports, clock):
    # What a restarted worker has: the executions as JSON on tracewatch.actions, read by its mirror.
    from incidents.view import IncidentView

    outbox, log = InMemoryOutbox(), []
    rb = runbook(throttle={"min_interval": "10m"})
    engine, _ = engine_with(rb, ports, log, outbox)
    [first] = await engine.handle(make_event(incident_id="inc-1"))
    restarted, _ = engine_with(rb, ports, log, outbox)
    view = IncidentView()
    view.action_listeners.append(restarted.learn)
    view.apply_action(first.incident_key.encode(), outbox.get(first.execution_id).model_dump_json().encode())
    [second] = await restarted.handle(make_event(incident_id="inc-2", time=5.0))
    assert second.status == "suppressed" and "throttled" in second.reason


# ---- notifications: delivered in their own queue, retried through outages until a deadline ----------

def outage(n: int, status: int = 500) -> list:
    return [ActionError(f"PagerDuty answered {status}: try again", retryable=True, status_code=status)] * n


async def test_a_protective_step_does_not_wait_for_a_page_that_hangs(ports):
    import asyncio

    log, released = [], asyncio.Event()
    rb = runbook(steps=[{"page": {}}, {"block": {}}])
    engine, actions = engine_with(rb, ports, log)

    async def hanging_page(params, ctx):  # PagerDuty not answering at all
        log.append(("page", ctx.idempotency_key))
        await released.wait()
        from runbooks.actions.base import ActionResult
        return ActionResult()

    actions["page"]._run = hanging_page
    [execution] = await engine.handle(make_event())
    assert execution.step("1").status == "ok" and execution.status == "running"
    assert [s.status for s in engine.pending_deliveries()] == ["running"]
    released.set()
    await engine.drain()
    assert execution.status == "succeeded" and engine.pending_deliveries() == []


async def test_a_page_is_retried_through_an_outage_with_growing_jittered_backoff(ports, clock):
    log = []
    engine, _ = engine_with(runbook(steps=[{"page": {}}]), ports, log, page=outage(8) + ["ok"])
    engine.jitter = lambda: 0.5
    start = clock.now()
    [execution] = await engine.handle(make_event())
    await engine.drain()
    assert execution.status == "succeeded" and len(log) == 9
    waits = [b.at - a.at for a, b in zip(execution.audit, execution.audit[1:])]
    assert waits == [0.75 * min(2 ** i, 300) for i in range(8)]  # 1 s doubling, capped at 5 min, jittered
    assert clock.now() - start == sum(waits)


async def test_retry_after_is_a_floor_for_a_notification(ports, clock):
    log = []
    script = outage(1, 429)
    script[0] = ActionError("429", retryable=True, status_code=429, retry_after=120.0)
    engine, _ = engine_with(runbook(steps=[{"slack": {}}]), ports, log, slack=script + ["ok"])
    [execution] = await engine.handle(make_event())
    await engine.drain()
    assert [a.outcome for a in execution.audit] == ["error", "ok"]
    assert execution.audit[1].at - execution.audit[0].at == 120.0


async def test_a_page_fails_only_after_the_delivery_deadline_and_is_reported(ports, clock):
    log, reported = [], []

    async def fallback(execution, step):
        reported.append((execution.execution_id, step.index, step.error))

    engine, _ = engine_with(runbook(steps=[{"page": {}}]), ports, log, page=outage(10_000))
    engine.delivery_deadline_s, engine.on_delivery_failed = 3600.0, fallback
    start = clock.now()
    [execution] = await engine.handle(make_event())
    await engine.drain()
    step = execution.step("0")
    assert execution.status == "failed" and step.status == "failed"
    assert 3600 - 300 < clock.now() - start <= 3600  # tried until the next wait would pass the deadline
    assert len(execution.audit) == step.attempts > 10
    assert "the delivery deadline, 1h after the first, has passed" in step.error
    assert reported == [(execution.execution_id, "0", step.error)]


async def test_a_resolve_never_overtakes_its_trigger(ports, clock):
    log = []
    rb = runbook(trigger={"kind": "cost", "on": ["opened", "resolved"]},
                 steps=[{"page": {}, "when": 'event == "opened"'},
                        {"resolve_page": {}, "when": 'event == "resolved"'}])
    actions_log = []
    engine, _ = engine_with(rb, ports, log, page=outage(3) + ["ok"])
    engine.actions["resolve_page"] = type(engine.actions["page"])("resolve_page", actions_log)
    [opened] = await engine.handle(make_event(incident_id="inc-1", time=1.0))
    [resolved] = await engine.handle(make_event("resolved", incident_id="inc-1", time=2.0))
    assert resolved.step("1").status == "queued" and actions_log == []  # behind the page still retrying
    await engine.drain()
    assert [t for t, _ in log] == ["page"] * 4 and len(actions_log) == 1
    assert opened.audit[-1].at <= resolved.audit[-1].at
    assert opened.status == resolved.status == "succeeded"


async def test_a_pending_notification_resumes_after_a_restart_with_its_deadline(ports, clock):
    outbox, log = InMemoryOutbox(), []
    rb = runbook(steps=[{"page": {}}, {"block": {}}])
    engine, _ = engine_with(rb, ports, log, outbox, page=outage(10_000))
    [execution] = await engine.handle(make_event())
    for _ in range(20):  # let a few attempts fail, then the worker dies
        await asyncio.sleep(0)
    engine.hand_over()
    pending = outbox.get(execution.execution_id)
    assert pending.step("0").status in ("retrying", "running") and pending.step("1").status == "ok"
    assert not pending.done
    same_pending = pending.model_copy(deep=True)

    restarted_log = []
    restarted, _ = engine_with(rb, ports, restarted_log, outbox)
    resumed = await restarted.resume(pending)
    await restarted.drain()
    assert [t for t, _ in restarted_log] == ["page"]  # the block is not done again; the page goes out
    assert resumed.status == "succeeded"

    clock.t = same_pending.step("0").started_at + restarted.delivery_deadline_s + 1  # restarted too late
    late, _ = engine_with(rb, ports, [], outbox, page=outage(1))
    again = await late.resume(same_pending)
    await late.drain()
    step = again.step("0")
    assert step.status == "failed" and "delivery deadline" in step.error and again.status == "failed"


async def test_stopping_lets_the_send_under_way_finish_and_be_recorded_and_starts_no_other(ports):
    outbox, log = InMemoryOutbox(), []
    rb = runbook(steps=[{"page": {}}, {"slack": {}}])
    engine, actions = engine_with(rb, ports, log, outbox)
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_page(params, ctx):  # a request PagerDuty answers after shutdown began
        log.append(("page", ctx.idempotency_key))
        started.set()
        await release.wait()
        return ActionResult(status_code=202, detail={"target": "page-target"})

    actions["page"]._run = slow_page
    [execution] = await engine.handle(make_event())
    await started.wait()
    stopping = asyncio.ensure_future(engine.stop(grace_s=60))
    await asyncio.sleep(0)
    assert not stopping.done()  # waits for the page under way
    release.set()
    await stopping
    recorded = outbox.get(execution.execution_id)
    assert recorded.step("0").status == "ok"  # its outcome is on record before the producer stops
    assert recorded.step("1").attempts == 0 and not recorded.done  # never tried: resumable
    assert [t for t, _ in log] == ["page"]  # the slack message was not started


async def test_stopping_gives_up_on_a_send_that_outlasts_the_grace(ports):
    outbox, log = InMemoryOutbox(), []
    engine, actions = engine_with(runbook(steps=[{"page": {}}]), ports, log, outbox)
    started = asyncio.Event()

    async def hung_page(params, ctx):
        started.set()
        await asyncio.Event().wait()

    actions["page"]._run = hung_page
    [execution] = await engine.handle(make_event())
    await started.wait()
    await engine.stop(grace_s=0.01)
    recorded = outbox.get(execution.execution_id)
    assert recorded.step("0").status == "running" and not recorded.done  # the next owner sends it again
