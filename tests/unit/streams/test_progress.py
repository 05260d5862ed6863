"""The ingest's progress report: how far in event time each source partition that is behind has come."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.types import TP

from incidents.book import IncidentBook
from runbooks.pipeline import Pipeline
from streams.agents.ingest import BEHIND_UNKNOWN, Ingest


class Topic(SimpleNamespace):
    def get_topic_name(self) -> str:
        return self.name


class Consumer:
    """What ``Ingest.progress`` reads from Faust's consumer: assignment, log end offsets, positions."""

    def __init__(self, ends: dict[TP, int | None], positions: dict[TP, int] | None = None) -> None:
        self.ends, self._read_offset = ends, dict(positions or {})

    def assignment(self) -> set[TP]:
        return set(self.ends) | {TP("tracewatch.series", 0)}

    def highwater(self, tp: TP) -> int | None:
        return self.ends[tp]


def ingest() -> Ingest:
    tw = SimpleNamespace(traces=Topic(name="tracewatch.traces"), otlp=Topic(name="tracewatch.otlp"))
    return Ingest(tw)  # type: ignore[arg-type]


def read(ing: Ingest, partition: int, offset: int, t: float) -> None:
    ing.seen[("tracewatch.traces", partition)] = [offset, t]


def test_partitions_read_to_the_end_are_not_behind():
    ing = ingest()
    read(ing, 0, 99, 1000.0)
    read(ing, 1, 49, 900.0)
    report = ing.progress(Consumer({TP("tracewatch.traces", 0): 100, TP("tracewatch.traces", 1): 50}))
    assert report == {"tracewatch.traces/0": None, "tracewatch.traces/1": None}


def test_the_slowest_partition_behind_sets_the_watermark_for_all_that_are_behind():
    ing = ingest()
    read(ing, 0, 10, 1000.0)
    read(ing, 1, 10, 700.0)
    read(ing, 2, 99, 500.0)  # read to the end: quiet, not behind
    consumer = Consumer({TP("tracewatch.traces", 0): 100, TP("tracewatch.traces", 1): 100,
                         TP("tracewatch.traces", 2): 100, TP("tracewatch.otlp", 0): 0})
    assert ing.progress(consumer) == {"tracewatch.traces/0": 700.0, "tracewatch.traces/1": 700.0,
                                      "tracewatch.traces/2": None, "tracewatch.otlp/0": None}


def test_a_partition_behind_and_not_read_yet_holds_everything():
    ing = ingest()
    read(ing, 0, 10, 1000.0)
    consumer = Consumer({TP("tracewatch.traces", 0): 100, TP("tracewatch.traces", 1): 100,
                         TP("tracewatch.traces", 2): 100, TP("tracewatch.traces", 3): None},
                        positions={TP("tracewatch.traces", 2): 100})  # committed at the end already
    report = ing.progress(consumer)
    assert report["tracewatch.traces/1"] == report["tracewatch.traces/0"] == BEHIND_UNKNOWN
    assert report["tracewatch.traces/2"] is None and report["tracewatch.traces/3"] is None


def test_handle_records_offset_and_latest_event_time_even_for_bad_input():
    sent = []

    async def send(**kwargs):
        sent.append(kwargs)

    ing = ingest()
    tw = ing.tw
    tw.settings = SimpleNamespace(max_message_bytes=1 << 20, otlp_encoding="auto", future_tolerance_s=300.0)
    tw.deadletter = SimpleNamespace(send=send)
    tw.metrics = SimpleNamespace(events=_Counter(), deadletter=_Counter(), cost_unknown=_Counter(),
                                 observe_message=lambda events, seconds: None)
    tw.suite = SimpleNamespace(observe=lambda event: [], bucket_s=5.0)
    tw.pipeline = Pipeline(book=IncidentBook({}))
    asyncio.run(ing.handle("tracewatch.traces", 3, 7, b'[{"trace_id":"a","timestamp":2000,"model":"m"},'
                                                        b'{"trace_id":"b","timestamp":1500,"model":"m"}]'))
    asyncio.run(ing.handle("tracewatch.traces", 3, 8, b"not json"))
    assert ing.seen[("tracewatch.traces", 3)] == [8, 2000.0] and len(sent) == 1


class _Counter:
    def labels(self, *args):
        return self

    def inc(self, n=1):
        pass
