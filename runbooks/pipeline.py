"""The data flow as one object: decode → detect → group into incidents → respond with runbooks.

The worker's agents, ``tracewatch replay --runbooks`` and ``tracewatch runbooks test`` all drive a
:class:`Pipeline`, so a runbook test or a backtest cannot pass on behaviour the worker does not have:
the same decoder and prices, the same detector suite, the same :class:`~incidents.book.IncidentBook`
(dedup, escalation, hysteresis, auto-resolve), the same runbook engine. The worker spreads the stages
over Kafka topics (``streams/agents/``); replay and tests call them in one process, in event time.

>>> from detectors.finding import Finding
>>> from incidents.book import IncidentBook, IncidentPolicy
>>> pipeline = Pipeline(book=IncidentBook({}, IncidentPolicy(resolve_after_s=60)))
>>> f = Finding(time=100.0, detector="cost_spike", kind="cost", series="model=m", severity="warning", score=1)
>>> [c.change for c in pipeline.group(f)], [c.change for c in pipeline.group(Tick(f.incident_key, now=200.0))]
(['opened'], ['resolved'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from detectors.finding import Finding
from incidents.book import IncidentBook
from incidents.incident import IncidentChange, IncidentEvent
from traces.decode import Decoded, Format, decode

if TYPE_CHECKING:
    from detectors.suite import DetectorSuite
    from runbooks.engine import Engine, Execution
    from traces.events import TraceEvent
    from traces.prices import PriceTable


@dataclass(frozen=True)
class Tick:
    """Event time has reached ``now`` for incident ``key`` (``key`` None: for every incident)."""

    key: str | None
    now: float


@dataclass(frozen=True)
class Command:
    """A person's change to an incident: acknowledge or resolve it (API, Slack, CLI)."""

    key: str
    kind: Literal["ack", "resolve"]
    by: str
    now: float


class Pipeline:
    def __init__(self, *, book: IncidentBook, prices: PriceTable | None = None,
                 suite: DetectorSuite | None = None, engine: Engine | None = None) -> None:
        self.book, self.prices, self.suite, self.engine = book, prices, suite, engine

    # ---- traces ---------------------------------------------------------------------------------
    def decode(self, raw: bytes, fmt: Format, **limits: int) -> Decoded:
        """Bytes of one message → events (priced where the sender gave no cost) and reasons."""
        decoded = decode(raw, fmt, **limits)
        if self.prices is not None:
            for event in decoded.events:
                self.prices.apply(event)
        return decoded

    def price(self, events: Iterable[TraceEvent]) -> Iterator[TraceEvent]:
        for event in events:
            if self.prices is not None:
                self.prices.apply(event)
            yield event

    # ---- detectors ------------------------------------------------------------------------------
    def detect(self, events: Iterable[TraceEvent]) -> Iterator[Finding]:
        """Findings over recorded events, in event time (the worker runs the same suite per event and
        per bucket summary, across its ingest and series agents)."""
        from detectors.suite import replay  # here: the suite pulls in river, which tests of grouping need not

        assert self.suite is not None, "a Pipeline built without detectors cannot detect"
        yield from replay(self.price(events), self.suite)

    # ---- incidents ------------------------------------------------------------------------------
    def group(self, message: Finding | Tick | Command) -> list[IncidentChange]:
        """What a finding, the passing of time, or a person does to the incidents: the records for
        ``tracewatch.incidents``, in order (:meth:`IncidentChange.runbook_event` for the runbooks)."""
        book = self.book
        if isinstance(message, Finding):
            events = book.on_finding(message)
        elif isinstance(message, Tick):
            events = book.tick(now=message.now, keys=None if message.key is None else [message.key])
        elif message.kind == "resolve":
            event = book.resolve(message.key, by=message.by, now=message.now)
            events = [event] if event is not None else []
        else:
            before = book.get(message.key)
            incident = book.acknowledge(message.key, by=message.by, now=message.now)
            if incident is None or before is None or before.state != "open":
                return []
            return [IncidentChange("acknowledged", incident, message.now)]
        return [IncidentChange.of(e) for e in events]

    # ---- runbooks -------------------------------------------------------------------------------
    async def respond(self, event: IncidentEvent) -> list[Execution]:
        """Match the runbooks and run them (protective steps now, notifications in their queue)."""
        assert self.engine is not None, "a Pipeline built without runbooks cannot respond"
        return await self.engine.handle(event)
