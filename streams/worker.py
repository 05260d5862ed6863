"""Running the service: the embedded broker when none is configured, the topics, then the Faust worker."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

import faust

from streams.broker import EmbeddedBroker
from streams.settings import Settings
from streams.topics import ensure_topics

log = logging.getLogger(__name__)
GC_GEN0_THRESHOLD = 100_000  # net allocations between two young-generation collections (CPython: 700)


@contextmanager
def broker_for(settings: Settings, *, announce: bool = True, durable: bool = False) -> Iterator[str]:
    """Yield the broker URL: ``TRACEWATCH_BROKER`` when set, else an embedded broker started for us.

    ``durable``: the embedded broker is restored from and journaled to the state directory
    (``streams.journal``); with ``TRACEWATCH_BROKER`` set it changes nothing.
    """
    if settings.broker:
        yield settings.broker
        return
    if durable:
        from streams.journal import durable_broker

        with durable_broker(settings, announce=announce) as url:
            yield url
        return
    broker = EmbeddedBroker().start()
    if announce:
        print(f"embedded broker: bootstrap {broker.bootstrap}", file=sys.stderr, flush=True)
    try:
        yield broker.url
    finally:
        broker.stop()


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a process that allocates a few objects per event.

    With CPython's default (a collection every 700 net allocations) a worker spends more time in the
    collector than decoding: each event allocates a handful of containers, and the long-lived series
    states and views make every older-generation pass expensive. Objects alive after start-up (modules,
    the app, compiled rules) are frozen out of collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 100)


class Worker(faust.Worker):
    """Faust's worker with a deadline on stopping.

    With the broker gone, Faust's graceful stop waits on commits and producer flushes for a minute or
    more; a supervisor (systemd, Kubernetes) would kill it anyway, later. After ``stop_timeout_s`` the
    process exits with status 1 instead: nothing is lost that a kill -9 would not lose — offsets not
    committed are read again by the next owner of the partitions.
    """

    def __init__(self, *args: object, stop_timeout_s: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stop_timeout_s = stop_timeout_s
        self._deadline: threading.Timer | None = None

    def _schedule_shutdown(self, signal: object) -> None:
        super()._schedule_shutdown(signal)
        if self._deadline is None:
            self._deadline = threading.Timer(self.stop_timeout_s, self._stop_now)
            self._deadline.daemon = True
            self._deadline.start()

    def _stop_now(self) -> None:
        log.error("the worker did not stop within %.0f s (TRACEWATCH_STOP_TIMEOUT_S); exiting now",
                  self.stop_timeout_s)
        logging.shutdown()
        os._exit(1)


def run_worker(settings: Settings, broker_url: str, *, loglevel: str = "warning") -> None:
    """Create the topics, then run one worker until SIGINT/SIGTERM. Blocks."""
    from streams.service import build_service
    from streams.table_preload import preload

    asyncio.run(ensure_topics(broker_url, settings.partitions))
    tables = ("series-state", "incidents")

    async def preload_tables() -> list[tuple[int, float]]:
        return await asyncio.gather(*(preload(broker_url, f"tracewatch-{table}-changelog") for table in tables))

    for table, (keys, seconds) in zip(tables, asyncio.run(preload_tables())):
        log.info("%s table: %d keys read in %.1f s before Faust's recovery", table, keys, seconds)
    # Faust's worker wants a current event loop in the main thread (asyncio.run closed the last one).
    asyncio.set_event_loop(asyncio.new_event_loop())
    tw = build_service(settings, broker_url)
    tune_gc()
    worker = Worker(tw.app, loglevel=loglevel, quiet=True, redirect_stdouts=False,
                    stop_timeout_s=settings.stop_timeout_s)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
