"""Many table entries to a Faust table's changelog at once, in a few record batches.

Faust sends one changelog record per table write through its per-record producer buffer (some tens of
microseconds each, and a full buffer pauses every agent). The series agent changes thousands of series
between two offset commits — one per active user or session — so it writes them here instead: one
aiokafka record batch per partition, awaited until the broker has them. The records are exactly what
Faust itself would write (raw key, raw value, the partition the key hashes to), so Faust's table
recovery reads them back as usual.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.topics import KeyPartitioner, bootstrap_of


class ChangelogWriter:
    """Writes ``(key, value)`` pairs into a raw-bytes Faust table and its changelog topic."""

    def __init__(self, broker_url: str, table: Any, partitions: int) -> None:
        self.broker_url = broker_url
        self.table = table
        self.partition_of = KeyPartitioner(partitions)
        self._producer: AIOKafkaProducer | None = None
        self._ready = asyncio.Event()

    async def run(self) -> None:
        """Keep a producer open until cancelled (an app task)."""
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_of(self.broker_url), acks="all",
                                    linger_ms=0, max_batch_size=512 * 1024, client_id="tracewatch-changelog")
        await producer.start()
        self._producer = producer
        self._ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            self._ready.clear()
            self._producer = None
            await producer.stop()

    async def write(self, items: list[tuple[bytes, bytes]]) -> None:
        """Set each key in the table and wait until the broker holds all the changelog records."""
        if not items:
            return
        await self._ready.wait()
        producer = self._producer
        assert producer is not None
        topic = self.table.changelog_topic.get_topic_name()
        store = self.table.data  # the table's store: setting it here sends no changelog record of its own
        batches: dict[int, Any] = {}
        deliveries = []
        for key, value in items:
            store[key] = value
            partition = self.partition_of(key)
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start another
                deliveries.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for partition, batch in batches.items():
            deliveries.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*deliveries)
