"""Which runbooks an incident event triggers.

A trigger matches when every key it sets holds: the event type (``on``), the detector name, the
detector kind, the severity (at least), each label matcher, and the ``when`` condition.

>>> from detectors.finding import Finding
>>> from incidents.incident import Incident, IncidentEvent
>>> from runbooks.schema import Trigger
>>> f = Finding(time=1.0, detector="cost_spike", kind="cost", series="model=m", severity="critical",
...             score=0.9, labels={"app": "chat-eu"})
>>> event = IncidentEvent(event="opened", incident=Incident.open_from(f, incident_id="inc-1"), time=1.0)
>>> trigger_matches(Trigger(kind="cost", severity_at_least="warning", labels={"app": {"=~": "chat-.*"}}), event)
True
>>> trigger_matches(Trigger(kind=["latency"]), event)
False
"""

from __future__ import annotations

from typing import Any, Iterable

from detectors.finding import SEVERITY_RANK
from runbooks.conditions import condition_data
from incidents.incident import IncidentEvent
from runbooks.schema import Runbook, Trigger


def trigger_matches(trigger: Trigger, event: IncidentEvent, data: dict[str, Any] | None = None) -> bool:
    incident = event.incident
    if event.event not in trigger.on:
        return False
    if trigger.detector is not None and incident.detector not in trigger.detector:
        return False
    if trigger.kind is not None and incident.kind not in trigger.kind:
        return False
    if SEVERITY_RANK[incident.severity] < SEVERITY_RANK[trigger.severity_at_least]:
        return False
    for name, matcher in trigger.labels.items():
        if not matcher.matches(incident.labels.get(name)):
            return False
    if trigger.when is not None:
        return trigger.when.evaluate(data if data is not None else condition_data(event))
    return True


def match(runbooks: Iterable[Runbook], event: IncidentEvent) -> list[Runbook]:
    """The runbooks whose trigger matches ``event``, in the order given."""
    data = condition_data(event)
    return [rb for rb in runbooks if trigger_matches(rb.trigger, event, data)]
