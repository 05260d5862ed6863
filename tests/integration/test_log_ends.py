"""Log end offsets against the embedded broker, which reports the last record batch's base offset + 1.

Faust's table recovery reads a changelog up to the reported end; with batches of several records at the
end of a partition, the rest of the last batch — the newest state — was skipped.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from streams.transport import LogEnds, read_range

pytestmark = pytest.mark.integration


async def write_batches(bootstrap: str, topic: str, batches: int, size: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"first", partition=1)
        for b in range(batches):
            batch = producer.create_batch()
            for i in range(size):
                batch.append(key=b"k%d" % i, value=b"v%d" % b, timestamp=None)
            await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


async def test_log_ends_count_every_record_of_the_last_batch(broker):
    await write_batches(broker.bootstrap, "ends", batches=3, size=5)
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
    await consumer.start()
    tps = [TopicPartition("ends", p) for p in range(2)] + [TopicPartition("ends", 2)]
    try:
        reported = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    ends = LogEnds(broker.bootstrap)
    try:
        corrected = await ends.correct(reported)
        again = await ends.correct(reported)  # the checking consumer is reused
    finally:
        await ends.close()
    assert corrected[tps[0]] == 15 and corrected[tps[1]] == 1 and corrected[tps[2]] == 0
    assert again == corrected
    assert all(corrected[tp] >= reported[tp] for tp in tps)


async def test_a_range_faust_skipped_is_read_whole_across_batches(broker):
    # The consumer reads a hole Faust left (streams.transport.without_holes) with read_range: every record
    # of the range, across record batches, and none outside it.
    await write_batches(broker.bootstrap, "holes", batches=3, size=5)
    records = await read_range(broker.bootstrap, "holes", 0, 3, 12)
    assert [r.offset for r in records] == list(range(3, 12))
    assert [r.value for r in records] == [b"v0"] * 2 + [b"v1"] * 5 + [b"v2"] * 2
