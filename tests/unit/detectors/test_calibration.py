"""The calibrated threshold keeps its promise: about ``false_alarms_per_week`` for the whole detector,
whatever each series' noise, and however many series it watches."""

from __future__ import annotations

import math
import random

from detectors import BucketSummary, DetectorSuite, ErrorSurge, FieldAnomaly
from detectors import calibration

WEEK = 604_800.0


def _noise(kind: str, rng: random.Random) -> float:
    if kind == "gauss":
        return rng.gauss(100, 5)
    if kind == "student3":  # heavy tails
        return 100 + 5 * rng.gauss(0, 1) / math.sqrt(sum(rng.gauss(0, 1) ** 2 for _ in range(3)) / 3)
    if kind == "lognormal":  # skewed, like latency or spend
        return 100 * rng.lognormvariate(0, 0.5)
    return 100 + (40 * rng.random() if rng.random() < 0.05 else rng.gauss(0, 2))  # bursty


def _false_alarms(make, series: int, weeks: float, seed: int = 3) -> int:
    """Findings on clean series after a week of learning, per series kind."""
    window_s = 300.0
    rng = random.Random(seed)
    suite = DetectorSuite([make()], bucket_s=60)
    kinds = ["gauss", "student3", "lognormal", "bursty"]
    states = [suite.series_state(f"{suite.detectors['a'].name}|app=s{i}") for i in range(series)]
    alarms = 0
    for w in range(int((1 + weeks) * WEEK / window_s)):
        t0 = 1_767_225_600.0 + w * window_s
        for i, st in enumerate(states):
            v = _noise(kinds[i % 4], rng)
            st.add(BucketSummary.make(st.series_key, t0, n=1, total=v, t_last=t0 + 1))
            found = st.advance(t0 + window_s)  # closed and judged, as a worker's watermark does
            if found and w * window_s >= WEEK:
                alarms += len(found)
    return alarms


def test_one_false_alarm_per_week_for_the_detector_whatever_the_noise():
    calibrated = _false_alarms(lambda: FieldAnomaly("a", "app", field="metadata.v", window_s=300,
                                                    cooldown_s=0, warmup=20), series=24, weeks=2)
    fixed_z = _false_alarms(lambda: FieldAnomaly("a", "app", field="metadata.v", window_s=300, cooldown_s=0,
                                                 warmup=20, z=4.0, false_alarms_per_week=1e9),
                            series=24, weeks=2)
    assert calibrated <= 6, calibrated  # 2 expected over two weeks; Poisson(2) exceeds 6 with p < 0.5 %
    assert fixed_z >= 20 * max(calibrated, 1), fixed_z  # a fixed z pages heavy-tailed series daily


def test_more_series_stricter_threshold_per_series():
    tail = calibration.new_tail()
    rng = random.Random(1)
    for _ in range(5000):
        calibration.learn(tail, abs(rng.gauss(0, 1)), 0.9999)
    few = calibration.threshold(tail, calibration.per_window_q(1, 60, 10))
    many = calibration.threshold(tail, calibration.per_window_q(1, 60, 100_000))
    assert 4.0 < few < many < 10.0  # |N(0,1)|: 4.4 and 5.9; an exponential tail is assumed at least


def test_the_suite_counts_the_series_a_detector_watches():
    """By key, from their closed windows: a restored series is the same series, and one without a window for a
    week (a session that ended) no longer takes a share of the budget."""
    d = ErrorSurge("e", "model")
    suite = DetectorSuite([d], bucket_s=5)

    def closed_window(state, t: float) -> None:
        state.add(BucketSummary.make(state.series_key, t, n=1, total=1.0, t_last=t + 1))
        state.advance(t + d.window_s)

    a = suite.series_state("e|model=a")
    closed_window(a, 0.0)
    first = a.detector.alarm_at()
    for i in range(1000):
        closed_window(suite.series_state(f"e|model=m{i}"), 0.0)
    assert type(d).watched == 1001
    assert a.detector.alarm_at() > first
    closed_window(suite.restore_series(a.snapshot()), 60.0)  # restored after a rebalance: still one series
    assert type(d).watched == 1001
    closed_window(a, 8 * 86_400.0)  # a week on, only "a" had a window
    assert type(d).watched == 1 and a.detector.alarm_at() == first
    suite.unwatch_all()  # its partitions revoked
    assert type(d).watched == 0
    suite.restore_series(a.snapshot())  # and one given back: counted from its restore, before its next window
    assert type(d).watched == 1


def test_an_alarm_does_not_teach_the_tail():
    d = ErrorSurge("e", "model", warmup=0, min_volume=10)
    before = list(d._tail)
    d.learn_score(50.0, d.alarm_at())
    assert d._tail == before
    d.learn_score(1.0, d.alarm_at())
    assert d._tail != before


def test_the_top_record_keeps_the_largest_scores_and_reads_a_quantile_off_them():
    top: list[float] = []
    day = 86_400.0
    for i, s in enumerate([3.0, 5.0, 1.0, 7.0, 2.5, 9.0, 4.0, 6.0, 8.0, 10.0, 3.3]):
        calibration.keep_top(top, s, i * day)
    assert top[0::2] == [10.0, 9.0, 8.0, 7.0]  # the four largest, largest first; 1.0 is below U
    now = 9 * day
    assert calibration.top_floor(top, 0.5, now) == 10.0  # 10 weighs 1 (learned now)
    w9 = 0.5 ** (4 / 7)  # 9 came four days ago
    between = calibration.top_floor(top, 1.0 + w9 / 2, now)
    assert 9.0 < between < 10.0 and math.isclose(between, 9.5)  # halfway into 9's weight
    assert calibration.top_floor(top, 100.0, now) == 0.0  # they weigh less in all: below 7, no floor
    calibration.keep_top(top, 3.0, now + 31 * day)  # a month later every kept score is forgotten
    assert top == [3.0, now + 31 * day]


def _t3_pages(weeks: int, gap_s: float, seed: int) -> list[int]:
    """Pages per week of one healthy Student-t(3) series (window means every ``gap_s``) through the
    anomaly detector at its defaults (one-minute windows, one page a week)."""
    rng = random.Random(seed)
    d = FieldAnomaly("a", "app", field="metadata.v", direction="both")
    pages = [0] * weeks
    per_week = int(WEEK / gap_s)
    for i in range(weeks * per_week):
        t = 1_767_225_600.0 + i * gap_s
        v = _noise("student3", rng)
        if d.update(BucketSummary.make("a|app=x", t, n=1, total=v, t_last=t + 59)) is not None:
            pages[i // per_week] += 1
    return pages


def test_a_long_history_holds_a_heavy_tail_to_its_own_largest_scores(monkeypatch):
    """Once one-minute windows cover the budget (``q n >= 1``, 1.7 weeks), the top record keeps
    Student-t(3) series within their page a week (weeks 3-6), where the moment fit alone pages more."""
    with_top = [sum(_t3_pages(6, 60.0, seed)[2:]) for seed in range(4)]
    monkeypatch.setattr("detectors.anomaly.top_floor", lambda *a: 0.0)  # the record off: the fit alone
    fit_only = [sum(_t3_pages(6, 60.0, seed)[2:]) for seed in range(4)]
    assert sum(with_top) < sum(fit_only), (with_top, fit_only)
    assert sum(with_top) <= 16 * 1.1, with_top  # 4 series x 4 weeks, one page a week each


def test_the_top_record_stays_out_of_a_short_history():
    """Five-minute windows for a detector of one-minute windows (NAB's rows) never cover ``q``: the fit
    alone decides, the record is kept but never read."""
    d = FieldAnomaly("a", "app", field="metadata.v", direction="both")
    rng = random.Random(2)
    for i in range(4 * 2016):
        t = 1_767_225_600.0 + i * 300.0
        d.update(BucketSummary.make("a|app=x", t, n=1, total=_noise("student3", rng), t_last=t + 59))
    q = calibration.per_window_q(d.false_alarms_per_week, d.window_s, d.watched)
    assert d._top and q * d._tail[0] < 1.0
    assert d.alarm_at() == max(calibration.threshold(d._tail, q), d.z)


def test_the_pool_floors_every_series_of_the_detector():
    """The promise is the detector's: once its history covers the budget, a quiet series' threshold is no
    lower than the score the pool of all its series' top records says is exceeded by chance about once a
    week, here a heavy-tailed sibling's (``bench.calibration_noise --series 10`` measures the pages: Student-t(3)
    1.61 per detector-week without the pool, 0.89 with it)."""
    d = FieldAnomaly("a", "app", field="metadata.v", direction="both")
    heavy, quiet = d.clone(), d.clone()
    type(d).watched = 2
    rng = random.Random(4)
    for w in range(3 * int(WEEK / 60)):
        t = 1_767_225_600.0 + w * 60.0
        heavy.update(BucketSummary.make("a|app=h", t, n=1, total=_noise("student3", rng), t_last=t + 59))
        quiet.update(BucketSummary.make("a|app=q", t, n=1, total=_noise("gauss", rng), t_last=t + 59))
    own = max(calibration.threshold(quiet._tail, calibration.per_window_q(1.0, 60.0, 2)), quiet.z)
    assert max(quiet.state()["_top"][0::2]) < heavy.state()["_top"][0]  # the largest scores are the sibling's
    qn = calibration.per_window_q(1.0, 60.0, 1) * quiet._tail[0]  # the detector's q, not q / series
    floor = calibration.top_floor(d._pool, calibration.TOP_SHARE * qn, quiet._tp)
    assert qn >= 1.0 and floor > own and quiet.alarm_at() == floor


def test_the_pool_is_rebuilt_from_the_series_snapshots():
    """After a restart the detector's pool is what its restored series' top records hold (it is not in
    any snapshot itself), and a series restored twice is counted once."""
    suite = DetectorSuite([FieldAnomaly("a", "app", field="metadata.v", direction="both")], bucket_s=60)
    st = suite.series_state("a|app=x")
    rng = random.Random(5)
    for w in range(3000):
        t = 1_767_225_600.0 + w * 60.0
        st.detector.update(BucketSummary.make("a|app=x", t, n=1, total=_noise("student3", rng), t_last=t + 59))
    top = st.detector.state()["_top"]
    assert top and st.detector._pool[:len(top)] == top
    blob = st.snapshot()
    fresh = DetectorSuite([FieldAnomaly("a", "app", field="metadata.v", direction="both")], bucket_s=60)
    assert fresh.detectors["a"]._pool == []
    fresh.restore_series(blob)
    fresh.restore_series(blob)
    assert fresh.detectors["a"]._pool == top
