"""The incident as the runbook engine sees it: pure data, no storage.

The incident agent in ``streams/`` owns the lifecycle (open → acknowledged → resolved) and hands the
engine an ``IncidentEvent`` each time something happens to an incident.

>>> from detectors.finding import Finding
>>> f = Finding(time=1.0, detector="latency_p95", kind="latency", series="model=m", severity="warning", score=0.9)
>>> inc = Incident.open_from(f, incident_id="inc-1")
>>> inc.state, inc.severity, inc.labels["detector"]
('open', 'warning', 'latency_p95')
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import orjson

from pydantic import BaseModel, ConfigDict, Field

from detectors.finding import Finding, Severity, Target

IncidentState = Literal["open", "acknowledged", "resolved"]
IncidentEventType = Literal["opened", "escalated", "resolved"]

MAX_FINDINGS_KEPT = 50


class ExecutionSummary(BaseModel):
    """One runbook execution as the incident remembers it (details live on tracewatch.actions)."""

    execution_id: str
    runbook: str
    event: IncidentEventType
    status: str  # pending | running | succeeded | failed | suppressed
    steps: list[dict[str, Any]] = Field(default_factory=list)


class LastChange(BaseModel):
    """The incident's latest lifecycle event, kept so that an owner that cannot tell whether it was
    published (a crash between the table write and the record) can publish exactly the same one again."""

    event: IncidentEventType
    time: float
    sequence: int


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    key: str  # detector|series
    # Which incident of its key this is (0: the first): with the key, its identity (``incident_id_for``).
    number: int = 0
    detector: str
    kind: str
    series: str
    severity: Severity
    state: IncidentState = "open"
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    target: Target = Field(default_factory=Target)
    opened_at: float
    updated_at: float
    last_finding_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    finding_count: int = 0
    event_count: int = 0  # lifecycle events so far; the next one's IncidentEvent.sequence
    last_change: LastChange | None = None
    findings: list[Finding] = Field(default_factory=list)  # the most recent MAX_FINDINGS_KEPT
    executions: list[ExecutionSummary] = Field(default_factory=list)

    @classmethod
    def open_from(cls, finding: Finding, incident_id: str, number: int = 0) -> "Incident":
        labels = {
            "detector": finding.detector,
            "kind": finding.kind,
            "series": finding.series,
            "severity": finding.severity,
            **{k: v for k, v in finding.target.model_dump().items() if v is not None},
            **finding.labels,
        }
        return cls(
            id=incident_id,
            key=finding.incident_key,
            number=number,
            detector=finding.detector,
            kind=finding.kind,
            series=finding.series,
            severity=finding.severity,
            summary=finding.summary,
            labels=labels,
            target=finding.target,
            opened_at=finding.time,
            updated_at=finding.time,
            last_finding_at=finding.time,
            finding_count=1,
            findings=[finding],
        )


class IncidentEvent(BaseModel):
    """What happened to an incident: the input of the runbook engine (trigger `on:`)."""

    model_config = ConfigDict(extra="forbid")

    event: IncidentEventType
    incident: Incident
    time: float  # when it happened (event time of the finding, or wall time for ack/resolve)
    sequence: int = 0  # the incident's event counter: (incident id, event, sequence) names a redelivery


#: The changes that runbooks answer; ``acknowledged`` and ``updated`` records only inform the view.
RUNBOOK_EVENTS: tuple[str, ...] = ("opened", "escalated", "resolved")


class IncidentChange(NamedTuple):
    """One record of ``tracewatch.incidents``: what changed — a lifecycle event, ``acknowledged`` or
    ``updated`` (fresh figures for an open incident) — and the whole incident after it."""

    change: str
    incident: Incident
    time: float
    sequence: int = 0

    @classmethod
    def of(cls, event: IncidentEvent) -> "IncidentChange":
        return cls(event.event, event.incident, event.time, event.sequence)

    def to_json(self) -> bytes:
        """The record's value on the topic."""
        return orjson.dumps({"change": self.change, "incident": self.incident.model_dump(mode="json"),
                             "time": self.time, "sequence": self.sequence})

    @classmethod
    def from_json(cls, raw: bytes) -> "IncidentChange":
        record = orjson.loads(raw)
        return cls(record["change"], Incident.model_validate(record["incident"]), record["time"],
                   record.get("sequence", 0))

    def runbook_event(self) -> IncidentEvent | None:
        """The event runbooks answer, or None for a change they do not."""
        if self.change not in RUNBOOK_EVENTS:
            return None
        return IncidentEvent(event=self.change, incident=self.incident, time=self.time, sequence=self.sequence)
