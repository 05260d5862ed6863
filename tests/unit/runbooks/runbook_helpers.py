"""Helpers for the runbook engine tests: incidents and a scripted action double."""

from __future__ import annotations

from typing import Any

from detectors.finding import Evidence, Finding, Target
from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams
from incidents.incident import Incident, IncidentEvent


def make_event(event: str = "opened", *, kind: str = "cost", severity: str = "critical",
               user_id: str | None = "u-1", labels: dict | None = None, sequence: int = 0,
               observed: float = 50.0, baseline: float = 10.0, incident_id: str = "inc-1",
               time: float = 1000.0) -> IncidentEvent:
    finding = Finding(time=time, detector=f"{kind}_detector", kind=kind, series="model=m",
                      severity=severity, score=0.9, summary="something is off",
                      evidence=Evidence(observed=observed, baseline=baseline),
                      target=Target(user_id=user_id, model="m"), labels=labels or {})
    incident = Incident.open_from(finding, incident_id=incident_id)
    return IncidentEvent(event=event, incident=incident, time=time, sequence=sequence)


class NoParams(StepParams):
    pass


class Scripted(Action):
    """A recording double: each call pops the next scripted outcome (an ActionError or 'ok')."""

    Params = NoParams

    def __init__(self, type_: str, log: list, script: list | None = None, destructive: bool = False,
                 on_call: Any = None, notification: bool | None = None) -> None:
        self.type = type_
        self.destructive = destructive
        self.notification = type_ in ("page", "resolve_page", "slack", "webhook") if notification is None else notification
        self.log = log
        self.script = list(script or [])
        self.on_call = on_call

    async def _run(self, params: StepParams, ctx: ActionContext) -> ActionResult:
        self.log.append((self.type, ctx.idempotency_key))
        if self.on_call is not None:
            self.on_call(ctx)
        outcome = self.script.pop(0) if self.script else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return ActionResult(status_code=202, detail={"target": f"{self.type}-target"})
