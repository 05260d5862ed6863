"""The tables (series states, incidents) loaded in one pass before Faust's own recovery: restarts with
many series and incidents.

Faust's table recovery applies changelog records one event at a time (measured 2–7 k records/s on the
shared 2-core machine: 15–50 s for 100,000 series), and the worker answers nothing until it is done. A
plain consumer reads the same changelog in about a second. So the worker reads it before Faust starts
(``preload``), and the table's store starts with that content and tells Faust where it stopped
(``persisted_offset``): Faust's recovery then reads only what was written after — exactly how Faust
resumes a RocksDB table from its persisted offsets.

After the first recovery the store behaves as Faust's memory store: keys of partitions this worker was
not given are dropped, and a partition assigned later is recovered from the start of its changelog.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust import stores
from faust.stores import memory
from faust.types import TP

from streams.topics import bootstrap_of

SCHEME = "preloaded"  # the table's store URL: ``preloaded://tables`` (a URL without a host is false to yarl)


class PreloadedStore(memory.Store):
    """Faust's memory store, starting with what ``preload`` read for the table's changelog."""

    #: changelog topic → (key → value, key → partition, partition → last offset read)
    loaded: ClassVar[dict[str, tuple[dict, dict, dict[int, int]]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # Service.__init__ runs __post_init__ before the table is known
        topic = f"{self.app.conf.id}-{self.table_name}-changelog"
        data, partition_of, last = self.loaded.pop(topic, ({}, {}, {}))
        self.data, self._key_partition = self._decoded(data, partition_of)
        self._persisted = last

    def _decoded(self, data: dict, partition_of: dict) -> tuple[dict, dict]:
        """The changelog's bytes as Faust's recovery would store them: through the changelog's codecs
        (the series states are raw bytes, the incidents JSON)."""
        changelog = self.table.changelog_topic
        if not data or (changelog.key_serializer == "raw" and changelog.value_serializer == "raw"):
            return data, partition_of
        serializers = self.app.serializers
        keys = {raw: serializers.loads_key(changelog.key_type, raw, serializer=changelog.key_serializer)
                for raw in data}
        return ({keys[raw]: serializers.loads_value(changelog.value_type, value, serializer=changelog.value_serializer)
                 for raw, value in data.items()},
                {keys[raw]: partition for raw, partition in partition_of.items()})

    def persisted_offset(self, tp: TP) -> int | None:
        return self._persisted.get(tp.partition)

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        self._persisted = {}  # from now on: Faust's memory store (a later assignment recovers from the start)


stores.STORES.aliases[SCHEME] = f"{__name__}:PreloadedStore"


async def preload(broker_url: str, topic: str) -> tuple[int, float]:
    """Read the whole changelog ``topic`` for ``PreloadedStore``; returns (keys, seconds)."""
    started = time.monotonic()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_of(broker_url), enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=16 * 2**20,
                                fetch_max_bytes=64 * 2**20, client_id="tracewatch-preload")
    await consumer.start()
    data: dict[bytes, bytes] = {}
    partition_of: dict[bytes, int] = {}
    last: dict[int, int] = {}
    try:
        if topic not in await consumer.topics():
            return 0, time.monotonic() - started  # a first start: Faust creates the changelog
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        # Reading past a partition's end is harmless: Faust's recovery starts after the last offset read.
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                for m in messages:
                    if m.value is None:
                        data.pop(m.key, None)
                        partition_of.pop(m.key, None)
                    else:
                        data[m.key] = m.value
                        partition_of[m.key] = tp.partition
                    last[tp.partition] = m.offset
    finally:
        await consumer.stop()
    PreloadedStore.loaded[topic] = (data, partition_of, last)
    return len(data), time.monotonic() - started
