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
from incidents.incident import IncidentChange
from streams import topics
from streams.deadletter import dead_letter
from streams.records import RecordError, incident_value, read_findings_value

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
    pipeline = tw.pipeline  # this agent drives its incidents stage
    book = pipeline.book
    incidents_mirror = next(m for m in tw.mirrors if m.topic == topics.INCIDENTS)
    tw.incident_book = book
    last_received: dict[str, float] = {}  # wall time of the last message per key, for idle ticks
    last_update: dict[str, float] = {}  # wall time of the last record sent per key

    @app.agent(tw.findings, name="tracewatch.incidents")
    async def incident_agent(stream):  # noqa: ANN001 - Faust stream
        await incidents_mirror.caught_up.wait()  # know what was already announced before going on
        async for delivered in app.in_order(stream):
            key_bytes, raw = delivered.key, delivered.value
            try:
                message = read_findings_value(key_bytes, raw)
            except RecordError as exc:
                await dead_letter(tw, delivered.topic, delivered.partition, delivered.offset, delivered.value or b"",
                                  str(exc))
                continue
            key = key_bytes.decode()
            last_received[key] = time.time()
            if isinstance(message, Finding):
                tw.metrics.findings.labels(message.detector).inc()
            changes = pipeline.group(message)
            incident = book.get(key)
            if (isinstance(message, Finding) and not changes and incident is not None
                    and incident.state != "resolved" and time.time() - last_update.get(key, 0.0) >= 1.0):
                # Keep the API's view of an open incident fresh, at most once a second.
                changes = [IncidentChange("updated", incident, message.time)]
            for change in changes:
                last_update[key] = time.time()
                await tw.incidents.send(key=key_bytes, value=incident_value(change))

    async def announce_unpublished() -> None:
        # A worker killed between writing an incident to the table and publishing its record left an
        # incident nobody was told about (no page, no runbook): publish its last event again. Consumers
        # deduplicate a repeat (the view by updated_at, runbooks by execution id).
        await incidents_mirror.caught_up.wait()
        for event in book.unannounced(tw.view.get):
            log.info("publishing the %s event of incident %s again", event.event, event.incident.id)
            await tw.incidents.send(key=event.incident.key.encode(), value=incident_value(IncidentChange.of(event)))

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
            if not tw.incident_policy.resolves_when_quiet(incident):
                continue
            idle = now - last_received.setdefault(key, now)
            if idle >= tw.incident_policy.resolve_after_s:
                await tw.send_command("tick", key, time=incident.last_finding_at + idle)
