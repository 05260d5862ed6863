"""``tracewatch runbooks test``: run each runbook's ``tests:`` hermetically, like ``amtool config routes test``.

Each test builds an incident (or groups ``findings:`` into one), sends the event through the real
matcher and engine with a fake clock, in-memory controls and prompt registry, and a recording double
for every action type (no network). What the runbook would have done — each step's type and its
params rendered through the real templating — is compared with ``expect:`` (in order; each expected
item's keys must match, other keys are ignored; ``expect: []`` means "does nothing").
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from typing import Any

from detectors.finding import Finding
from incidents.book import IncidentBook, IncidentPolicy
from runbooks.actions import ACTION_TYPES
from runbooks.actions.base import Action, ActionContext, ActionResult, StepParams
from runbooks.controls import InMemoryControls
from runbooks.durations import parse_duration
from runbooks.engine import Engine
from runbooks.execution import InMemoryOutbox
from runbooks.ports import Ports
from incidents.incident import Incident, IncidentEvent
from runbooks.pipeline import Pipeline
from runbooks.prompts import PromptRegistry
from runbooks.schema import IncidentSpec, Runbook, RunbookTest

T0 = 1_700_000_000.0
FINDING_SPACING_S = 60.0
#: Actions whose in-memory effect is real in a test (the others are only recorded).
_IN_MEMORY = ("block", "unblock", "rollback_prompt", "promote_prompt", "pin_model", "unpin_model")


class FakeClock:
    """Time that only moves when someone sleeps: a 15-minute wait takes no real time."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


class RecordingAction(Action):
    """Records the step's rendered params; runs the real action only when it is in-memory."""

    def __init__(self, step_type: str, calls: list[dict[str, Any]], inner: Action | None = None) -> None:
        self.type = step_type  # type: ignore[misc]
        self.destructive = ACTION_TYPES[step_type].destructive  # type: ignore[misc]
        self.notification = ACTION_TYPES[step_type].notification  # type: ignore[misc]
        self.Params = ACTION_TYPES[step_type].Params  # type: ignore[misc]
        self.calls = calls
        self.inner = inner

    async def _run(self, params: StepParams, ctx: ActionContext) -> ActionResult:
        rendered = _render_all(params.model_dump(mode="json", exclude_none=True), ctx)
        self.calls.append({"type": self.type, **rendered, STEP_KEY: (ctx.execution_id, ctx.extra.get("step", ""))})
        if self.inner is not None:
            return await self.inner._run(params, ctx)
        return ActionResult(detail={"recorded": True})


STEP_KEY = "__step__"  # which execution and step made a call; dropped before calls are compared


def in_step_order(calls: list[dict[str, Any]], executions: list[Any], *, keep: bool = False) -> list[dict[str, Any]]:
    """The calls in the order the runbooks declare their steps (``keep``: with ``STEP_KEY``). The engine
    delivers notifications in their own queue, apart from protective steps, so the order calls are made
    in is not the contract."""
    rank = {e.execution_id: i for i, e in enumerate(executions)}

    def key(call: dict[str, Any]) -> tuple:
        xid, index = call[STEP_KEY]
        return rank.get(xid, len(rank)), [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in index.split(".")]

    ordered = sorted(calls, key=key)
    return [dict(c) for c in ordered] if keep else [{k: v for k, v in c.items() if k != STEP_KEY} for c in ordered]


def _render_all(value: Any, ctx: ActionContext) -> Any:
    if isinstance(value, str):
        return ctx.render(value, "plain")
    if isinstance(value, dict):
        return {k: _render_all(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_all(v, ctx) for v in value]
    return value


def _finding(spec: IncidentSpec, at: float) -> Finding:
    return Finding(time=at, detector=spec.detector, kind=spec.kind, series=spec.series,
                   severity=spec.severity, score=spec.score, summary=spec.summary,
                   evidence=spec.evidence, target=spec.target, labels=spec.labels)


def build_event(test: RunbookTest) -> IncidentEvent:
    """The incident the test's findings make, grouped by the worker's own IncidentBook (dedup,
    escalation, targets), sent as the test's ``event``."""
    specs = test.findings if test.findings is not None else [test.incident]
    findings = [_finding(s, T0 + i * FINDING_SPACING_S) for i, s in enumerate(specs)]
    keys = sorted({f.incident_key for f in findings})
    if len(keys) > 1:
        raise ValueError(f"the findings belong to {len(keys)} incidents ({', '.join(keys)}): "
                         "a test's findings must share detector and series")
    # Every severity opens an incident here: the test names the incident it wants, info ones included.
    pipeline = Pipeline(book=IncidentBook({}, IncidentPolicy(resolve_after_s=math.inf, min_severity="info")))
    for finding in findings:
        pipeline.group(finding)
    incident = pipeline.book.get(keys[0])
    assert incident is not None
    incident.id = "inc-test-1"
    incident.state = specs[-1].state
    if test.event == "resolved":
        incident.state, incident.resolved_at = "resolved", incident.updated_at
    return IncidentEvent(event=test.event, incident=incident, time=incident.updated_at)


async def _seed_prompts(registry: PromptRegistry, test: RunbookTest, incident: Incident) -> None:
    histories = dict(test.prompts)
    target = incident.target
    if not histories and target.prompt_id and target.prompt_version:
        v = target.prompt_version
        histories[target.prompt_id] = [str(int(v) - 1), v] if v.isdigit() and int(v) > 1 else ["previous", v]
    for prompt_id, history in histories.items():
        for version in dict.fromkeys(history):
            await registry.register(prompt_id, version, by="test")
        for version in history:
            await registry.set_label(prompt_id, version, by="test", reason="test setup")


@dataclass
class TestOutcome:
    __test__ = False  # not a pytest test class

    runbook: str
    file: str
    name: str
    passed: bool
    actions: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _same(expected: Any, actual: Any) -> bool:
    if expected == actual or str(expected) == str(actual):
        return True
    try:
        return parse_duration(expected) == parse_duration(actual)
    except (ValueError, TypeError):
        return False


def compare(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Human-readable differences ('' when ``actual`` satisfies ``expected``)."""
    problems: list[str] = []
    if [e["type"] for e in expected] != [a["type"] for a in actual]:
        problems.append(f"expected actions {[e['type'] for e in expected]}, "
                        f"got {[a['type'] for a in actual]}")
    for i, (exp, act) in enumerate(zip(expected, actual)):
        if exp["type"] != act["type"]:
            continue
        for key, value in exp.items():
            if key not in act:
                problems.append(f"action {i} ({exp['type']}): no key {key!r} (has: {', '.join(act)})")
            elif not _same(value, act[key]):
                problems.append(f"action {i} ({exp['type']}).{key}: expected {value!r}, got {act[key]!r}")
    return problems


async def run_test(runbook: Runbook, test: RunbookTest, others: list[Runbook] | None = None) -> TestOutcome:
    """Run one test of ``runbook`` (only that runbook is loaded unless ``others`` are given)."""
    clock = FakeClock()
    calls: list[dict[str, Any]] = []
    controls = InMemoryControls(clock)
    prompts = PromptRegistry(clock)
    try:
        event = build_event(test)
    except ValueError as exc:
        return TestOutcome(runbook.name, runbook.source, test.name, False, [], [str(exc)])
    await _seed_prompts(prompts, test, event.incident)
    clock.t = event.time

    async def incident_state(incident_id: str) -> Incident:
        current = event.incident.model_copy()
        elapsed = clock.now() - event.time
        if test.resolve_after is not None and elapsed >= test.resolve_after:
            current.state = "resolved"
        elif test.ack_after is not None and elapsed >= test.ack_after:
            current.state = "acknowledged"
        return current

    ports = Ports(clock=clock, controls=controls, prompts=prompts, incident_state=incident_state)
    actions: dict[str, Action] = {
        name: RecordingAction(name, calls, cls() if name in _IN_MEMORY else None)
        for name, cls in ACTION_TYPES.items()
    }
    engine = Engine([runbook, *(others or [])], actions, ports, InMemoryOutbox(), backoff_s=0.0)
    executions = await Pipeline(book=IncidentBook({}), engine=engine).respond(event)
    await engine.drain()
    calls[:] = in_step_order(calls, executions)
    expected = [{"type": e.type, **e.params} for e in test.expect]
    problems = compare(expected, calls)
    for execution in executions:
        for step in execution.steps:
            if step.status == "failed":
                problems.append(f"step {step.index} ({step.type}) failed: {step.error}")
        if execution.status == "suppressed":
            problems.append(f"execution suppressed: {execution.reason}")
    return TestOutcome(runbook.name, runbook.source, test.name, not problems, calls, problems)


async def run_tests(runbooks: list[Runbook]) -> list[TestOutcome]:
    return [await run_test(rb, test) for rb in runbooks for test in rb.tests]


def format_outcome(outcome: TestOutcome, *, verbose: bool = False) -> list[str]:
    lines = [f"  {'PASS' if outcome.passed else 'FAIL'}  {outcome.name}"]
    if not outcome.passed or verbose:
        lines += [f"        {p}" for p in outcome.problems]
        for call in outcome.actions:
            lines.append(f"        did: {json.dumps(call, sort_keys=True, ensure_ascii=False)[:300]}")
        if not outcome.actions:
            lines.append("        did: nothing")
    return lines
