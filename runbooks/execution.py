"""An execution's record — what ran, step by step, with an audit record per attempt — and the outbox it
is written to before any side effect (the service's is the ``tracewatch.actions`` topic)."""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from incidents.incident import IncidentEvent, IncidentEventType

ExecutionStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "suppressed"]
StepStatus = Literal["planned", "queued", "running", "retrying", "waiting", "ok", "failed", "skipped",
                     "suppressed"]
DONE_STEP = ("ok", "failed", "skipped", "suppressed")
DONE_EXECUTION = ("succeeded", "failed", "suppressed")
PENDING_DELIVERY = ("queued", "running", "retrying")


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


def execution_id(runbook: str, event: IncidentEvent) -> str:
    """Deterministic: the same incident event (a redelivery) gives the same id.

    >>> from detectors.finding import Finding
    >>> from incidents.incident import Incident
    >>> f = Finding(time=5.0, detector="d", kind="cost", series="s", severity="info", score=1.0)
    >>> e = IncidentEvent(event="opened", incident=Incident.open_from(f, incident_id="inc-1"), time=5.0)
    >>> execution_id("rb", e) == execution_id("rb", e.model_copy()), execution_id("rb", e)[:3]
    (True, 'ex-')
    """
    key = "\x1f".join([runbook, event.incident.id, event.event, str(event.sequence), repr(event.time)])
    return "ex-" + hashlib.sha256(key.encode()).hexdigest()[:24]
