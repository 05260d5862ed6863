"""What the API shows: incidents and their runbook executions, rebuilt on every worker from the topics.

``tracewatch.incidents`` carries one record per change of an incident
(``{"change": "opened|escalated|acknowledged|updated|resolved", "incident": {...}, "time": t}``);
``tracewatch.actions`` carries the runbook executions (the outbox), keyed by incident key.
"""

from __future__ import annotations

from typing import Any

import orjson

from runbooks.incident import Incident

#: Changes that runbooks can trigger on; "acknowledged" and "updated" only refresh the view.
RUNBOOK_EVENTS = ("opened", "escalated", "resolved")


def incident_record(change: str, incident: Incident, time: float, sequence: int = 0) -> bytes:
    return orjson.dumps({"change": change, "incident": incident.model_dump(mode="json"), "time": time,
                         "sequence": sequence})


class IncidentView:
    def __init__(self) -> None:
        self.by_key: dict[str, Incident] = {}
        self.key_of_id: dict[str, str] = {}
        self.executions: dict[str, dict[str, Any]] = {}  # execution id → latest record
        self.executions_of: dict[str, list[str]] = {}  # incident id → execution ids, in order

    def apply_incident(self, key: bytes | None, value: bytes | None) -> None:
        if not value:
            return
        record = orjson.loads(value)
        incident = Incident.model_validate(record["incident"])
        current = self.by_key.get(incident.key)
        if current is not None and current.id == incident.id and current.updated_at > incident.updated_at:
            return  # an older change delivered late
        self.by_key[incident.key] = incident
        self.key_of_id[incident.id] = incident.key

    def apply_action(self, key: bytes | None, value: bytes | None) -> None:
        if not value:
            return
        record = orjson.loads(value)
        execution_id = record.get("execution_id")
        incident_id = record.get("incident_id")
        if not execution_id:
            return
        if execution_id not in self.executions and incident_id:
            self.executions_of.setdefault(incident_id, []).append(execution_id)
        self.executions[execution_id] = record

    def get(self, incident_id: str) -> Incident | None:
        key = self.key_of_id.get(incident_id)
        incident = self.by_key.get(key) if key else None
        return incident if incident is not None and incident.id == incident_id else None

    def list(self, *, state: str | None = None, detector: str | None = None, kind: str | None = None,
             severity: str | None = None, limit: int = 100) -> list[Incident]:
        found = [
            i for i in self.by_key.values()
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
