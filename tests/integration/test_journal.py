"""The journal against real embedded brokers: what one broker held comes back in the next, offsets and all."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.broker import EmbeddedBroker
from streams.journal.restore import restore
from streams.journal.store import JournalStore
from streams.journal.tail import Journal

pytestmark = pytest.mark.integration


async def _setup(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic("events", 2, 1),
                               NewTopic("state", 1, 1, topic_configs={"cleanup.policy": "compact"})])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    for i in range(30):
        await producer.send("events", b"v%d" % i, key=b"k%d" % i, partition=i % 2,
                            headers=[("tracewatch.covered", b"\x00\x01%d" % i)])
    for i in range(10):  # three keys, written over and over: the latest of each is the state
        await producer.send("state", b"s%d" % i, key=b"key%d" % (i % 3))
    await producer.send("state", None, key=b"key0")  # a tombstone is the latest of key0
    await producer.flush()
    await producer.stop()
    group = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="readers", enable_auto_commit=False)
    await group.start()
    group.assign([TopicPartition("events", 0), TopicPartition("events", 1)])
    await group.commit({TopicPartition("events", 0): 7, TopicPartition("events", 1): 15})
    await group.stop()


async def _journal_until_snapshot(store: JournalStore, bootstrap: str) -> None:
    journal = Journal(store, bootstrap, flush_interval_s=0.05, offsets_interval_s=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(journal.run(stop))
    deadline = time.monotonic() + 60  # a safety net: the condition below is what the test waits on
    while not (journal.snapshots and store.counts().get("events") == 30):
        assert time.monotonic() < deadline, f"journal did not catch up: {store.counts()}"
        assert not task.done(), task.exception()
        await asyncio.sleep(0.05)
    stop.set()
    await task


async def _read_all(bootstrap: str, topic: str, partitions: int) -> list[tuple[int, int, bytes, bytes, tuple]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    out, idle = [], 0
    while idle < 3:
        batch = await consumer.getmany(timeout_ms=300)
        idle = 0 if batch else idle + 1
        out += [(m.partition, m.offset, m.key, m.value, tuple(m.headers)) for ms in batch.values() for m in ms]
    await consumer.stop()
    return sorted(out)


async def _ends(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return {tp.partition: end for tp, end in ends.items()}
    finally:
        await consumer.stop()


async def _committed(bootstrap: str) -> dict[int, int]:
    group = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="readers", enable_auto_commit=False)
    await group.start()
    try:
        return {p: await group.committed(TopicPartition("events", p)) for p in (0, 1)}
    finally:
        await group.stop()


def test_a_restored_broker_has_the_same_records_offsets_headers_and_positions(tmp_path):
    store = JournalStore(tmp_path / "journal.sqlite")
    with EmbeddedBroker() as first:
        asyncio.run(_setup(first.bootstrap))
        asyncio.run(_journal_until_snapshot(store, first.bootstrap))
        original = asyncio.run(_read_all(first.bootstrap, "events", 2))
    assert len(original) == 30

    with EmbeddedBroker() as second:
        restored = asyncio.run(restore(store, second.bootstrap))
        assert restored.records == 30 + 3 and restored.groups == 1
        assert asyncio.run(_read_all(second.bootstrap, "events", 2)) == original
        state = asyncio.run(_read_all(second.bootstrap, "state", 1))
        # compacted: the latest record per key, at its own offset (key0's tombstone is the last, offset 10)
        # compacted: the latest record per key, at its own offset (key0's latest is the tombstone at 10)
        assert {k: v for _, _, k, v, _ in state} == {b"key0": None, b"key1": b"s7", b"key2": b"s8"}
        assert [o for _, o, _, _, _ in state] == [7, 8, 10]
        assert asyncio.run(_committed(second.bootstrap)) == {0: 7, 1: 15}
        assert asyncio.run(_ends(second.bootstrap, "events", 2)) == {0: 15, 1: 15}  # the true ends

        async def produce_after_restore() -> int:
            producer = AIOKafkaProducer(bootstrap_servers=second.bootstrap)
            await producer.start()
            metadata = await (await producer.send("state", b"new", key=b"key1"))
            await producer.stop()
            return metadata.offset

        assert asyncio.run(produce_after_restore()) == 11  # the partition ends where it ended


def test_retention_keeps_what_a_group_has_not_read_and_each_partition_end(tmp_path):
    store = JournalStore(tmp_path / "journal.sqlite")
    with EmbeddedBroker() as first:
        asyncio.run(_setup(first.bootstrap))
        asyncio.run(_journal_until_snapshot(store, first.bootstrap))
    dropped = store.trim(older_than_ms=int(time.time() * 1000) + 60_000, keep_whole=set())  # all are "old"
    assert dropped == 7 + 14  # partition 0: 0..6 (the group committed 7); partition 1: 0..13 (14 is its end)
    with EmbeddedBroker() as second:
        asyncio.run(restore(store, second.bootstrap))
        left = asyncio.run(_read_all(second.bootstrap, "events", 2))
        assert [(p, o) for p, o, *_ in left] == [(0, o) for o in range(7, 15)] + [(1, 14)]
        assert asyncio.run(_committed(second.bootstrap)) == {0: 7, 1: 15}
