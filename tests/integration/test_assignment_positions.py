"""Where each stream partition must start after an assignment, against the embedded broker.

A worker killed before its group first committed a partition leaves records there (an incident it opened,
a finding) and no committed offset. Faust starts such a partition at its log start, but was seen to skip
the first records of a partition at start-up; ``App.in_order`` reads a skipped range directly only if it
knows where the partition starts. Without that, the kill test lost an incident's runbook execution: its
``opened`` record was the first of its partition of ``tracewatch.incidents`` (issue 13).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams import transport
from streams.transport import read_positions

pytestmark = pytest.mark.integration

GROUP = "tracewatch-positions-test"


async def records(bootstrap: str, topic: str, counts: dict[int, int]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, count in counts.items():
            for i in range(count):
                await producer.send_and_wait(topic, b"v%d" % i, partition=partition)
    finally:
        await producer.stop()


async def commit(bootstrap: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in offsets])
        await consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in offsets.items()})
    finally:
        await consumer.stop()


async def test_a_partition_never_committed_starts_at_its_log_start(broker):
    # partition 0: records, never committed; 1: committed at 2; 2: empty, never committed
    await records(broker.bootstrap, "positions", {0: 3, 1: 4})
    await commit(broker.bootstrap, "positions", {1: 2})
    positions = await read_positions(broker.bootstrap, GROUP, [("positions", p) for p in range(3)])
    assert positions == {("positions", 0): 0, ("positions", 1): 2, ("positions", 2): 0}


async def test_an_assignment_expects_every_stream_partition_from_a_known_offset(broker, monkeypatch):
    # What the worker's consumer records at an assignment: App.in_order and the fetch check hand each
    # partition over from there, reading directly what Faust skips (a partition never committed included).
    await records(broker.bootstrap, "tracewatch.incidents", {0: 2, 1: 3})
    await commit(broker.bootstrap, "tracewatch.incidents", {1: 1})

    async def faust_assigned(self, assigned, generation_id=0):  # noqa: ANN001 - Faust's own part is not under test
        return None

    monkeypatch.setattr(faust_aiokafka.Consumer, "on_partitions_assigned", faust_assigned)
    app = SimpleNamespace(conf=SimpleNamespace(id=GROUP, broker=[broker.url]), next_offsets={}, processed={})
    consumer = object.__new__(transport._Consumer)
    consumer.app, consumer._next_offset = app, {}
    consumer._is_changelog_tp = lambda tp: tp.topic.endswith("-changelog")
    assigned = {TopicPartition("tracewatch.incidents", p) for p in range(4)} | {
        TopicPartition("tracewatch-incidents-changelog", 0)}
    await transport._Consumer.on_partitions_assigned(consumer, assigned, 1)
    want = {("tracewatch.incidents", 0): 0, ("tracewatch.incidents", 1): 1, ("tracewatch.incidents", 2): 0,
            ("tracewatch.incidents", 3): 0}
    assert app.next_offsets == want
    assert app.processed == want  # nothing may be committed past what the agent has finished
    assert {(tp.topic, tp.partition): o for tp, o in consumer._next_offset.items()} == want
