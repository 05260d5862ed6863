"""Incidents: findings and commands in, incident lifecycle events out (``tracewatch.incidents``).

Everything that changes an incident arrives on ``tracewatch.findings`` keyed by incident key, so one
worker owns each incident: findings, ``clear`` from the series agent, ``tick`` from the idle timer, and
``ack`` / ``resolve`` from the API, Slack and the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

import orjson

from detectors.finding import Finding
from incidents.incident import Incident
from streams import topics
from incidents.book import IncidentBook
from incidents.view import incident_record

if TYPE_CHECKING:
    from streams.app import Tracewatch

log = logging.getLogger(__name__)


class IncidentStore(MutableMapping):
    """The incident table, falling back to what ``tracewatch.incidents`` last said about a key.

    A worker killed with SIGKILL can lose its last table writes (the changelog is sent asynchronously)
    after their incident records already went out; the next owner must continue those incidents, not
    open them again.
    """

    def __init__(self, tw: "Tracewatch") -> None:
        self.table, self.view = tw.incident_table, tw.view

    def __getitem__(self, key: str) -> str:
        stored = self.table.get(key)
        published = self.view.by_key.get(key)
        if published is not None and (stored is None or published.updated_at > _updated_at(stored)):
            return published.model_dump_json()
        if stored is None:
            raise KeyError(key)
        return stored

    def __setitem__(self, key: str, value: str) -> None:
        self.table[key] = value

    def __delitem__(self, key: str) -> None:
        del self.table[key]

    def __iter__(self):  # noqa: ANN204
        return iter(set(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)


def _updated_at(raw: str) -> float:
    return orjson.loads(raw)["updated_at"]


def register(tw: "Tracewatch") -> None:
    app = tw.app
    book = IncidentBook(IncidentStore(tw), tw.incident_policy)
    incidents_mirror = next(m for m in tw.mirrors if m.topic == topics.INCIDENTS)
    tw.incident_book = book
    last_received: dict[str, float] = {}  # wall time of the last message per key, for idle ticks
    last_update: dict[str, float] = {}  # wall time of the last record sent per key

    @app.agent(tw.findings, name="tracewatch.incidents")
    async def incident_agent(stream):  # noqa: ANN001 - Faust stream
        await incidents_mirror.caught_up.wait()  # know what was already announced before going on
        async for delivered in app.in_order(stream):
            key_bytes, raw = delivered.key, delivered.value
            key = key_bytes.decode()
            message = orjson.loads(raw)
            kind, now = message["type"], message.get("time", 0.0)
            last_received[key] = time.time()
            changes: list[tuple[str, Incident, float, int]] = []
            if kind == "finding":
                finding = Finding.model_validate(message["finding"])
                tw.metrics.findings.labels(finding.detector).inc()
                changes = [(e.event, e.incident, e.time, e.sequence) for e in book.on_finding(finding)]
                incident = book.get(key)
                if not changes and incident is not None and incident.state != "resolved":
                    # Keep the API's view of an open incident fresh, at most once a second.
                    if time.time() - last_update.get(key, 0.0) >= 1.0:
                        changes = [("updated", incident, finding.time, 0)]
            elif kind in ("clear", "tick"):
                changes = [(e.event, e.incident, e.time, e.sequence) for e in book.tick(now=now, keys=[key])]
            elif kind == "ack":
                before = book.get(key)
                incident = book.acknowledge(key, by=message["by"], now=now)
                if incident is not None and before is not None and before.state == "open":
                    changes = [("acknowledged", incident, now, 0)]
            elif kind == "resolve":
                event = book.resolve(key, by=message["by"], now=now)
                changes = [(event.event, event.incident, event.time, event.sequence)] if event else []
            for change, incident, at, sequence in changes:
                last_update[key] = time.time()
                await tw.incidents.send(key=key_bytes, value=incident_record(change, incident, at, sequence))

    async def announce_unpublished() -> None:
        # A worker killed between writing an incident to the table and publishing its record left an
        # incident nobody was told about (no page, no runbook): publish its last event again. Consumers
        # deduplicate a repeat (the view by updated_at, runbooks by execution id).
        await incidents_mirror.caught_up.wait()
        for event in book.unannounced(tw.view.get):
            log.info("publishing the %s event of incident %s again", event.event, event.incident.id)
            await tw.incidents.send(key=event.incident.key.encode(),
                                    value=incident_record(event.event, event.incident, event.time, event.sequence))

    @app.on_rebalance_complete.connect
    async def _after_rebalance(sender: object, **kwargs: object) -> None:
        asyncio.ensure_future(announce_unpublished())  # not in the signal: the worker is not ready yet

    @app.timer(5.0)
    async def idle_ticks() -> None:
        # In live traffic event time follows the wall clock: an incident whose findings stopped arriving
        # resolves once it has been quiet for the resolve time, even if its series sends nothing more.
        now = time.time()
        for key in list(tw.incident_table.keys()):
            incident = book.get(key)
            if incident is None or incident.state == "resolved":
                continue
            idle = now - last_received.setdefault(key, now)
            if idle >= tw.incident_policy.resolve_after_s:
                await tw.send_command("tick", key, time=incident.last_finding_at + idle)
