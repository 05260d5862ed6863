"""The tracewatch service on one screen: the Faust app, its topics and tables, and which agent runs where.

Agents live in ``streams/agents/``, one step of the data flow each (docs/architecture.md, "Data flow"); they call the
pure code in ``detectors/`` and ``runbooks/``. ``Tracewatch`` carries what they share; ``streams.service``
registers them and the web API on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams import records, table_preload, topics, transport
from streams.metrics import Metrics
from runbooks.controls import InMemoryControls
from runbooks.ports import SystemClock
from runbooks.ports import Control
from runbooks.prompts import PromptRecord, PromptRegistry
from streams.mirror import TopicMirror
from incidents.view import IncidentView
from streams.settings import Settings

if TYPE_CHECKING:
    from detectors.finding import Finding

LAG_FLUSH_TIMEOUT_S = 5.0  # a metrics scrape waits at most this long for the producer to send what it holds


def faust_app(settings: Settings, broker_url: str, *, web: bool = True) -> transport.App:
    """The Faust app, configured for tracewatch: memory tables, short sessions, frequent commits."""
    datadir = Path(tempfile.mkdtemp(prefix="tracewatch-worker-"))
    return transport.App(
        "tracewatch",
        broker=broker_url,
        store="memory://",  # tables live in memory; their changelog topics make them durable
        TableManager=transport.TableManager,
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=web,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        # A worker that died without leaving its group holds its partitions for the session timeout;
        # keep it short so that a restarted or surviving worker takes over quickly.
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(0.5, settings.session_timeout_s / 6),
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_commit_every=1000,
        broker_commit_interval=0.5,
        stream_buffer_maxsize=8192,
        producer_linger_ms=5,
        table_standby_replicas=0,
        logging_config=None,
    )


class Tracewatch:
    """One worker's view of the service. ``streams.service.build_service`` builds it with its agents and
    API; ``streams.worker.run_worker`` runs it."""

    def __init__(self, settings: Settings, broker_url: str, *, web: bool = True) -> None:
        self.settings = settings
        self.broker_url = broker_url
        self.metrics = Metrics()
        self.ready = False  # set once partitions are assigned and table recovery is done

        self.app = faust_app(settings, broker_url, web=web)

        # ---- topics (docs/architecture.md) ------------------------------------------------------
        raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
        self.traces = self.app.topic(topics.TRACES, **raw)
        self.otlp = self.app.topic(settings.otlp_topic, **raw)
        self.deadletter = self.app.topic(topics.DEADLETTER, **raw)
        self.series = self.app.topic(topics.SERIES, **raw)
        self.findings = self.app.topic(topics.FINDINGS, **raw)
        self.incidents = self.app.topic(topics.INCIDENTS, **raw)
        self.actions = self.app.topic(topics.ACTIONS, **raw)
        self.controls = self.app.topic(topics.CONTROLS, **raw)
        self.prompts = self.app.topic(topics.PROMPTS, **raw)

        # ---- tables (memory store + changelog topic each) ------------------------------------------
        # series key → SeriesState snapshot; the series agent writes it in batches (streams.changelog)
        # Both tables' stores start with what the worker read before Faust started (streams.table_preload).
        self.series_state = self.app.Table("series-state", key_type=bytes, value_type=bytes,
                                           partitions=settings.partitions, store=f"{table_preload.SCHEME}://tables")
        self.incident_table = self.app.Table(  # incident key → latest incident of that key (JSON)
            "incidents", key_type=str, value_type=str, partitions=settings.partitions,
            store=f"{table_preload.SCHEME}://tables")

        # ---- pure parts: decoders, prices, detectors, incident policy -------------------------------
        from detectors.config import load_config
        from traces.decode import decode  # noqa: F401  (fail at start-up, not on the first message)
        from incidents.book import IncidentPolicy
        from traces.prices import PriceTable

        self.prices = PriceTable.load(settings.prices)
        self.suite = suite_with_feedback(load_config(settings.detectors), settings)
        self.incident_policy = IncidentPolicy(resolve_after_s=settings.resolve_after_s,
                                              reopen_within_s=settings.reopen_within_s)

        # ---- what every worker mirrors to answer the API -------------------------------------------
        self.view = IncidentView()
        self.clock = SystemClock()
        self.controls_state = InMemoryControls(self.clock, on_change=self._publish_control)
        self.prompt_registry = PromptRegistry(self.clock, on_change=self._publish_prompt)
        self.mirrors = [
            TopicMirror(broker_url, topics.INCIDENTS, self.view.apply_incident),
            TopicMirror(broker_url, topics.ACTIONS, self.view.apply_action),
            TopicMirror(broker_url, topics.CONTROLS,
                        lambda k, v: v and self.controls_state.apply(Control.model_validate_json(v))),
            TopicMirror(broker_url, topics.PROMPTS,
                        lambda k, v: v and self.prompt_registry.apply(PromptRecord.model_validate_json(v))),
        ]

        @self.app.task
        async def _quiet_client_logs() -> None:
            # aiokafka and Faust log every produce request at DEBUG; under Faust's handler that costs real time.
            for name in ("aiokafka", "faust"):
                logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))

        @self.app.task
        async def _run_mirrors() -> None:
            await asyncio.gather(*(mirror.run() for mirror in self.mirrors))

        @self.app.on_rebalance_complete.connect
        async def _on_rebalance_complete(sender: object, **kwargs: object) -> None:
            self.ready = True

    async def _publish_control(self, control: "Control") -> None:
        await self.controls.send(key=control.subject.encode(), value=control.model_dump_json().encode())

    async def _publish_prompt(self, record: "PromptRecord") -> None:
        await self.prompts.send(key=record.prompt_id.encode(), value=record.model_dump_json().encode())

    def is_ready(self) -> bool:
        return self.ready and all(mirror.caught_up.is_set() for mirror in self.mirrors)

    async def refresh_gauges(self) -> None:
        self.metrics.incidents_open.set(self.view.open_count())
        engine = getattr(self, "engine", None)
        if engine is not None:
            pending = engine.pending_deliveries()
            self.metrics.actions_pending.set(len(pending))
            oldest = min((s.started_at for s in pending if s.started_at is not None), default=None)
            self.metrics.actions_oldest_pending.set(0.0 if oldest is None else max(0.0, time.time() - oldest))
        consumer = self.app.consumer
        assigned = consumer.assignment() if consumer is not None else set()
        source = {topics.TRACES, self.settings.otlp_topic, topics.SERIES, topics.FINDINGS, topics.INCIDENTS}
        wanted = [tp for tp in assigned if tp.topic in source]
        if not wanted:
            return
        # Lag is what the agents have not finished yet, not what Faust has fetched (its streams buffer
        # thousands of messages). Taken before the producer is flushed and the ends are read: whatever an
        # agent sent on while finishing a message (a finding, an incident record) is then counted in the
        # ends, so a lag of 0 on every topic means the chain has handled all of it (the ingest's summaries
        # go out with its next flush, every flush_interval_s).
        finished = {tp: self.app.processed.get((tp.topic, tp.partition)) for tp in wanted}
        read = {tp: consumer._read_offset.get(tp) for tp in wanted}
        try:
            await asyncio.wait_for(asyncio.shield(self.app.producer.flush()), timeout=LAG_FLUSH_TIMEOUT_S)
        except asyncio.TimeoutError:  # a broker in trouble: the ends may miss what is still being sent
            pass
        highwaters = await consumer.highwaters(*wanted)
        for tp in wanted:
            done = finished[tp]
            if done is None:  # the committed offsets could not be read at the assignment
                done = read[tp] + 1 if read[tp] is not None else 0
            behind = highwaters.get(tp, 0) - done
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, behind))

    async def send_finding(self, finding: "Finding") -> None:
        await self.findings.send(key=finding.incident_key.encode(), value=records.finding_value(finding))

    async def send_command(self, kind: str, incident_key: str, *, time: float, by: str | None = None) -> None:
        """A change to an incident (clear, tick, ack, resolve), routed to the worker that owns it."""
        await self.findings.send(key=incident_key.encode(), value=records.command_value(kind, time=time, by=by))

    @property
    def worker_id(self) -> str:
        return f"{os.uname().nodename}:{os.getpid()}"


def suite_with_feedback(cfg: Any, settings: Settings) -> Any:
    """The detector suite, its injection classifier with the feedback `tracewatch feedback` saved.

    A state learnt on another model (tracewatch upgraded, its model retrained) or unreadable is left out
    with an error in the log: the worker detects with the shipped model rather than not at all, and the
    message says how to learn the feedback again.
    """
    from detectors.config import build_suite
    from detectors.injection.scanner import ClassifierStateError

    path = settings.data_dir / "injection_classifier.json"
    if path.exists():
        try:
            return build_suite(cfg, injection_state=path)
        except ClassifierStateError as exc:
            logging.getLogger(__name__).error("%s; the worker detects injection with the shipped model until then",
                                              exc)
    return build_suite(cfg)
