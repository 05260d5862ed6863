"""The executor: incident events in, runbook executions out — safe under redelivery and restarts.

For each runbook an event matches, the engine

1. derives the execution id from (runbook, incident id, event type, sequence, time): a redelivered
   event maps to the same execution, which is resumed or returned, never started twice;
2. applies the throttle (``min_interval`` per incident key and event type), the ``cooldown`` after the
   key's incident resolved, and the cap on destructive steps per hour;
3. writes the execution, with every planned step, to the outbox BEFORE any side effect;
4. runs the steps in order, each with the idempotency key ``"<execution_id>:<step index>"``, retrying
   a retryable ``ActionError`` with bounded exponential backoff, and writes an audit record per attempt.

Notifications (actions with ``notification = True``: page, resolve_page, slack, webhook) are delivered
apart from the other steps, by one queue per incident key: a protective step (block, rollback) never
waits for a page that PagerDuty refuses, and a resolve never overtakes its trigger. A notification that
fails with a retryable error stays pending (``retrying``, with ``next_attempt_at``) and is tried again with
exponential backoff and full jitter, honouring ``Retry-After``, until it succeeds or ``delivery_deadline_s``
after its first attempt has passed; then it fails, and ``on_delivery_failed`` is told.

``wait_for_ack`` never blocks ``handle()``: the rest of the execution continues in a task (``drain()``
awaits them, and the deliveries). After a crash, ``resume(execution)`` skips every step already done and
queues its pending notifications again, keeping their deadline.

The records (``Execution``, ``StepState``, ``Attempt``) and the outbox are in ``runbooks.execution``;
what the engine reaches outside itself (``Ports``) is in ``runbooks.ports``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from typing import Any, Awaitable, Callable, Iterable, Mapping

from incidents.incident import IncidentEvent
from runbooks.actions.base import Action, ActionContext, ActionError
from runbooks.conditions import condition_data
from runbooks.durations import format_duration
from runbooks.execution import DONE_STEP, Attempt, Execution, Outbox, StepState, execution_id
from runbooks.matcher import match
from runbooks.ports import Ports
from runbooks.schema import Runbook, Step
from runbooks.templating import Escape

log = logging.getLogger(__name__)

HOUR = 3600.0


def _render_fn(execution: Execution, runbook: str, api_url: str) -> Callable[[str, Escape], str]:
    try:
        from runbooks.templating import new_budget, render, template_data
    except ImportError:  # pragma: no cover - templating ships with the package
        return lambda template, escape: template
    event = execution.trigger
    extra = {
        "execution_id": execution.execution_id, "runbook": runbook,
        "steps": {s.index: {"status": s.status, **s.detail} for s in execution.steps},
        "distinct": condition_data(event)["distinct"],
    }
    data = template_data(event.incident, event, extra, api_url=api_url)
    budget = new_budget()  # one for all the templates of a step attempt
    return lambda template, escape: render(template, data, escape, budget=budget)


class Engine:
    def __init__(
        self, runbooks: Iterable[Runbook], actions: dict[str, Action], ports: Ports, outbox: Outbox, *,
        backoff_s: float = 1.0, max_backoff_s: float = 60.0, wait_poll_s: float = 15.0,
        delivery_deadline_s: float = 6 * HOUR, max_delivery_backoff_s: float = 300.0,
        dry_run: bool = False, on_attempt: Callable[[Execution, Attempt], None] | None = None,
        on_delivery_failed: Callable[[Execution, StepState], Awaitable[None]] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.runbooks = list(runbooks)
        self.actions = actions
        self.ports = ports
        self.outbox = outbox
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.wait_poll_s = wait_poll_s
        self.delivery_deadline_s = delivery_deadline_s
        self.max_delivery_backoff_s = max_delivery_backoff_s
        self.dry_run = dry_run
        self.on_attempt = on_attempt
        self.on_delivery_failed = on_delivery_failed
        self.jitter = jitter
        # incident key → its notifications still to deliver, in order, and the task delivering them
        self._deliveries: dict[str, deque[tuple[Runbook, Execution, str, Step]]] = {}
        self._delivering: dict[str, asyncio.Task] = {}
        self._queued: dict[tuple[str, str], asyncio.Future] = {}  # (execution id, step) → its outcome
        self._by_name = {rb.name: rb for rb in self.runbooks}
        self._tasks: set[asyncio.Task] = set()
        self._active: set[str] = set()  # execution ids being run by this engine right now
        self._last_run: dict[tuple[str, str, str], float] = {}  # (runbook, key, event) → time
        self._resolved_at: dict[str, float] = {}  # incident key → time its incident resolved
        # runbook → (execution, step) → when a destructive step succeeded; keyed so that observing an
        # execution again (every rebalance) does not count its steps twice against the cap
        self._destructive: dict[str, dict[tuple[str, str], float]] = {}
        # attempts under way (a request may be out): a stopping worker lets them finish and be recorded
        self._sends_in_flight = 0
        self._no_sends = asyncio.Event()
        self._no_sends.set()
        self._stopping = False

    # ---- entry points -----------------------------------------------------------------------------
    async def handle(self, event: IncidentEvent) -> list[Execution]:
        """Run (or resume, or return) one execution per matching runbook; waits continue as tasks."""
        if event.event == "resolved":
            self._resolved_at[event.incident.key] = max(self._resolved_at.get(event.incident.key, 0.0),
                                                        self.ports.clock.now())
        out: list[Execution] = []
        for runbook in match(self.runbooks, event):
            xid = execution_id(runbook.name, event)
            existing = self.outbox.get(xid)
            if existing is not None:
                resumable = not existing.done and xid not in self._active
                out.append(await self.resume(existing) if resumable else existing)
                continue
            now = self.ports.clock.now()
            execution = Execution(
                execution_id=xid, runbook=runbook.name, incident_id=event.incident.id,
                incident_key=event.incident.key, event=event.event, created_at=now, updated_at=now,
                trigger=event,
                steps=[StepState(index=i, type=s.type, name=s.name) for i, s in runbook.all_steps()],
            )
            reason = self._suppressed(runbook, event, now)
            if reason:
                execution.status, execution.reason = "suppressed", reason
                for state in execution.steps:
                    state.status = "suppressed"
                await self.outbox.write(execution)
                out.append(execution)
                continue
            self._last_run[(runbook.name, event.incident.key, event.event)] = now
            await self.outbox.write(execution)  # the outbox: recorded before any side effect
            out.append(await self._start(runbook, execution))
        return out

    async def resume(self, pending: Execution) -> Execution:
        """Continue an execution found unfinished after a restart; steps already done are not redone."""
        runbook = self._by_name.get(pending.runbook)
        if runbook is None:
            pending.status, pending.reason = "failed", f"runbook {pending.runbook!r} is no longer loaded"
            await self._save(pending)
            return pending
        return await self._start(runbook, pending)

    async def drain(self) -> None:
        """Wait for every execution continuing in the background (waits and deliveries)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def deliveries_done(self) -> None:
        """Wait until every queued notification has been delivered or has failed."""
        while self._delivering:
            await asyncio.gather(*list(self._delivering.values()))

    def pending_deliveries(self) -> list[StepState]:
        """The notifications not delivered yet (for ``tracewatch_actions_pending``), oldest first."""
        return [execution.step(index) for queue in self._deliveries.values() for _, execution, index, _ in queue]

    def is_running(self, execution_id: str) -> bool:
        """Whether this engine is running the execution now (inline or in the background)."""
        return execution_id in self._active

    def hand_over(self) -> None:
        """Stop the executions continuing in the background; they stay resumable from the outbox."""
        for task in list(self._tasks):
            task.cancel()
        for queue in self._deliveries.values():
            self._active.difference_update(execution.execution_id for _, execution, _, _ in queue)
        for outcome in self._queued.values():
            if not outcome.done():
                outcome.set_result("queued")  # still to deliver: whoever owns the incident next does it
        self._deliveries.clear()
        self._delivering.clear()
        self._queued.clear()

    async def stop(self, grace_s: float) -> None:
        """At shutdown, while the producer still runs: start no new attempt, give the attempts under way
        up to ``grace_s`` to finish and be recorded, then hand the rest over. A page PagerDuty accepted
        whose outcome was never recorded would be sent again by the incident's next owner (merged by its
        dedup_key, but noise in the audit); one still out after the grace is, exactly so.
        """
        self._stopping = True
        if self._sends_in_flight:
            log.warning("stopping with %d action attempt(s) under way; waiting up to %.0f s for their outcome",
                        self._sends_in_flight, grace_s)
        try:
            await asyncio.wait_for(self._no_sends.wait(), grace_s)
        except asyncio.TimeoutError:
            log.warning("%d action attempt(s) still under way after %.0f s of shutdown; their outcome is "
                        "not recorded and the next owner of the incident repeats them", self._sends_in_flight,
                        grace_s)
        self.hand_over()

    def observe(self, execution: Execution) -> None:
        """Learn throttle and cap state from a recorded execution (rebuild after a restart)."""
        self.learn(execution.model_dump(mode="json", include={"execution_id", "runbook", "incident_key", "event",
                                                               "status", "created_at", "steps"}))

    def learn(self, record: Mapping[str, Any]) -> None:
        """``observe`` for an execution as recorded on ``tracewatch.actions`` (its JSON object), cheap
        enough for every record the worker mirrors. Idempotent: records are seen again after a restart
        and a worker's own writes come back through the mirror.
        """
        name, key, event = record.get("runbook"), record.get("incident_key"), record.get("event")
        created = record.get("created_at") or 0.0
        if record.get("status") != "suppressed":
            self._last_run[(name, key, event)] = max(self._last_run.get((name, key, event), 0.0), created)
        for state in record.get("steps") or ():
            action = self.actions.get(state.get("type"))
            if state.get("status") == "ok" and action is not None and action.destructive and state.get("finished_at"):
                self._destructive.setdefault(name, {})[(record.get("execution_id"), state.get("index"))] = \
                    state["finished_at"]
        if event == "resolved" and name in self._by_name:
            self._resolved_at[key] = max(self._resolved_at.get(key, 0.0), created)

    # ---- running ----------------------------------------------------------------------------------
    def _suppressed(self, runbook: Runbook, event: IncidentEvent, now: float) -> str:
        throttle, key = runbook.throttle, event.incident.key
        last = self._last_run.get((runbook.name, key, event.event))
        if throttle.min_interval and last is not None and now - last < throttle.min_interval:
            return (f"throttled: ran for {key} {format_duration(now - last)} ago "
                    f"(min_interval {format_duration(throttle.min_interval)})")
        resolved = self._resolved_at.get(key)
        if (throttle.cooldown and event.event == "opened" and resolved is not None
                and now - resolved < throttle.cooldown):
            return (f"cooldown: {key} resolved {format_duration(now - resolved)} ago "
                    f"(cooldown {format_duration(throttle.cooldown)})")
        return ""

    async def _start(self, runbook: Runbook, execution: Execution) -> Execution:
        # The execution stays active until its last step is done (it may wait or deliver in the
        # background); whoever finishes it (``_finish``) lets it go.
        self._active.add(execution.execution_id)
        try:
            await self._run(runbook, execution, inline=True)
        except BaseException:
            self._active.discard(execution.execution_id)
            raise
        return execution

    def _spawn(self, what: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task:
        async def go() -> None:
            try:
                await run()
            except Exception:  # a bug must not kill the worker; the execution stays resumable
                log.exception("%s stopped", what)

        task = asyncio.get_running_loop().create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _background(self, runbook: Runbook, execution: Execution) -> None:
        async def run() -> None:
            try:
                await self._run(runbook, execution, inline=False)
            except Exception:
                self._active.discard(execution.execution_id)
                raise

        self._spawn(f"execution {execution.execution_id}", run)

    async def _run(self, runbook: Runbook, execution: Execution, *, inline: bool) -> None:
        """Run the remaining steps; at a wait, when ``inline``, hand the rest to a background task."""
        execution.status = "running"
        for i, step in enumerate(runbook.steps):
            state = execution.step(str(i))
            if state.status in DONE_STEP:
                continue
            if step.type == "wait_for_ack":
                if inline:
                    state.status = "waiting"
                    state.started_at = state.started_at or self.ports.clock.now()
                    execution.status = "waiting"
                    await self._save(execution)
                    self._background(runbook, execution)
                    return
                outcome = await self._wait(runbook, execution, str(i), step)
            elif self._is_notification(step):
                outcome = await self._queue_delivery(runbook, execution, str(i), step)
                if outcome == "queued" and step.on_failure == "abort":  # the author wants to wait for it
                    outcome = await self._queued[(execution.execution_id, str(i))]
            else:
                outcome = await self._step(runbook, execution, str(i), step)
            if outcome == "failed" and step.on_failure == "abort":
                execution.reason = f"step {i} ({step.label}) failed; on_failure: abort"
                for rest in execution.steps:
                    if rest.status in ("planned", "waiting"):
                        rest.status, rest.error = "skipped", "aborted"
                break
        await self._finish(execution)

    async def _finish(self, execution: Execution) -> None:
        """Record the outcome once every step is done; until then the execution is still running."""
        if any(s.status not in DONE_STEP for s in execution.steps):
            await self._save(execution)
            return
        failed = any(s.status == "failed" for s in execution.steps)
        execution.status = "failed" if failed else "succeeded"
        await self._save(execution)
        self._active.discard(execution.execution_id)

    # ---- notifications: one ordered queue per incident key ----------------------------------------
    def _is_notification(self, step: Step) -> bool:
        action = self.actions.get(step.type)
        return action is not None and action.notification

    async def _queue_delivery(self, runbook: Runbook, execution: Execution, index: str, step: Step) -> str:
        """Queue a notification behind the incident's earlier ones; "queued" (or its ``when`` outcome)."""
        state = execution.step(index)
        if (execution.execution_id, index) in self._queued:
            return "queued"  # the run goes on after a wait: this one is queued already
        if step.when is not None and not step.when.evaluate(condition_data(execution.trigger)):
            state.status, state.finished_at = "skipped", self.ports.clock.now()
            state.detail = {"when": str(step.when)}
            await self._save(execution)
            return "skipped"
        self._queued[(execution.execution_id, index)] = asyncio.get_running_loop().create_future()
        state.status = "queued"
        state.started_at = state.started_at or self.ports.clock.now()  # the delivery deadline runs from here
        await self._save(execution)
        key = execution.incident_key
        self._deliveries.setdefault(key, deque()).append((runbook, execution, index, step))
        if key not in self._delivering:
            self._delivering[key] = self._spawn(f"deliveries of {key}", lambda: self._deliver(key))
        return "queued"

    async def _deliver(self, key: str) -> None:
        queue = self._deliveries.get(key)
        try:
            while queue:
                runbook, execution, index, step = queue[0]
                try:
                    outcome = await self._step(runbook, execution, index, step)
                except Exception:  # noqa: BLE001 - an engine bug: the step fails, later ones still go
                    log.exception("delivery of step %s of %s failed", index, execution.execution_id)
                    state = execution.step(index)
                    state.status, state.error, state.finished_at = "failed", "internal error", self.ports.clock.now()
                    outcome = "failed"
                queue.popleft()
                done = self._queued.pop((execution.execution_id, index), None)
                if done is not None and not done.done():
                    done.set_result(outcome)
                if outcome == "failed" and self.on_delivery_failed is not None:
                    try:
                        await self.on_delivery_failed(execution, execution.step(index))
                    except Exception:  # noqa: BLE001 - the fallback is best effort; the failure is recorded
                        log.exception("could not report the failed delivery of %s", execution.execution_id)
                await self._finish(execution)
        finally:
            if self._deliveries.get(key) is queue:
                del self._deliveries[key]
                self._delivering.pop(key, None)

    async def _wait(self, runbook: Runbook, execution: Execution, index: str, step: Step) -> str:
        clock, state = self.ports.clock, execution.step(index)
        state.status = "waiting"
        state.started_at = state.started_at or clock.now()
        execution.status = "waiting"
        await self._save(execution)
        deadline = state.started_at + step.params.timeout
        while state.detail.get("outcome") != "timeout":
            current = None
            if self.ports.incident_state is not None:
                current = await self.ports.incident_state(execution.incident_id)
            if current is not None and current.state in ("acknowledged", "resolved"):
                state.status, state.finished_at = "ok", clock.now()
                state.detail = {"outcome": current.state}
                await self._save(execution)
                return "ok"
            now = clock.now()
            if now >= deadline:
                state.detail = {"outcome": "timeout"}
                break
            await clock.sleep(min(self.wait_poll_s, deadline - now))
        execution.status = "running"
        await self._save(execution)
        for j, sub in enumerate(step.params.escalate):
            sub_index = f"{index}.escalate.{j}"
            if execution.step(sub_index).status in DONE_STEP:
                continue
            if sub.type == "wait_for_ack":
                outcome = await self._wait(runbook, execution, sub_index, sub)
            elif self._is_notification(sub):
                outcome = await self._queue_delivery(runbook, execution, sub_index, sub)
            else:
                outcome = await self._step(runbook, execution, sub_index, sub)
            if outcome == "failed" and sub.on_failure == "abort":
                break
        state.status, state.finished_at = "ok", clock.now()
        await self._save(execution)
        return "ok"

    def _cap_reached(self, runbook: Runbook, now: float) -> bool:
        if runbook.max_destructive_per_hour is None:
            return False
        done = self._destructive.setdefault(runbook.name, {})
        for step in [step for step, at in done.items() if at <= now - HOUR]:
            del done[step]
        return len(done) >= runbook.max_destructive_per_hour

    async def _step(self, runbook: Runbook, execution: Execution, index: str, step: Step) -> str:
        clock, state = self.ports.clock, execution.step(index)
        if step.when is not None and not step.when.evaluate(condition_data(execution.trigger)):
            state.status, state.finished_at = "skipped", clock.now()
            state.detail = {"when": str(step.when)}
            await self._save(execution)
            return "skipped"
        action = self.actions.get(step.type)
        if action is None:
            state.status, state.error = "failed", f"no action is configured for step type {step.type!r}"
            await self._save(execution)
            return "failed"
        if action.destructive and self._cap_reached(runbook, clock.now()):
            state.status, state.finished_at = "suppressed", clock.now()
            state.error = (f"cap reached: {runbook.max_destructive_per_hour} destructive actions "
                           "per hour for this runbook")
            await self._save(execution)
            return "suppressed"
        state.status = "running"
        state.started_at = state.started_at or clock.now()
        await self._save(execution)
        max_attempts = max(step.retries + 1, state.attempts + 1)
        deadline = state.started_at + self.delivery_deadline_s if action.notification else None
        ctx = ActionContext(
            incident=execution.trigger.incident, event=execution.trigger,
            execution_id=execution.execution_id, idempotency_key=f"{execution.execution_id}:{index}",
            render=_render_fn(execution, runbook.name, self.ports.api_url), ports=self.ports,
            dry_run=self.dry_run, extra={"runbook": runbook.name, "step": index},
        )
        while True:
            if self._stopping:  # the worker is stopping: no new send; the step stays resumable
                raise asyncio.CancelledError("the worker is stopping")
            state.attempts += 1
            if state.attempts > 1:  # a fresh template budget for each attempt
                ctx.render = _render_fn(execution, runbook.name, self.ports.api_url)
            self._sends_in_flight += 1
            self._no_sends.clear()
            try:
                outcome, delay = await self._attempt(runbook, execution, index, step, action, ctx, deadline,
                                                     max_attempts)
            finally:
                self._sends_in_flight -= 1
                if not self._sends_in_flight:
                    self._no_sends.set()
            if outcome is not None:
                return outcome
            await clock.sleep(delay)
            state.status = "running"

    async def _attempt(self, runbook: Runbook, execution: Execution, index: str, step: Step, action: Action,
                       ctx: ActionContext, deadline: float | None, max_attempts: int) -> tuple[str | None, float]:
        """One attempt of a step, recorded: its outcome, or ``None`` and the delay before the next."""
        clock, state = self.ports.clock, execution.step(index)
        started = time.monotonic()
        error: ActionError | None = None
        try:
            result = await action.execute(step.params, ctx)
        except ActionError as exc:
            error = exc
        except Exception as exc:  # an action bug: recorded, not retried
            error = ActionError(f"{type(exc).__name__}: {exc}", retryable=False)
        duration_ms = round((time.monotonic() - started) * 1000, 3)
        if error is None:
            target = result.detail.get("target")
            attempt = Attempt(step=index, type=step.type, attempt=state.attempts, target=target,
                              outcome=result.outcome, status_code=result.status_code,
                              duration_ms=duration_ms, at=clock.now())
            state.status, state.finished_at, state.error = "ok", clock.now(), None
            state.target, state.detail = target, dict(result.detail)
            if action.destructive and result.outcome == "ok":
                self._destructive.setdefault(runbook.name, {})[(execution.execution_id, index)] = clock.now()
            await self._audit(execution, attempt)
            return "ok", 0.0
        attempt = Attempt(step=index, type=step.type, attempt=state.attempts, outcome="error",
                          status_code=error.status_code, duration_ms=duration_ms, error=str(error),
                          retryable=error.retryable, at=clock.now())
        state.error = str(error)
        if deadline is None:
            delay = self._backoff(state.attempts, error.retry_after)
            give_up = not error.retryable or state.attempts >= max_attempts
        else:
            delay = self._delivery_backoff(state.attempts, error.retry_after)
            give_up = not error.retryable or clock.now() + delay > deadline
            if error.retryable and give_up:
                state.error = (f"{error} (gave up after {state.attempts} attempts: the delivery deadline, "
                               f"{format_duration(self.delivery_deadline_s)} after the first, has passed)")
        if give_up:
            state.status, state.finished_at = "failed", clock.now()
            state.detail.pop("next_attempt_at", None)
            await self._audit(execution, attempt)
            return "failed", 0.0
        if deadline is not None:
            state.status = "retrying"
            state.detail["next_attempt_at"] = clock.now() + delay
        await self._audit(execution, attempt)
        return None, delay

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = retry_after if retry_after is not None else self.backoff_s * 2 ** (attempt - 1)
        return max(0.0, min(delay, self.max_backoff_s))

    def _delivery_backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with "equal jitter" (half fixed, half random): the incidents that failed
        together in one outage spread out when it ends; ``Retry-After`` is a floor, never shortened."""
        ceiling = min(self.backoff_s * 2 ** (attempt - 1), self.max_delivery_backoff_s)
        delay = ceiling * (0.5 + 0.5 * self.jitter())
        return max(0.0, delay if retry_after is None else max(retry_after, delay))

    async def _audit(self, execution: Execution, attempt: Attempt) -> None:
        execution.audit.append(attempt)
        await self._save(execution)
        if self.on_attempt is not None:
            self.on_attempt(execution, attempt)

    async def _save(self, execution: Execution) -> None:
        execution.updated_at = self.ports.clock.now()
        await self.outbox.write(execution)
