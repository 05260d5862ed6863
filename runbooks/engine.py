"""The executor: incident events in, runbook executions out — safe under redelivery and restarts.

For each runbook an event matches, the engine

1. derives the execution id from (runbook, incident id, event type, sequence, time): a redelivered
   event maps to the same execution, which is resumed or returned, never started twice;
2. applies the throttle (``min_interval`` per incident key and event type), the ``cooldown`` after the
   key's incident resolved, and the cap on destructive steps per hour;
3. writes the execution, with every planned step, to the outbox BEFORE any side effect;
4. runs the steps in order, each with the idempotency key ``"<execution_id>:<step index>"``, retrying
   a retryable ``ActionError`` with bounded exponential backoff, and writes an audit record per attempt.

``wait_for_ack`` never blocks ``handle()``: the rest of the execution continues in a task (``drain()``
awaits them). After a crash, ``resume(execution)`` skips every step already done.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Literal, Protocol

from pydantic import BaseModel, Field

from runbooks.actions.base import Action, ActionContext, ActionError, Escape
from runbooks.conditions import condition_data
from runbooks.durations import format_duration
from runbooks.incident import Incident, IncidentEvent, IncidentEventType
from runbooks.matcher import match
from runbooks.ports import Clock, ControlsPort, PromptsPort
from runbooks.schema import Runbook, Step

log = logging.getLogger(__name__)

ExecutionStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "suppressed"]
StepStatus = Literal["planned", "running", "waiting", "ok", "failed", "skipped", "suppressed"]
DONE_STEP = ("ok", "failed", "skipped", "suppressed")
DONE_EXECUTION = ("succeeded", "failed", "suppressed")
HOUR = 3600.0


class Attempt(BaseModel):
    """The audit record of one attempt of one step."""

    step: str
    type: str
    attempt: int
    target: str | None = None
    outcome: Literal["ok", "error", "dry_run", "skipped"]
    status_code: int | None = None
    duration_ms: float
    error: str | None = None
    retryable: bool | None = None
    at: float


class StepState(BaseModel):
    index: str  # "0", "3", "3.escalate.0"
    type: str
    name: str | None = None
    status: StepStatus = "planned"
    attempts: int = 0
    target: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None


class Execution(BaseModel):
    """One run of one runbook for one incident event: the record on ``tracewatch.actions``."""

    execution_id: str
    runbook: str
    incident_id: str
    incident_key: str
    event: IncidentEventType
    status: ExecutionStatus = "pending"
    reason: str = ""  # why it was suppressed or failed
    created_at: float
    updated_at: float
    steps: list[StepState] = Field(default_factory=list)
    audit: list[Attempt] = Field(default_factory=list)
    trigger: IncidentEvent  # the event it runs for: enough to resume after a restart

    def step(self, index: str) -> StepState:
        return next(s for s in self.steps if s.index == index)

    @property
    def done(self) -> bool:
        return self.status in DONE_EXECUTION


class Outbox(Protocol):
    """Where executions are recorded; the service's is the ``tracewatch.actions`` topic plus a table."""

    async def write(self, record: Execution) -> None: ...

    def get(self, execution_id: str) -> Execution | None: ...


class InMemoryOutbox:
    def __init__(self) -> None:
        self.records: list[Execution] = []  # every write, in order (copies)
        self._latest: dict[str, Execution] = {}

    async def write(self, record: Execution) -> None:
        copy = record.model_copy(deep=True)
        self.records.append(copy)
        self._latest[record.execution_id] = copy

    def get(self, execution_id: str) -> Execution | None:
        found = self._latest.get(execution_id)
        return found.model_copy(deep=True) if found is not None else None

    def unfinished(self) -> list[Execution]:
        return [e.model_copy(deep=True) for e in self._latest.values() if not e.done]


@dataclass
class Ports:
    """Everything actions and the engine reach outside themselves (plain dataclass)."""

    clock: Clock
    controls: ControlsPort
    prompts: PromptsPort
    #: the incident as it is now (for ``wait_for_ack``): acknowledged, resolved or still open
    incident_state: Callable[[str], Awaitable[Incident | None]] | None = None
    api_url: str = "http://127.0.0.1:6066"
    pagerduty: Any = None
    slack: Any = None
    http: Any = None


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def execution_id(runbook: str, event: IncidentEvent) -> str:
    """Deterministic: the same incident event (a redelivery) gives the same id.

    >>> from detectors.finding import Finding
    >>> f = Finding(time=5.0, detector="d", kind="cost", series="s", severity="info", score=1.0)
    >>> e = IncidentEvent(event="opened", incident=Incident.open_from(f, incident_id="inc-1"), time=5.0)
    >>> execution_id("rb", e) == execution_id("rb", e.model_copy()), execution_id("rb", e)[:3]
    (True, 'ex-')
    """
    key = "\x1f".join([runbook, event.incident.id, event.event, str(event.sequence), repr(event.time)])
    return "ex-" + hashlib.sha256(key.encode()).hexdigest()[:24]


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
        dry_run: bool = False, on_attempt: Callable[[Execution, Attempt], None] | None = None,
    ) -> None:
        self.runbooks = list(runbooks)
        self.actions = actions
        self.ports = ports
        self.outbox = outbox
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.wait_poll_s = wait_poll_s
        self.dry_run = dry_run
        self.on_attempt = on_attempt
        self._by_name = {rb.name: rb for rb in self.runbooks}
        self._tasks: set[asyncio.Task] = set()
        self._active: set[str] = set()  # execution ids being run by this engine right now
        self._last_run: dict[tuple[str, str, str], float] = {}  # (runbook, key, event) → time
        self._resolved_at: dict[str, float] = {}  # incident key → time its incident resolved
        self._destructive: dict[str, deque[float]] = {}  # runbook → times of destructive steps

    # ---- entry points -----------------------------------------------------------------------------
    async def handle(self, event: IncidentEvent) -> list[Execution]:
        """Run (or resume, or return) one execution per matching runbook; waits continue as tasks."""
        if event.event == "resolved":
            self._resolved_at[event.incident.key] = self.ports.clock.now()
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
        """Wait for every execution continuing in the background (after ``wait_for_ack``)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def is_running(self, execution_id: str) -> bool:
        """Whether this engine is running the execution now (inline or in the background)."""
        return execution_id in self._active

    def hand_over(self) -> None:
        """Stop the executions continuing in the background; they stay resumable from the outbox."""
        for task in list(self._tasks):
            task.cancel()

    def observe(self, execution: Execution) -> None:
        """Learn throttle and cap state from a recorded execution (rebuild after a restart)."""
        if execution.status != "suppressed":
            key = (execution.runbook, execution.incident_key, execution.event)
            self._last_run[key] = max(self._last_run.get(key, 0.0), execution.created_at)
        runbook = self._by_name.get(execution.runbook)
        for state in execution.steps:
            action = self.actions.get(state.type)
            if state.status == "ok" and action is not None and action.destructive and state.finished_at:
                self._destructive.setdefault(execution.runbook, deque()).append(state.finished_at)
        if execution.event == "resolved" and runbook is not None:
            self._resolved_at[execution.incident_key] = execution.created_at

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
        self._active.add(execution.execution_id)
        try:
            handed_off = await self._run(runbook, execution, inline=True)
        finally:
            if not handed_off:
                self._active.discard(execution.execution_id)
        return execution

    def _background(self, runbook: Runbook, execution: Execution) -> None:
        async def go() -> None:
            try:
                await self._run(runbook, execution, inline=False)
            except Exception:  # a bug must not kill the worker; the execution stays resumable
                log.exception("execution %s stopped", execution.execution_id)
            finally:
                self._active.discard(execution.execution_id)

        task = asyncio.get_running_loop().create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, runbook: Runbook, execution: Execution, *, inline: bool) -> bool:
        """Run the remaining steps; True when handed off to a background task at a wait."""
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
                    return True
                outcome = await self._wait(runbook, execution, str(i), step)
            else:
                outcome = await self._step(runbook, execution, str(i), step)
            if outcome == "failed" and step.on_failure == "abort":
                execution.reason = f"step {i} ({step.label}) failed; on_failure: abort"
                for rest in execution.steps:
                    if rest.status in ("planned", "waiting"):
                        rest.status, rest.error = "skipped", "aborted"
                break
        failed = any(s.status == "failed" for s in execution.steps)
        execution.status = "failed" if failed else "succeeded"
        await self._save(execution)
        return False

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
            outcome = (await self._wait(runbook, execution, sub_index, sub) if sub.type == "wait_for_ack"
                       else await self._step(runbook, execution, sub_index, sub))
            if outcome == "failed" and sub.on_failure == "abort":
                break
        state.status, state.finished_at = "ok", clock.now()
        await self._save(execution)
        return "ok"

    def _cap_reached(self, runbook: Runbook, now: float) -> bool:
        if runbook.max_destructive_per_hour is None:
            return False
        times = self._destructive.setdefault(runbook.name, deque())
        while times and times[0] <= now - HOUR:
            times.popleft()
        return len(times) >= runbook.max_destructive_per_hour

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
        ctx = ActionContext(
            incident=execution.trigger.incident, event=execution.trigger,
            execution_id=execution.execution_id, idempotency_key=f"{execution.execution_id}:{index}",
            render=_render_fn(execution, runbook.name, self.ports.api_url), ports=self.ports,
            dry_run=self.dry_run, extra={"runbook": runbook.name, "step": index},
        )
        while True:
            state.attempts += 1
            if state.attempts > 1:  # a fresh template budget for each attempt
                ctx.render = _render_fn(execution, runbook.name, self.ports.api_url)
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
                    self._destructive.setdefault(runbook.name, deque()).append(clock.now())
                await self._audit(execution, attempt)
                return "ok"
            attempt = Attempt(step=index, type=step.type, attempt=state.attempts, outcome="error",
                              status_code=error.status_code, duration_ms=duration_ms, error=str(error),
                              retryable=error.retryable, at=clock.now())
            state.error = str(error)
            if not error.retryable or state.attempts >= max_attempts:
                state.status, state.finished_at = "failed", clock.now()
                await self._audit(execution, attempt)
                return "failed"
            await self._audit(execution, attempt)
            await clock.sleep(self._backoff(state.attempts, error.retry_after))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = retry_after if retry_after is not None else self.backoff_s * 2 ** (attempt - 1)
        return max(0.0, min(delay, self.max_backoff_s))

    async def _audit(self, execution: Execution, attempt: Attempt) -> None:
        execution.audit.append(attempt)
        await self._save(execution)
        if self.on_attempt is not None:
            self.on_attempt(execution, attempt)

    async def _save(self, execution: Execution) -> None:
        execution.updated_at = self.ports.clock.now()
        await self.outbox.write(execution)
