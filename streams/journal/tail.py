"""The journal: reads every topic of the embedded broker as it is written and stores it (``JournalStore``).

It runs as its own process beside ``tracewatch up`` (``python -m streams.journal``), so that storing
costs the worker no time on its event loop. Every ``flush_interval_s`` it commits what it has read in
one SQLite transaction; what a SIGKILL of the broker can lose is what the journal had not yet read and
committed — see ``docs/durability.md``.

Consumer positions are stored as consistent snapshots: the committed offsets of every group are read,
then the end of every partition, and the snapshot is stored only once the journal has read up to
those ends. A group commits an offset only after it sent what the records before it produced, so those
outputs are in the journal when the snapshot is: a restore never has a position past its own results.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.journal.store import JournalStore, Record

log = logging.getLogger(__name__)

#: Not compacted on the broker, but read whole by every worker's mirrors (``streams.mirror``): never trimmed.
KEEP_WHOLE = {"tracewatch.incidents", "tracewatch.actions"}
#: The loss window the docs promise under load; a journal further behind says so in the log.
WARN_BEHIND_S = 1.0


class Journal:
    def __init__(self, store: JournalStore, bootstrap: str, *, flush_interval_s: float = 0.1,
                 offsets_interval_s: float = 1.0, retention_s: float = 86_400.0,
                 discover_interval_s: float = 1.0, trim_interval_s: float = 60.0) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.flush_interval_s = flush_interval_s
        self.offsets_interval_s = offsets_interval_s
        self.retention_s = retention_s
        self.discover_interval_s = discover_interval_s
        self.trim_interval_s = trim_interval_s
        self.positions: dict[TopicPartition, int] = {
            TopicPartition(t, p): o for (t, p), o in store.next_offsets().items()}
        self._pending: tuple[dict[str, dict[tuple[str, int], int]], dict[TopicPartition, int]] | None = None
        self.snapshots = 0  # consistent offset snapshots stored (tests and status)
        self.behind_s = 0.0  # how long the last snapshot waited for the journal to reach the broker's ends
        self._pending_since = 0.0
        self._warned_at = float("-inf")

    async def run(self, stop: asyncio.Event) -> None:
        """Journal until ``stop`` is set, then store a last snapshot of everything (a graceful stop)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=max(10, int(self.flush_interval_s * 500)), max_partition_fetch_bytes=8 * 2**20,
            fetch_max_bytes=64 * 2**20, client_id="tracewatch-journal")
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="tracewatch-journal")
        await consumer.start()
        await admin.start()
        try:
            next_discover = next_offsets = 0.0
            next_trim = time.monotonic() + self.trim_interval_s
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_discover:
                    await self._discover(consumer, admin)
                    next_discover = now + self.discover_interval_s
                if now >= next_offsets and self._pending is None:
                    self._pending = await self._read_positions(consumer, admin)
                    self._pending_since = time.monotonic()
                    next_offsets = now + self.offsets_interval_s
                await self._read_once(consumer)
                self._store_snapshot_if_caught_up()
                if now >= next_trim:
                    dropped = self.store.trim(int((time.time() - self.retention_s) * 1000), KEEP_WHOLE)
                    log.info("journal: trimmed %d records older than %.0f s", dropped, self.retention_s)
                    next_trim = now + self.trim_interval_s
            await self._final_snapshot(consumer, admin)
        finally:
            await consumer.stop()
            await admin.close()

    async def _final_snapshot(self, consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient) -> None:
        await self._discover(consumer, admin)
        self._pending = await self._read_positions(consumer, admin)
        self._pending_since = time.monotonic()
        while self._pending is not None:
            await self._read_once(consumer)
            self._store_snapshot_if_caught_up()

    async def _read_once(self, consumer: AIOKafkaConsumer) -> None:
        if not consumer.assignment():
            await asyncio.sleep(self.flush_interval_s)
            return
        fetched = await consumer.getmany(timeout_ms=int(self.flush_interval_s * 1000))
        batches: dict[tuple[str, int], list[Record]] = {}
        for tp, messages in fetched.items():
            batches[(tp.topic, tp.partition)] = [
                Record(m.offset, m.timestamp, m.key, m.value, tuple(m.headers or ())) for m in messages]
        if batches:
            self.store.append(batches)
            for tp, messages in fetched.items():
                if messages:
                    self.positions[tp] = max(self.positions.get(tp, 0), messages[-1].offset + 1)
        # A fetch may end in a gap (compacted or restored partitions): the consumer's position is further.
        for tp in fetched:
            self.positions[tp] = max(self.positions.get(tp, 0), await consumer.position(tp))

    async def _discover(self, consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient) -> None:
        """Start journaling topics created since the last look (Faust creates its changelogs itself)."""
        names = [t for t in await admin.list_topics() if not t.startswith("__")]
        known = self.store.topics()
        new = [t for t in names if t not in known]
        if new:
            described = await admin.describe_topics(new)
            for topic in described:
                if topic["error_code"] or not topic["partitions"]:
                    continue  # still being created: the next look finds it
                name = topic["topic"]
                self.store.add_topic(name, len(topic["partitions"]), await _is_compacted(admin, name))
                log.info("journal: now journaling %s", name)
        wanted = {TopicPartition(t, p) for t, (n, _) in self.store.topics().items() for p in range(n)}
        if wanted != consumer.assignment():
            consumer.assign(sorted(wanted))
            for tp in wanted:
                consumer.seek(tp, self.positions.get(tp, 0))

    async def _read_positions(self, consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient):
        """Committed offsets of every group, then the end of every partition (in this order)."""
        tps = sorted(consumer.assignment())
        offsets: dict[str, dict[tuple[str, int], int]] = {}
        if tps:
            for group, _protocol in await admin.list_consumer_groups():
                committed = await admin.list_consumer_group_offsets(group, partitions=tps)
                offsets[group] = {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()
                                  if meta.offset >= 0}
        ends = await consumer.end_offsets(tps) if tps else {}
        return offsets, ends

    def _store_snapshot_if_caught_up(self) -> None:
        if self._pending is None:
            return
        offsets, ends = self._pending
        # Tansu answers "latest" with the last batch's first offset + 1: having that offset means
        # having the whole batch, since fetches return whole batches.
        if all(self.positions.get(tp, 0) >= end for tp, end in ends.items()):
            self.store.save_group_offsets(offsets)
            self._pending = None
            self.snapshots += 1
            self.behind_s = time.monotonic() - self._pending_since
            if self.behind_s > WARN_BEHIND_S and time.monotonic() - self._warned_at > 30:
                self._warned_at = time.monotonic()
                log.warning("the journal is %.1f s behind the broker: a SIGKILL of the broker now would lose "
                            "up to that much traffic (docs/durability.md)", self.behind_s)


async def _is_compacted(admin: AIOKafkaAdminClient, topic: str) -> bool:
    try:
        response = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        for resource in response[0].resources:
            for name, value, *_ in resource[4]:
                if name == "cleanup.policy":
                    return "compact" in value
    except Exception:  # noqa: BLE001 - a broker without DescribeConfigs: fall back on the names
        log.warning("journal: cannot read the cleanup policy of %s; judging by its name", topic)
    return topic.endswith("-changelog") or topic in ("tracewatch.controls", "tracewatch.prompts")
