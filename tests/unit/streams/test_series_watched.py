"""The series a worker's detectors watch, as it judges, evicts and hands over series: each counted once.

A calibrated detector spreads its false-alarm budget over the series it watches (``Detector.watched``). A
worker restores a series' state whenever it is not in memory: after a rebalance (every state forgotten) or
after evicting it beyond ``MAX_LIVE_SERIES``. Counting every restore made each rebalance spread the budget
thinner, and the detectors quieter than configured: series are counted by key, from their windows."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from detectors.anomaly import FieldAnomaly
from detectors.base import BucketSummary
from detectors.suite import DetectorSuite
from streams.agents import series as series_agent
from streams.agents.series import SeriesJudge


def judge_of() -> tuple[SeriesJudge, type]:
    detector = FieldAnomaly("kpi", "feature", field="metadata.value")
    table: dict[bytes, bytes] = {}

    async def noop(*args: object, **kwargs: object) -> None:
        return None

    tw = SimpleNamespace(suite=DetectorSuite([detector], bucket_s=5), series_state=table, broker_url="kafka://x:1",
                         settings=SimpleNamespace(partitions=1), incident_policy=SimpleNamespace(resolve_after_s=600.0),
                         metrics=None, send_finding=noop, send_command=noop)
    judge = SeriesJudge(tw)  # type: ignore[arg-type]

    async def write(items: list[tuple[bytes, bytes]]) -> None:
        table.update(items)

    judge.writer.write = write  # the changelog's table, without a broker
    return judge, type(detector)


def feed(judge: SeriesJudge, keys: list[str], t: float, offset: int) -> None:
    """A window of each series at ``t``, closed (the watermark passes it)."""
    for i, key in enumerate(keys):
        summary = BucketSummary.make(key, t, n=1, total=1.0, t_last=t + 1)
        asyncio.run(judge.judge(summary, t + 120.0, (offset, i)))
        judge.states[key].advance(t + 120.0)


KEYS = [f"kpi|feature=f{i}" for i in range(5)]


def test_a_rebalance_counts_each_series_once_when_it_comes_back():
    judge, cls = judge_of()
    feed(judge, KEYS, 0.0, 0)
    assert cls.watched == 5
    asyncio.run(judge.forget())  # partitions revoked: every state goes
    assert cls.watched == 0 and not judge.states
    feed(judge, KEYS[:3], 60.0, 1)  # this worker got some of them back
    assert cls.watched == 3
    feed(judge, KEYS, 120.0, 2)
    assert cls.watched == 5


def test_a_series_evicted_from_memory_is_still_watched_and_counted_once_when_restored(monkeypatch):
    judge, cls = judge_of()
    monkeypatch.setattr(series_agent, "MAX_LIVE_SERIES", 2)
    feed(judge, KEYS, 0.0, 0)
    asyncio.run(judge.save_changed())  # snapshots written, then the oldest states evicted beyond the cap
    assert len(judge.states) == 2 and cls.watched == 5
    feed(judge, KEYS[:3], 60.0, 1)  # restored from their snapshots
    assert set(KEYS[:3]) <= set(judge.states) and cls.watched == 5
    asyncio.run(judge.save_changed())
    asyncio.run(judge.forget())  # live and evicted alike go to another worker
    assert cls.watched == 0
