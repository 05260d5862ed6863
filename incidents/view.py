"""What the API shows: incidents and their runbook executions, rebuilt on every worker from the topics.

``tracewatch.incidents`` carries one record per change of an incident
(``{"change": "opened|escalated|acknowledged|updated|resolved", "incident": {...}, "time": t}``);
``tracewatch.actions`` carries the runbook executions (the outbox), keyed by incident key.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson

from incidents.incident import Incident, IncidentChange

#: Incidents kept by id beside the current one per key (superseded ones included), oldest dropped first.
MAX_INCIDENTS = 100_000


class IncidentView:
    """The latest incident per key, and every incident by id: a page or a Slack post names the id it was
    sent for, and that id must stay answerable after a later incident of the same key supersedes it."""

    def __init__(self) -> None:
        self.by_key: dict[str, Incident] = {}
        self.by_id: dict[str, Incident] = {}
        self.executions: dict[str, dict[str, Any]] = {}  # execution id → latest record
        self.executions_of: dict[str, list[str]] = {}  # incident id → execution ids, in order
        self.version = 0  # counts the records applied: the console polls it to know when to refresh
        self.action_listeners: list[Callable[[dict[str, Any]], None]] = []  # told every execution record

    def apply_incident(self, key: bytes | None, value: bytes | None) -> None:
        if not value:
            return
        self.version += 1
        incident = IncidentChange.from_json(value).incident
        known = self.by_id.get(incident.id)
        if known is not None and known.updated_at > incident.updated_at:
            return  # an older change delivered late
        self.by_id[incident.id] = incident
        current = self.by_key.get(incident.key)
        if current is None or current.id == incident.id or current.opened_at <= incident.opened_at:
            self.by_key[incident.key] = incident
        if len(self.by_id) > MAX_INCIDENTS:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        current = {i.id for i in self.by_key.values()}
        for incident_id in list(self.by_id)[: len(self.by_id) - MAX_INCIDENTS]:
            if incident_id not in current:
                del self.by_id[incident_id]
                for execution_id in self.executions_of.pop(incident_id, []):
                    self.executions.pop(execution_id, None)

    def apply_action(self, key: bytes | None, value: bytes | None) -> None:
        if not value:
            return
        self.version += 1
        record = orjson.loads(value)
        execution_id = record.get("execution_id")
        incident_id = record.get("incident_id")
        if not execution_id:
            return
        if execution_id not in self.executions and incident_id:
            self.executions_of.setdefault(incident_id, []).append(execution_id)
        self.executions[execution_id] = record
        for listener in self.action_listeners:
            listener(record)

    def get(self, incident_id: str) -> Incident | None:
        """Any incident this view has seen, superseded or not."""
        return self.by_id.get(incident_id)

    def superseded_by(self, incident: Incident) -> str | None:
        """The id of the incident that now holds ``incident``'s key, if it is another one."""
        current = self.by_key.get(incident.key)
        return current.id if current is not None and current.id != incident.id else None

    def list(self, *, state: str | None = None, detector: str | None = None, kind: str | None = None,
             severity: str | None = None, limit: int = 100, superseded: bool = False) -> list[Incident]:
        """The current incident of each key, newest first; ``superseded``: the earlier ones too."""
        found = [
            i for i in (self.by_id if superseded else self.by_key).values()
            if (state is None or i.state == state or (state == "active" and i.state != "resolved"))
            and (detector is None or i.detector == detector)
            and (kind is None or i.kind == kind)
            and (severity is None or i.severity == severity)
        ]
        found.sort(key=lambda i: i.opened_at, reverse=True)
        return found[:limit]

    def executions_for(self, incident_id: str) -> list[dict[str, Any]]:
        return [self.executions[e] for e in self.executions_of.get(incident_id, [])]

    def open_count(self) -> int:
        return sum(1 for i in self.by_key.values() if i.state != "resolved")
