"""Grouping findings into incidents: dedup, hysteresis, escalation, auto-resolve. Pure logic over a mapping.

The incident agent keeps the mapping in a Faust table (incident key → incident JSON), so a restarted or
another worker continues where this one stopped. One incident per key (``detector|series``) at a time:

- a finding for a key with no open incident opens one (event ``opened``);
- more findings for an open incident are added to it (dedup); a higher severity escalates it
  (event ``escalated``);
- the incident resolves on its own when no finding has come for ``resolve_after_s`` (event time);
- hysteresis: a finding within ``reopen_within_s`` after an automatic resolve reopens the same incident
  (event ``escalated``) instead of paging anew, so a flapping series does not open and resolve every minute.

>>> from detectors.finding import Finding
>>> book = IncidentBook({}, IncidentPolicy(resolve_after_s=60))
>>> f = Finding(time=100.0, detector="cost_spike", kind="cost", series="model=m", severity="warning", score=1)
>>> [e.event for e in book.on_finding(f)]
['opened']
>>> [e.event for e in book.on_finding(f.model_copy(update={"time": 110.0}))]
[]
>>> [e.event for e in book.on_finding(f.model_copy(update={"time": 120.0, "severity": "critical"}))]
['escalated']
>>> [e.event for e in book.tick(now=200.0)]
['resolved']
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

from detectors.finding import SEVERITY_RANK, Finding
from incidents.incident import MAX_FINDINGS_KEPT, Incident, IncidentEvent, LastChange


@dataclass(frozen=True)
class IncidentPolicy:
    resolve_after_s: float = 300.0  # quiet time (event time) before an incident resolves on its own
    reopen_within_s: float = 900.0  # a finding this soon after an auto-resolve reopens the incident
    min_severity: str = "warning"  # findings below this are kept on open incidents but open none
    # Incidents of these kinds wait for a decision instead of resolving when quiet: a provider model
    # update is reported once, and is over only when someone pins the old version back or adopts the new
    # one (pin_model / unpin_model, the API, the CLI, the Slack button) or resolves the incident.
    decided_kinds: frozenset[str] = frozenset({"model_update"})

    def resolves_when_quiet(self, incident: Incident | None) -> bool:
        """Whether ``incident`` is open and resolves on its own once quiet (not of the ``decided_kinds``)."""
        return incident is not None and incident.state != "resolved" and incident.kind not in self.decided_kinds


def incident_id_for(key: str, number: int) -> str:
    """The identity of the ``number``-th incident of ``key`` (0: the first).

    Not the time of the finding that opened it: which finding arrives first depends on how the source
    partitions were read (per-event findings), and how summaries were grouped into flushes (a partial
    window that fires early), so a crash — or just another interleaving — would name the same incident
    differently and page it under a second dedup_key. The count of earlier incidents of the key is the
    same whatever the order, and it survives a crash in the incident table or the published record.

    >>> incident_id_for("cost_spike|model=m", 0) == incident_id_for("cost_spike|model=m", 0)
    True
    >>> incident_id_for("cost_spike|model=m", 0) != incident_id_for("cost_spike|model=m", 1)
    True
    """
    digest = hashlib.sha1(f"{key}#{number}".encode()).hexdigest()[:12]
    return f"inc-{digest}"


class IncidentBook:
    def __init__(self, store: MutableMapping[str, str], policy: IncidentPolicy | None = None) -> None:
        self.store = store  # incident key -> Incident JSON (the latest incident of that key)
        self.policy = policy or IncidentPolicy()

    def get(self, key: str) -> Incident | None:
        raw = self.store.get(key)
        return Incident.model_validate_json(raw) if raw else None

    def put(self, incident: Incident) -> None:
        self.store[incident.key] = incident.model_dump_json()

    def on_finding(self, finding: Finding) -> list[IncidentEvent]:
        key = finding.incident_key
        current = self.get(key)
        t = finding.time
        if current is not None and current.state != "resolved":
            return self._add(current, finding)
        if SEVERITY_RANK[finding.severity] < SEVERITY_RANK[self.policy.min_severity]:
            return []
        if (
            current is not None
            and current.resolved_by == "auto"
            and current.resolved_at is not None
            and 0 <= t - current.resolved_at <= self.policy.reopen_within_s
        ):
            current.state, current.resolved_at, current.resolved_by = "open", None, None
            self._append(current, finding)
            current.severity = max(current.severity, finding.severity, key=SEVERITY_RANK.__getitem__)
            return [self._event("escalated", current, t)]
        if current is not None and t <= current.last_finding_at:
            return []  # a redelivered finding for an incident that is already closed
        number = current.number + 1 if current is not None else 0
        incident = Incident.open_from(finding, incident_id_for(key, number), number)
        return [self._event("opened", incident, t)]

    def _append(self, incident: Incident, finding: Finding) -> None:
        incident.findings = (incident.findings + [finding])[-MAX_FINDINGS_KEPT:]
        incident.finding_count += 1
        incident.last_finding_at = max(incident.last_finding_at, finding.time)
        incident.updated_at = max(incident.updated_at, finding.time)
        for name, value in finding.target.model_dump().items():
            if value is not None and getattr(incident.target, name) is None:
                setattr(incident.target, name, value)

    def _add(self, incident: Incident, finding: Finding) -> list[IncidentEvent]:
        if any(f == finding for f in incident.findings[-5:]):
            return []  # exact redelivery
        self._append(incident, finding)
        if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[incident.severity]:
            incident.severity = finding.severity
            incident.labels["severity"] = finding.severity
            incident.summary = finding.summary or incident.summary
            return [self._event("escalated", incident, finding.time)]
        self.put(incident)
        return []

    def tick(self, now: float, keys: list[str] | None = None) -> list[IncidentEvent]:
        """Resolve incidents whose condition has been clear for ``resolve_after_s`` as of ``now`` (not
        those of the ``decided_kinds``)."""
        events = []
        for key in list(keys if keys is not None else self.store.keys()):
            incident = self.get(key)
            if not self.policy.resolves_when_quiet(incident):
                continue
            if now - incident.last_finding_at >= self.policy.resolve_after_s:
                events.append(self._close(incident, now, "auto"))
        return events

    def acknowledge(self, key: str, by: str, now: float) -> Incident | None:
        incident = self.get(key)
        if incident is None or incident.state != "open":
            return incident
        incident.state, incident.acknowledged_at, incident.acknowledged_by = "acknowledged", now, by
        incident.updated_at = max(incident.updated_at, now)
        self.put(incident)
        return incident

    def resolve(self, key: str, by: str, now: float) -> IncidentEvent | None:
        incident = self.get(key)
        if incident is None or incident.state == "resolved":
            return None
        return self._close(incident, now, by)

    def _close(self, incident: Incident, now: float, by: str) -> IncidentEvent:
        incident.state, incident.resolved_at, incident.resolved_by = "resolved", now, by
        incident.updated_at = max(incident.updated_at, now)
        return self._event("resolved", incident, now)

    def unannounced(self, announced: Callable[[str], Incident | None]) -> list[IncidentEvent]:
        """The latest event of every incident whose last change ``announced`` (what was published, by
        incident id) does not have yet: the same event again, so that consumers deduplicate it.

        An incident nothing was published of gets its ``opened`` event first, as it was (sequence 0, at
        ``opened_at``): an incident opened and escalated just before a crash must still run the runbooks
        of its opening (the page), not only those of its escalation.
        """
        events = []
        for key in list(self.store.keys()):
            incident = self.get(key)
            change = incident.last_change if incident is not None else None
            if change is None:
                continue
            published = announced(incident.id)
            if published is None and change.sequence > 0:
                events.append(IncidentEvent(event="opened", incident=incident.model_copy(deep=True),
                                            time=incident.opened_at, sequence=0))
            if published is None or published.event_count < incident.event_count:
                events.append(IncidentEvent(event=change.event, incident=incident.model_copy(deep=True),
                                            time=change.time, sequence=change.sequence))
        return events

    def _event(self, kind: str, incident: Incident, at: float) -> IncidentEvent:
        """Store the incident and name the event; redelivered input gives the same sequence again."""
        sequence = incident.event_count
        incident.event_count += 1
        incident.last_change = LastChange(event=kind, time=at, sequence=sequence)
        self.put(incident)
        return IncidentEvent(event=kind, incident=incident.model_copy(deep=True), time=at, sequence=sequence)
