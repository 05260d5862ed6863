"""Exactly once across crashes, without a broker: the ingest's covers (streams.coverage), its commit bound,
the skip on re-read, the suite's skip and the series state's position (docs/exactly-once.md).

The model test plays the ingest side against an in-memory series topic: messages are handled, flushed
with random watermarks (holding buckets back), offsets committed at the bound, and the worker killed at
random points (also in the middle of a flush, after only some of its messages went out); each new
incarnation recovers the covers from the tail of the in-memory topic and re-reads from the committed
offset. Every series must end with exactly the events an undisturbed run counts.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from types import SimpleNamespace

import orjson
import pytest

from detectors.base import BucketSummary
from detectors.config import build_suite, enable, load_config
from detectors.suite import SeriesState
from incidents.book import IncidentBook
from runbooks.pipeline import Pipeline
from streams.agents.ingest import Ingest
from streams.coverage import COVERED_HEADER, Cover, part_cover
from streams.topics import KeyPartitioner
from traces.events import TraceEvent

PARTITIONS = 4
SOURCES = 2
BASE = 1_700_000_000.0


class _Counter:
    def labels(self, *args):
        return self

    def inc(self, n=1):
        pass


class _Topic(SimpleNamespace):
    def get_topic_name(self) -> str:
        return self.name


@pytest.fixture(scope="module")
def suite():
    return build_suite(enable(load_config(), "budget_user_daily"))


def service(suite) -> SimpleNamespace:
    async def send(**kwargs):
        pass

    suite._pending = {}  # a new incarnation starts with nothing pending
    return SimpleNamespace(
        traces=_Topic(name="tracewatch.traces"), otlp=_Topic(name="tracewatch.otlp"), suite=suite,
        settings=SimpleNamespace(partitions=PARTITIONS, max_message_bytes=1 << 20, otlp_encoding="auto",
                                 future_tolerance_s=300.0),
        deadletter=SimpleNamespace(send=send), pipeline=Pipeline(book=IncidentBook({}), suite=suite),
        metrics=SimpleNamespace(events=_Counter(), deadletter=_Counter(), cost_unknown=_Counter(),
                                events_refolds_skipped=_Counter(), observe_message=lambda e, s: None),
        send_finding=None)


def traffic(rng: random.Random, messages: int) -> list[list[bytes]]:
    """Per source partition, JSON messages (some arrays) whose event times wander a few buckets."""
    out: list[list[bytes]] = [[] for _ in range(SOURCES)]
    t = BASE
    for i in range(messages):
        t += rng.expovariate(2.0)
        batch = [{"trace_id": f"t{i}-{j}", "timestamp": round(t - rng.uniform(0, 20), 3), "model": "m",
                  "user_id": f"u{rng.randrange(12)}", "session_id": f"s{rng.randrange(5)}",
                  "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01, "latency_ms": 100.0}
                 for j in range(rng.choice((1, 1, 1, 3)))]
        out[rng.randrange(SOURCES)].append(orjson.dumps(batch if len(batch) > 1 else batch[0]))
    return out


def counted(log: dict[int, list]) -> Counter:
    totals: Counter = Counter()
    for messages in log.values():
        for blob, _ in messages:
            for item in orjson.loads(blob):
                totals[item["k"]] += item["n"]
    return totals


def latest_covers(log: dict[int, list], names: list[str]) -> dict[str, dict[int, Cover]]:
    found: dict[str, dict[int, Cover]] = {}
    for q, messages in log.items():
        for name in names:
            for _, headers in reversed(messages):
                covers = orjson.loads(dict(headers)[COVERED_HEADER])
                if name in covers:
                    found.setdefault(name, {})[q] = Cover.from_json(covers[name])
                    break
    return found


def run(suite, sources: list[list[bytes]], rng: random.Random | None) -> tuple[Counter, int]:
    """Play ``sources`` through the ingest; ``rng``: crash at random points (None: undisturbed)."""
    log: dict[int, list] = {q: [] for q in range(PARTITIONS)}
    committed = [0] * SOURCES
    crashes = 0

    async def incarnation() -> bool:
        """True once everything is read and sent; False after a crash."""
        ing = Ingest(service(suite))
        ing.partition_of = KeyPartitioner(PARTITIONS)

        async def recoverer(names):
            return latest_covers(log, names)

        ing.recoverer = recoverer
        position = list(committed)
        latest = [-math.inf] * SOURCES
        while True:
            left = [p for p in range(SOURCES) if position[p] < len(sources[p])]
            step = rng.random() if rng else 0.5
            if step < 0.6 and left:
                p = rng.choice(left) if rng else left[0]
                events = await ing.handle("tracewatch.traces", p, position[p], sources[p][position[p]])
                if events:
                    latest[p] = max(latest[p], max(e.timestamp.timestamp() for e in events))
                position[p] += 1
            elif step < 0.85 or not left:
                if not left:
                    until = math.inf
                elif rng and rng.random() < 0.5:  # catching up: hold the buckets after the slowest
                    until = min(latest) - rng.uniform(0, 30)
                else:
                    until = math.inf
                messages = ing.messages(until, {})
                crash = rng is not None and rng.random() < 0.08
                cut = rng.randrange(len(messages) + 1) if crash and messages else len(messages)
                for q, blob, headers in messages[:cut]:
                    log[q].append((blob, headers))
                if crash:
                    return False
                if not left and not ing.tw.suite.pending:
                    return True
            elif step < 0.95:
                for p in range(SOURCES):  # Faust commits what was handled, at most the bound
                    bound = ing.commit_bound("tracewatch.traces", p)
                    if bound is not None:
                        committed[p] = max(committed[p], min(position[p], bound))
            elif rng is not None:
                return False  # killed between two steps: whatever is pending here is lost

    while not asyncio.run(incarnation()):
        crashes += 1
    return counted(log), crashes


@pytest.mark.parametrize("seed", range(12))
def test_every_event_counted_once_in_every_series_whatever_the_crash_points(suite, seed):
    rng = random.Random(seed)
    sources = traffic(rng, 160)
    expected, _ = run(suite, sources, None)
    events = sum(len(orjson.loads(m)) if m.startswith(b"[") else 1 for part in sources for m in part)
    assert expected["budget_user_daily|user_id=" + "u0"] > 0
    assert sum(n for k, n in expected.items() if k.startswith("budget_user_daily|")) == events
    got, crashes = run(suite, sources, rng)
    assert crashes > 0
    assert got == expected


def test_a_flush_split_into_parts_covers_each_part_exactly(suite, monkeypatch):
    import streams.agents.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "SERIES_MESSAGE_BYTES", 600)  # a few summaries per message
    for seed in range(4):
        rng = random.Random(100 + seed)
        sources = traffic(rng, 120)
        expected, _ = run(suite, sources, None)
        got, crashes = run(suite, sources, rng)
        assert crashes > 0 and got == expected


def test_covers_after_a_cut_and_a_take_over():
    cover = part_cover(done=50, held={20.0: 40}, released={10.0: 30, 15.0: 35}, cut=(10.0, "k"))
    assert cover.threshold("a", 10.0) == 51  # sent in this part
    assert cover.threshold("z", 10.0) == 30  # in a later part: pending from its first offset
    assert cover.threshold("a", 15.0) == 35 and cover.threshold("a", 20.0) == 40
    assert cover.threshold("a", 5.0) == 51 and cover.lowest() == 30 and cover.highest() == 51
    final = part_cover(done=50, held={20.0: 40}, released={10.0: 30, 15.0: 35}, cut=None)
    assert final == Cover(50, {20.0: [40]})
    before = Cover(70, {10.0: [33, "m", 60]})  # what the series partition had before a crash
    both = final.combine(before)
    assert both.done == 70
    assert both.threshold("a", 10.0) == 51 and both.threshold("z", 10.0) == 60  # sent by either
    assert both.threshold("a", 20.0) == 71  # the old owner had sent it all
    assert both.combine(None) is both
    assert Cover.from_json(orjson.loads(orjson.dumps(both.to_json()))) == both


def test_observe_skips_the_series_that_already_counted_the_event(suite):
    suite._pending = {}
    event = TraceEvent(trace_id="t", timestamp=BASE, model="m", user_id="u1", cost_usd=1.0)
    suite.observe(event, lambda key: key.startswith("budget_user_daily|"))
    summaries = suite.flush()
    keys = {s.series_key for s in summaries}
    assert "budget_user_daily|user_id=u1" not in keys and keys  # the others counted it
    suite.observe(event)
    assert "budget_user_daily|user_id=u1" in {s.series_key for s in suite.flush()}
    suite.observe(event, lambda key: True)
    assert suite.pending == 0 and suite.flush() == []


def test_the_series_state_snapshot_keeps_its_position(suite):
    state = suite.series_state("budget_user_daily|user_id=u1")
    assert state.position == (-1, -1)
    state.add(BucketSummary.make("budget_user_daily|user_id=u1", BASE, n=3, total=3.0, t_last=BASE + 1))
    state.position = (1234, 7)
    blob = state.snapshot()
    assert len(blob) <= 2048
    again = suite.restore_series(blob)
    assert again.position == (1234, 7) and again == state
    old = orjson.loads(blob)
    del old["p"]  # a snapshot of an earlier version
    assert suite.restore_series(orjson.dumps(old)).position == (-1, -1)


def test_series_state_class_has_the_slot():
    assert "position" in SeriesState.__slots__


def test_a_message_delivered_again_is_not_counted_again(suite):
    # Faust may deliver a message again (holes it skipped are read by the consumer itself:
    # streams.transport.without_holes); the ingest folds each offset once.
    part = traffic(random.Random(5), 40)[0]
    ing = Ingest(service(suite))
    ing.partition_of = KeyPartitioner(PARTITIONS)

    async def go():
        for offset in range(2, 10):
            await ing.handle("tracewatch.traces", 0, offset, part[offset])
        assert await ing.handle("tracewatch.traces", 0, 7, part[7]) == []  # delivered again

    asyncio.run(go())
    assert ing.sources[("tracewatch.traces", 0)].done == 9
    events = sum(len(orjson.loads(m)) if m.startswith(b"[") else 1 for m in part[2:10])
    assert sum(s.n for s in suite.flush() if s.series_key.startswith("budget_user_daily|")) == events
