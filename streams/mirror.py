"""Topic mirrors: every worker reads some topics whole, outside the consumer group, to answer the API.

The API must answer the same on every worker (a load balancer may send a request to any of them), but
the incident table is partitioned across workers. So each worker mirrors, from the beginning:
``tracewatch.incidents`` (latest incident per key), ``tracewatch.actions`` (latest record per execution),
``tracewatch.controls`` (blocks) and ``tracewatch.prompts`` (registry). Mirrors use a plain consumer with
manual assignment, so they behave the same on Apache Kafka and on the embedded broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.topics import bootstrap_of

log = logging.getLogger(__name__)

Apply = Callable[[bytes | None, bytes | None], None]


async def assign_from_beginning(consumer: AIOKafkaConsumer, topic: str,
                                timeout: float | None = None) -> list[TopicPartition]:
    """Assign every partition of ``topic`` (no consumer group) and seek to its start."""
    deadline = None if timeout is None else time.monotonic() + timeout
    partitions = consumer.partitions_for_topic(topic)
    while not partitions:
        if deadline is not None and time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions on the broker")
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await asyncio.sleep(0.2)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    return tps


class TopicMirror:
    def __init__(self, broker_url: str, topic: str, apply: Apply) -> None:
        self.broker_url = broker_url
        self.topic = topic
        self.apply = apply
        self.caught_up = asyncio.Event()  # set once everything present at start has been applied

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_of(self.broker_url), enable_auto_commit=False,
            auto_offset_reset="earliest", client_id=f"tracewatch-mirror-{self.topic}",
            fetch_max_wait_ms=50,
        )
        await consumer.start()
        try:
            tps = await assign_from_beginning(consumer, self.topic)
            end = await consumer.end_offsets(tps)
            pending = {tp for tp in tps if end[tp] > 0}
            if not pending:
                self.caught_up.set()
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    for record in records:
                        try:
                            self.apply(record.key, record.value)
                        except Exception:  # noqa: BLE001 - one bad record must not stop the mirror
                            log.exception("mirror %s: cannot apply record at offset %d", self.topic, record.offset)
                if pending:
                    for tp in list(pending):
                        if await consumer.position(tp) >= end[tp]:
                            pending.discard(tp)
                    if not pending:
                        self.caught_up.set()
        finally:
            await consumer.stop()
