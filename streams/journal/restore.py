"""Restore a fresh embedded broker from the journal, before any worker starts.

Every record goes back to its topic, partition *and offset*: a batch is built with each record's own
offset delta from where the partition ends, so gaps left by compaction or retention stay gaps (the
broker keeps the deltas, as Kafka does for compacted batches). Offsets are part of the state —
committed positions, the covers in ``tracewatch.series`` headers and the series snapshots' positions
all name offsets — so nothing has to be translated. Then each consumer group's committed offsets are
set again, never past the end of what was restored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.journal.store import JournalStore, Record

MAX_REQUEST_BYTES = 16 * 2**20  # a record up to the broker's message limit must fit in one request
BATCH_BYTES = 1 * 2**20


class RestoreError(RuntimeError):
    """The broker did not take the journal back as written (e.g. it was not empty)."""


@dataclass
class Restored:
    topics: int = 0
    records: int = 0
    groups: int = 0
    seconds: float = 0.0


async def restore(store: JournalStore, bootstrap: str) -> Restored:
    started = time.monotonic()
    result = Restored()
    topics = store.topics()
    if not topics:
        return result
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="tracewatch-restore")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, n, 1, topic_configs={"cleanup.policy": "compact"} if compacted else {})
                   for name, (n, compacted) in topics.items() if name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, message in response.topic_errors:
                if code not in (0, 36):
                    raise RestoreError(f"cannot create topic {name}: {message} (error {code})")
    finally:
        await admin.close()
    result.topics = len(topics)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                max_batch_size=BATCH_BYTES, max_request_size=MAX_REQUEST_BYTES,
                                client_id="tracewatch-restore")
    await producer.start()
    ends: dict[TopicPartition, int] = {}
    try:
        for name, (partitions, _) in topics.items():
            counts = await asyncio.gather(*(
                _restore_partition(producer, name, p, store.read(name, p), ends) for p in range(partitions)))
            result.records += sum(counts)
    finally:
        await producer.stop()
    result.groups = await _restore_offsets(bootstrap, store.group_offsets(), ends)
    result.seconds = time.monotonic() - started
    return result


async def _restore_partition(producer: AIOKafkaProducer, topic: str, partition: int, records: Iterable[Record],
                             ends: dict[TopicPartition, int]) -> int:
    end = 0  # where the partition ends on the broker: the next batch's base offset
    batch, base, last, count = None, 0, -1, 0

    async def send() -> None:
        nonlocal end
        metadata = await (await producer.send_batch(batch, topic, partition=partition))
        if metadata.offset != base:
            raise RestoreError(f"{topic}[{partition}]: the broker put a restored batch at offset "
                               f"{metadata.offset}, not {base}: it was not empty")
        end = last + 1

    def add(record: Record) -> bool:
        """Append at the record's own offset (gaps stay gaps); False when the batch is full."""
        batch._relative_offset = record.offset - base
        return batch.append(timestamp=record.timestamp_ms, key=record.key, value=record.value,
                            headers=list(record.headers)) is not None

    held = None  # the partition's last record goes alone (see below): hold each one back by one
    for record in records:
        if held is not None:
            if batch is None:
                batch, base = producer.create_batch(), end
            if not add(held):
                await send()
                batch, base = producer.create_batch(), end
                add(held)
            last = held.offset
            count += 1
            if count % 2000 == 0:
                await asyncio.sleep(0)  # the SQLite cursor is synchronous: let other partitions send meanwhile
        held = record
    if held is not None:
        # Tansu answers ListOffsets(latest) with the last batch's base offset + 1: a last batch of one
        # record makes that the true end, which consumers (Faust's recovery, the ingest's covers) rely on.
        if batch is not None:
            await send()
        batch, base = producer.create_batch(), end
        add(held)
        last = held.offset
        count += 1
        await send()
    ends[TopicPartition(topic, partition)] = end
    return count


async def _restore_offsets(bootstrap: str, groups: dict[str, dict[tuple[str, int], int]],
                           ends: dict[TopicPartition, int]) -> int:
    for group, offsets in groups.items():
        committed = {}
        for (topic, partition), offset in offsets.items():
            tp = TopicPartition(topic, partition)
            if tp in ends:  # a position past what was restored (lost with the broker) starts at the end
                committed[tp] = min(offset, ends[tp])
        if not committed:
            continue
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                    client_id="tracewatch-restore")
        await consumer.start()
        try:
            consumer.assign(sorted(committed))
            await consumer.commit(committed)
        finally:
            await consumer.stop()
    return len(groups)
