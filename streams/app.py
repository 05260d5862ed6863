"""The tracewatch service on one screen: the Faust app, its topics and tables, and which agent runs where.

Agents live in ``streams/agents/``, one step of the data flow each (DESIGN.md, "Data flow"); they call the
pure code in ``detectors/`` and ``runbooks/``. ``Tracewatch`` carries what they share.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import faust

from streams import topics
from streams.metrics import Metrics
from streams.settings import Settings


class Tracewatch:
    """One worker's view of the service. Build it, then run it with ``streams.worker.run``."""

    def __init__(self, settings: Settings, broker_url: str, *, web: bool = True) -> None:
        self.settings = settings
        self.broker_url = broker_url
        self.metrics = Metrics()
        self.ready = False  # set once partitions are assigned and table recovery is done

        datadir = Path(tempfile.mkdtemp(prefix="tracewatch-worker-"))
        self.app = faust.App(
            "tracewatch",
            broker=broker_url,
            store="memory://",  # tables live in memory; their changelog topics make them durable
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

        # ---- topics (DESIGN.md, "Contracts") ------------------------------------------------------
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

        # ---- pure parts ---------------------------------------------------------------------------
        from streams.decode import decode  # noqa: F401  (fail at start-up, not on the first message)
        from streams.prices import PriceTable

        self.prices = PriceTable.load(settings.prices)

        # ---- agents and web -----------------------------------------------------------------------
        from streams.agents import ingest
        from streams import web

        ingest.register(self)
        web.register(self)

        @self.app.on_rebalance_complete.connect
        async def _on_rebalance_complete(sender: object, **kwargs: object) -> None:
            self.ready = True

    @property
    def worker_id(self) -> str:
        return f"{os.uname().nodename}:{os.getpid()}"
