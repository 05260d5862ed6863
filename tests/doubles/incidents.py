"""Incidents and action contexts for action tests, with hostile trace text where it can hide."""

from __future__ import annotations

from functools import partial
from typing import Any

from detectors.finding import Evidence, Finding, Target
from runbooks.actions.base import ActionContext
from incidents.incident import Incident, IncidentEvent, IncidentEventType
from runbooks.templating import render, template_data

#: Trace text an attacker controls: template syntax, Slack links and mentions, a code-span breaker.
HOSTILE = ("{{ 7*7 }} {% for x in range(3) %}loop{% endfor %} {{ ''.__class__.__mro__ }} "
           "<https://evil.example|click here> <!channel> <!everyone> @here <@U123> ``` `end` ")


def sample_incident(incident_id: str = "inc-0001", summary: str = "spend 8.1x baseline", *,
                    user_id: str | None = "u-42", prompt_id: str | None = None, severity: str = "critical",
                    details: dict[str, Any] | None = None) -> Incident:
    finding = Finding(
        time=1_700_000_000.0, detector="cost_spike", kind="cost", series="model=gpt-4o", severity=severity,
        score=0.97, summary=summary,
        evidence=Evidence(observed=81.0, baseline=10.0, window_s=60, example_trace_ids=["t-1", "t-2"],
                          details=details or {}),
        target=Target(model="gpt-4o", user_id=user_id, prompt_id=prompt_id),
    )
    return Incident.open_from(finding, incident_id=incident_id)


def action_context(incident: Incident, event: IncidentEventType = "opened", *, step: int = 0,
                   execution_id: str = "exec-1", extra: dict[str, Any] | None = None) -> ActionContext:
    """An ``ActionContext`` as the executor builds it: data from ``template_data``, sandboxed render."""
    incident_event = IncidentEvent(event=event, incident=incident, time=incident.updated_at)
    data = template_data(incident, incident_event, extra)
    return ActionContext(
        incident=incident, event=incident_event, execution_id=execution_id,
        idempotency_key=f"{execution_id}:{step}", render=partial(_render, data), ports=None,
        extra=dict(extra or {}),
    )


def _render(data: dict[str, Any], template: str, escape: Any) -> str:
    return render(template, data, escape)
