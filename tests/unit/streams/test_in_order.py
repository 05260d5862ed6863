"""``App.in_order``: what an agent gets of each partition — from the committed offset on, no hole, no repeat.

Faust was seen to start a partition past its committed offset and to drop what it had buffered, then to
commit past the skipped offsets (docs/exactly-once.md, "Every offset delivered"); the kill test lost
summaries and events that way.
"""

from __future__ import annotations

import asyncio
from types import MethodType, SimpleNamespace

import pytest

from streams import transport
from streams.transport import App


def event(offset: int, partition: int = 0, generation: int = 1) -> SimpleNamespace:
    message = SimpleNamespace(topic="t", partition=partition, offset=offset, generation_id=generation,
                              timestamp=100.0 + offset)
    return SimpleNamespace(message=message, key=b"k", value=b"v%d" % offset, headers={"h": b"1"})


class Stream:
    def __init__(self, events) -> None:
        self._events = events

    async def events(self):
        for e in self._events:
            yield e


@pytest.fixture
def reads(monkeypatch):
    asked: list[tuple[int, int, int]] = []

    async def read_range(bootstrap, topic, partition, start, end):
        asked.append((partition, start, end))
        return [SimpleNamespace(topic=topic, partition=partition, offset=o, key=b"k", value=b"v%d" % o,
                                headers=[("h", b"1")], timestamp=(100 + o) * 1000) for o in range(start, end)]

    monkeypatch.setattr(transport, "read_range", read_range)
    return asked


def app(next_offsets: dict) -> SimpleNamespace:
    tw = SimpleNamespace(next_offsets=next_offsets, processed=dict(next_offsets), consumer_generation_id=1,
                         conf=SimpleNamespace(broker=["kafka://127.0.0.1:9"]))
    tw._finished = MethodType(App._finished, tw)
    return tw


async def collect(tw, stream) -> list[tuple[int, int]]:
    return [(m.partition, m.offset) async for m in App.in_order(tw, stream)]


def test_a_hole_at_the_start_and_in_the_middle_is_read_and_a_repeat_is_dropped(reads):
    tw = app({("t", 0): 3, ("t", 1): 0})
    stream = Stream([event(6), event(0, partition=1), event(7), event(5), event(9), event(1, partition=1)])
    got = asyncio.run(collect(tw, stream))
    assert got == [(0, 3), (0, 4), (0, 5), (0, 6), (1, 0), (0, 7), (0, 8), (0, 9), (1, 1)]
    assert reads == [(0, 3, 6), (0, 8, 9)]
    assert tw.next_offsets == {("t", 0): 10, ("t", 1): 2}


def test_only_what_the_agent_has_finished_may_be_committed(reads):
    # Faust acks the messages its stream drops; the commit bound is what the agent got through.
    tw = app({("t", 0): 3})

    async def go():
        seen = []
        async for m in App.in_order(tw, Stream([event(6), event(7)])):
            seen.append((m.offset, tw.processed[("t", 0)]))  # while the agent works on m
        return seen

    assert asyncio.run(go()) == [(3, 3), (4, 4), (5, 5), (6, 6), (7, 7)]
    assert tw.processed == {("t", 0): 8}


def test_a_message_finished_after_a_reassignment_does_not_move_the_bound(reads):
    tw = app({("t", 0): 0})

    async def go():
        async for m in App.in_order(tw, Stream([event(0), event(1)])):
            if m.offset == 0:
                tw.consumer_generation_id, tw.processed = 2, {("t", 0): 0}  # assigned anew meanwhile
        return tw.processed

    assert asyncio.run(go()) == {("t", 0): 0}


def test_what_is_read_directly_looks_like_what_faust_delivers(reads):
    tw = app({("t", 0): 0})
    got = asyncio.run(_all(tw, Stream([event(1)])))
    assert [(m.offset, m.key, m.value, dict(m.headers), m.timestamp) for m in got] == \
        [(0, b"k", b"v0", {"h": b"1"}, 100.0), (1, b"k", b"v1", {"h": b"1"}, 101.0)]


def test_a_partition_whose_position_is_unknown_starts_where_faust_starts(reads):
    # Only when the lookup at the assignment failed: a partition never committed is expected from its log
    # start (streams.transport.read_positions; tests/integration/test_assignment_positions.py).
    tw = app({})
    assert asyncio.run(collect(tw, Stream([event(4), event(5)]))) == [(0, 4), (0, 5)]
    assert reads == []


def test_a_reassignment_during_a_hole_stops_handing_it_over(reads):
    tw = app({("t", 0): 0})

    async def go():
        out = []
        async for m in App.in_order(tw, Stream([event(3)])):
            out.append(m.offset)
            tw.consumer_generation_id = 2  # reassigned: Faust delivers again from the committed offset
        return out

    assert asyncio.run(go()) == [0]


async def _all(tw, stream):
    return [m async for m in App.in_order(tw, stream)]


class Consumer:
    """The parts of the worker's consumer the stall check uses: assignment, log ends, seek."""

    def __init__(self, ends: dict, read: dict) -> None:
        self.ends, self.sought, self.flow_active = ends, [], True
        self._read_offset = read  # the last offset Faust passed on to (or dropped before) its streams

    def assignment(self):
        return set(self.ends)

    async def highwaters(self, *tps):
        return {tp: self.ends[tp] for tp in tps}

    async def seek(self, tp, offset):
        self.sought.append((tp.partition, offset))


def stall_app(next_offsets: dict, processed: dict, ends: dict, read: dict | None = None) -> SimpleNamespace:
    from aiokafka.structs import TopicPartition

    consumer = Consumer({TopicPartition(t, p): e for (t, p), e in ends.items()},
                        {TopicPartition(t, p): o for (t, p), o in (read or {}).items()})
    tw = SimpleNamespace(next_offsets=next_offsets, processed=processed, consumer=consumer, rebalancing=False,
                         consumer_generation_id=1, _stalled={})
    tw.fetch_stalled_again = MethodType(App.fetch_stalled_again, tw)
    return tw


def test_a_skipped_end_of_a_partition_is_fetched_again_once_the_agent_waits_across_two_checks():
    # Partition 0: the agent finished everything it got (up to 4) but the log has 6 records, and nothing
    # comes (Faust dropped 4 and 5 and nothing is written after them). Partition 1: the agent is still on
    # a message. Partition 2: nothing more in the log.
    tw = stall_app(next_offsets={("t", 0): 4, ("t", 1): 2, ("t", 2): 3},
                   processed={("t", 0): 4, ("t", 1): 1, ("t", 2): 3},
                   ends={("t", 0): 6, ("t", 1): 5, ("t", 2): 3}, read={("t", 0): 5, ("t", 1): 4, ("t", 2): 2})
    asyncio.run(tw.fetch_stalled_again())
    assert tw.consumer.sought == []  # first seen waiting: maybe Faust just has not delivered it yet
    asyncio.run(tw.fetch_stalled_again())
    assert tw.consumer.sought == [(0, 4)]


def test_a_partition_faust_has_not_passed_on_yet_is_fetched_again_only_after_a_longer_wait():
    # Faust's one fetch loop may be held up behind another agent's full buffer: not a skipped range yet.
    tw = stall_app(next_offsets={("t", 0): 4}, processed={("t", 0): 4}, ends={("t", 0): 6}, read={("t", 0): 3})
    for _ in range(transport.STALL_CHECKS_UNPASSED - 1):
        asyncio.run(tw.fetch_stalled_again())
    assert tw.consumer.sought == []
    asyncio.run(tw.fetch_stalled_again())
    assert tw.consumer.sought == [(0, 4)]


def test_a_partition_whose_agent_moved_on_between_two_checks_is_not_fetched_again():
    tw = stall_app(next_offsets={("t", 0): 4}, processed={("t", 0): 4}, ends={("t", 0): 9}, read={("t", 0): 8})
    asyncio.run(tw.fetch_stalled_again())
    tw.next_offsets[("t", 0)] = tw.processed[("t", 0)] = 6  # delivered meanwhile
    asyncio.run(tw.fetch_stalled_again())
    assert tw.consumer.sought == []
