"""The anomaly detector's behaviour beyond the contract: routines of the day are not news; a series that
keeps paging beyond its budget raises its own threshold."""

from __future__ import annotations

import math
import random

import orjson

from detectors import BucketSummary, FieldAnomaly, anomaly
from detectors.anomaly import RANGE_FLOOR, SLOT_CLIP_AFTER_S, _f32, first_count_z

DAY = 86_400.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def _run(d: FieldAnomaly, days: int, spikes: dict[tuple[int, int], float]) -> list[tuple[int, int]]:
    """Five-minute windows of noise around 100 for ``days``; ``spikes``: (day, second of the day) -> the
    value of a one-window spike. Returns (day, hour) of every finding."""
    return [(int((f.time - T0) // DAY), int((f.time - T0) % DAY // 3600))
            for f in _findings(d, days, spikes)]


def _findings(d: FieldAnomaly, days: int, spikes: dict[tuple[int, int], float]) -> list:
    """``_run``'s series, returning the findings themselves."""
    rng = random.Random(7)
    type(d).watched = 1
    found = []
    for w in range(int(days * DAY / 300)):
        t = T0 + w * 300
        day, sec = divmod(int(w * 300), int(DAY))
        v = spikes.get((day, sec), rng.gauss(100, 1))
        f = d.update(BucketSummary.make("a|app=x", t, n=1, total=v, t_last=t + 1))
        if f is not None:
            found.append(f)
    return found


def _detector(**kw) -> FieldAnomaly:
    return FieldAnomaly("a", "app", field="metadata.v", window_s=300, **{"cooldown_s": 0, **kw})


# a nightly job: a spike at 03:00 UTC, a little smaller each night
NIGHTLY = {(1, 3 * 3600): 200.0, (2, 3 * 3600 + 600): 165.0, (3, 2 * 3600 + 3000): 140.0}


def test_a_spike_the_series_made_at_this_hour_yesterday_is_not_news():
    assert _run(_detector(), 4, NIGHTLY) == [(1, 3)]
    assert _run(_detector(routine_decay=0), 4, NIGHTLY) == [(1, 3), (2, 3), (3, 2)]


def test_a_stronger_spike_or_one_at_another_hour_still_pages():
    assert _run(_detector(), 4, {**NIGHTLY, (3, 9 * 3600): 170.0}) == [(1, 3), (3, 9)]
    assert _run(_detector(), 4, {**NIGHTLY, (3, 3 * 3600): 300.0}) == [(1, 3), (3, 3)]


def test_a_nightly_spike_a_little_higher_than_last_night_s_is_routine():
    """A nightly job's spike varies from night to night (NAB's ec2_cpu_utilization_c6585a: 1.4 to 1.6 at 03:xx,
    scoring 39 to 52 as the deviation varies). The hour's peak score decays 0.7 a day, so one as high as last
    night's paged every night; now the excursion, in the series' own units, is within 1.35 times the largest of
    the last nights decayed 0.8 a night (last night's + 8 %)."""
    nightly = {(day, 3 * 3600 + 300 * (day % 3)): 200.0 + 5 * (day % 2) for day in range(1, 8)}
    assert _run(_detector(), 8, nightly) == [(1, 3)]
    # the job ten times stronger one night still pages, and so does its spike at another hour
    assert _run(_detector(), 8, {**nightly, (5, 3 * 3600): 1100.0, (6, 12 * 3600): 205.0}) == [(1, 3), (5, 3), (6, 12)]


def test_an_excursion_is_routine_only_on_its_own_side():
    """The excursions are kept per side (``direction: both``: above and below; one side when one is watched):
    a dip as deep as the nightly spikes are high, at their hour the night after the last, still pages (before
    the series has the history for records: a record is never routine)."""
    nightly = {(day, 3 * 3600): 200.0 + 5 * (day % 2) for day in range(1, 4)}
    assert _run(_detector(direction="both"), 5, {**nightly, (4, 3 * 3600): -5.0}) == [(1, 3), (4, 3)]
    assert _run(_detector(direction="both"), 5, {**nightly, (4, 3 * 3600): 205.0}) == [(1, 3)]
    up, both = _detector(direction="up"), _detector(direction="both")
    _run(up, 2, nightly)
    _run(both, 2, nightly)
    assert len(up._reach) == 24 and len(both._reach) == 48


def test_the_routine_fades_when_it_stops():
    spikes = {(1, 3 * 3600): 200.0, (9, 3 * 3600): 140.0}  # a week later the memory has faded (0.7 a day)
    assert _run(_detector(), 10, spikes) == [(1, 3), (9, 3)]


def test_the_routine_survives_a_snapshot():
    d = _detector()
    _run(d, 2, NIGHTLY)
    assert len(d.state()["_peak"]) == 24 and max(d.state()["_peak"]) > 0
    restored = _detector()
    restored.load_state(d.state())
    assert restored == d


def _bursty(**kw) -> tuple[list[float], FieldAnomaly]:
    """Three weeks of five-minute windows around 100 with a burst (130-250) every three hours or so, at
    random times; returns the days of the findings (the bursts' side watched)."""
    rng = random.Random(3)
    d = FieldAnomaly("a", "app", field="metadata.v", window_s=300, cooldown_s=3600, direction="up", **kw)
    type(d).watched = 1
    found = []
    for w in range(21 * 288):
        t = T0 + w * 300
        v = rng.uniform(130, 250) if rng.random() < 1 / 36 else rng.gauss(100, 1)
        if d.update(BucketSummary.make("a|app=x", t, n=1, total=v, t_last=t + 1)) is not None:
            found.append((t - T0) / DAY)
    return found, d


def test_a_series_that_keeps_paging_beyond_its_budget_raises_its_own_threshold():
    learning, _ = _bursty()
    never, _ = _bursty(learn_alarms_after_s=0)
    weeks = [sum(1 for x in found if 7 <= x < 21) for found in (learning, never)]
    assert 4 * max(weeks[0], 1) <= weeks[1], weeks  # weeks 2 and 3: 1 page instead of 14 here


def test_a_young_series_that_pages_five_budgets_learns_its_bursts_before_its_first_week(monkeypatch):
    young, _ = _bursty()
    monkeypatch.setattr(anomaly, "YOUNG_ALARM_BUDGETS", math.inf)  # alarms teach only after a week
    week_old, _ = _bursty()
    assert young[:6] == week_old[:6]  # a young series' first alarms page as they did: they may be incidents
    later = [sum(1 for x in found if 3 <= x < 14) for found in (young, week_old)]
    assert 4 * max(later[0], 1) <= later[1], later  # days 3-14: 2 pages instead of 18 here


def test_a_steady_series_still_pages_after_its_first_week():
    d = _detector()
    assert _run(d, 10, {(9, 12 * 3600): 110.0}) == [(9, 12)]
    assert d.state()["_alarm_learned"] == 0.0 or d.state()["_alarm_learned"] >= T0 + 7 * DAY


def _feed(d: FieldAnomaly, step_s: float, hours: float, value) -> None:
    type(d).watched = 1
    for w in range(int(hours * 3600 / step_s)):
        t = T0 + w * step_s
        d.update(BucketSummary.make("a|app=x", t, n=1, total=value(t), t_last=t + 1))


def test_time_scales_are_seconds_of_event_time_not_windows():
    """The same level shift seen through 1-minute and 5-minute windows (or windows every 5 minutes of a
    60 s grid) moves the baselines by the same amount: half-lives are seconds between windows."""
    def step(t: float) -> float:
        return 100.0 if t < T0 + 10 * 3600 else 110.0  # after 10 h, +10 for 1 h (the fast half-life)
    states = []
    for window_s, step_s in ((60, 60), (300, 300), (60, 300)):
        d = FieldAnomaly("a", "app", field="metadata.v", window_s=window_s, cooldown_s=0, z=1e9, daily=False)
        _feed(d, step_s, 11, step)
        states.append((d.state()["_mean"], d.state()["_slow"]))
    for mean, slow in states:
        assert abs(mean - 105.0) < 0.3 and abs(slow - 100.7) < 0.3, states  # 1 h: half; 10 h: 1 - 2^-0.1


def test_a_snapshot_from_before_time_based_decay_loads():
    d = _detector()
    _run(d, 1, {})
    old = {k: v for k, v in d.state().items() if k != "_tp"}
    restored = _detector()
    restored.load_state(old)
    restored.update(BucketSummary.make("a|app=x", T0 + DAY, n=1, total=100.0, t_last=T0 + DAY + 1))
    assert restored.state()["_tp"] == T0 + DAY


def _out_of_reach(**kw) -> FieldAnomaly:
    """A detector whose calibrated threshold no window reaches (a budget of ~nothing): only records page
    (from ``record_z``: ``record_budget: 0``, as in the NAB config)."""
    return _detector(false_alarms_per_week=1e-12, **{"record_budget": 0.0, **kw})


# day 2: 110, inside the first 5 days; day 6: 113, beyond every window seen (max 110, range ~96.6 to 110,
# margin 5 % of it); day 6 evening: 111, within the new range
RECORDS = {(2, 12 * 3600): 110.0, (6, 12 * 3600): 113.0, (6, 18 * 3600): 111.0}


def test_a_record_pages_at_record_z_once_the_series_has_history():
    assert _out_of_reach().alarm_at() > 15  # no spike here reaches it (z ~10-13)
    assert _run(_out_of_reach(record_after_s=0), 7, RECORDS) == []  # records off
    d = _out_of_reach(record_after_s=5 * DAY)
    assert _run(d, 7, RECORDS) == [(6, 12)]  # not day 2 (too early), not 111 (no longer a record)
    assert d.state()["_range"][1] == 113.0


def test_records_share_the_budget_of_the_series_watched():
    """Shipped: records on after 5 days, ``record_budget: 0.3`` (the share of the detector's budget records
    may spend). One series, a budget of 1 a week: after 6 days of five-minute windows (K q n = 2 * 300 /
    604800 * 1728 > 1, ``RECORD_BAR`` K = 2) records page from ``record_z``; the same detector watching
    1,000 series lets a record page only near its calibrated threshold."""
    assert FieldAnomaly.params["record_after_s"] == 5 * DAY and FieldAnomaly.params["record_budget"] == 0.3
    try:
        shipped = _detector(z=20)
        assert _run(shipped, 7, RECORDS) == [(6, 12)] and shipped._record_at() == shipped.record_z
        found = []
        d = _detector(z=20)
        type(d).watched = 1000
        rng = random.Random(7)
        for w in range(int(7 * DAY / 300)):
            t = T0 + w * 300
            day, sec = divmod(int(w * 300), int(DAY))
            v = RECORDS.get((day, sec), rng.gauss(100, 1))
            if d.update(BucketSummary.make("a|app=x", t, n=1, total=v, t_last=t + 1)) is not None:
                found.append(day)
        assert found == [] and d._record_at() > 5
    finally:
        type(d).watched = 1


def test_records_spend_at_most_their_share_of_the_detector_budget():
    """A second record the same evening (118, beyond the day's 113): with ``record_budget: 0.3`` (0.3 pages
    a week for the whole detector) it does not page, one such page having been spent that day; with 3 it
    does, and with 0 (no limit, the NAB config) too. A budget of almost nothing is no error."""
    more = {**RECORDS, (6, 20 * 3600): 118.0}
    assert _run(_detector(z=20), 7, more) == [(6, 12)]
    assert _run(_detector(z=20, record_budget=3.0), 7, more) == [(6, 12), (6, 20)]
    assert _run(_detector(z=20, record_budget=0.0), 7, more) == [(6, 12), (6, 20)]
    assert _run(_detector(z=20, false_alarms_per_week=1e-12, record_after_s=5 * DAY), 7, more) == []


def test_records_count_weeks_of_the_series_own_windows():
    """Five-minute rows judged in one-minute windows (NAB): a week holds a fifth of the windows ``window_s``
    assumes, so the records' bar counts the history at the rows' own spacing (open after 6 days as with
    ``window_s: 300``, not shut for 30), and the calibrated threshold, whose budget is per window, spends at
    most 0.7 of a fifth of the budget: records may spend the rest, 0.3 + 0.7 * 0.8 = 0.86 a week. A second
    record three days after the first pages then; with ``window_s: 300`` (a window every ``window_s``: 0.3 a
    week) it does not."""
    later = {**RECORDS, (9, 12 * 3600): 118.0}
    d = FieldAnomaly("a", "app", field="metadata.v", window_s=60, cooldown_s=0, z=20)
    assert _run(d, 10, later) == [(6, 12), (9, 12)]
    assert d._spacing() == 300 and d._record_at() == d.record_z and abs(d._record_share() - 0.86) < 1e-9
    dense = _detector(z=20)
    assert _run(dense, 10, later) == [(6, 12)] and dense._record_share() == dense.record_budget


def test_a_record_below_record_z_or_on_the_unwatched_side_does_not_page():
    assert _run(_out_of_reach(record_after_s=5 * DAY, record_z=20), 7, RECORDS) == []
    assert _run(_out_of_reach(record_after_s=5 * DAY, direction="down"), 7, RECORDS) == []
    dips = {(6, 12 * 3600): 87.0}
    assert _run(_out_of_reach(record_after_s=5 * DAY, direction="down"), 7, dips) == [(6, 12)]


def test_a_record_is_never_routine():
    """A dip to 80 at 02:00 (z ~20) makes 01:00-03:00 a routine up to that score; a spike to 112 at 03:00
    scores less (z ~12) but was never seen, so it pages all the same."""
    spikes = {(5, 2 * 3600): 80.0, (5, 3 * 3600): 112.0}
    both = dict(record_after_s=5 * DAY, direction="both")
    assert _run(_out_of_reach(**both), 6, spikes) == [(5, 2), (5, 3)]
    # no record (a margin of 5 ranges): the dip still pages on its calibrated score, the spike is routine
    assert _run(_out_of_reach(**both, record_margin=5.0), 6, spikes) == [(5, 2)]


def test_a_snapshot_from_before_records_starts_its_range_at_the_restore():
    d = _out_of_reach(record_after_s=5 * DAY)
    _run(d, 6, {(2, 12 * 3600): 110.0})
    old = {k: v for k, v in d.state().items() if k != "_range"}
    restored = _out_of_reach(record_after_s=5 * DAY)
    restored.load_state(old)
    w = BucketSummary.make("a|app=x", T0 + 6 * DAY, n=1, total=100.0, t_last=T0 + 6 * DAY + 1)
    restored.update(w)
    assert restored.state()["_range"] == [100.0, 100.0, T0 + 6 * DAY, 100.0, 100.0, 100.0]
    d.update(w)
    spike = BucketSummary.make("a|app=x", T0 + 6 * DAY + 300, n=1, total=113.0, t_last=T0 + 6 * DAY + 301)
    assert d.update(spike).evidence.details["record"] is True  # six days of range: a record
    assert restored.update(spike) is None  # a range of one window is no history


def _level_shift(w: int, s: float) -> float:
    """Five-minute windows alternating 99 / 101, a one-window dip to 93 at noon every day (the range of
    windows is 93 to 101; the hourly level barely moves), and on day 6 six hours at 96: inside the range of
    windows, but a level the series never held."""
    day, sec = divmod(s, DAY)
    if sec == 12 * 3600:
        return 93.0
    if day == 6 and 3 * 3600 <= sec < 9 * 3600:
        return 96.0
    return 99.0 if w % 2 else 101.0


def _feed_findings(d: FieldAnomaly, days: float, value) -> list:
    type(d).watched = 1
    found = []
    for w in range(int(days * DAY / 300)):
        t = T0 + w * 300
        f = d.update(BucketSummary.make("a|app=x", t, n=1, total=value(w, t - T0), t_last=t + 1))
        if f is not None:
            found.append(f)
    return found


def test_a_level_never_held_is_a_record_too():
    # judged against the slow baseline too, the level stays news while it falls: the cooldown makes it one page
    found = _feed_findings(_out_of_reach(record_after_s=5 * DAY, direction="down", cooldown_s=6 * 3600), 7,
                           _level_shift)
    assert [(round((f.time - T0) / 3600) - 144, f.evidence.details["record"]) for f in found] == [(3, True)]
    assert "is beyond every level seen" in found[0].summary
    # the level alone (record_half_life_s: 0 judges window means only) was not a record
    assert _feed_findings(_out_of_reach(record_after_s=5 * DAY, direction="down", record_half_life_s=0), 7,
                          _level_shift) == []


def _slow_fall(w: int, s: float) -> float:
    """Five-minute windows alternating 95 / 105 for six days, then a fall by 0.4 a window from 94.6 to 60,
    where the series stays: every step is smaller than the record margin (5 % of the range, 0.5)."""
    fall = int(s - 6 * DAY) // 300 if s >= 6 * DAY else -1
    if fall < 0:
        return 95.0 if w % 2 else 105.0
    return max(94.6 - 0.4 * fall, 60.0)


def test_a_slow_fall_through_values_never_seen_is_a_record():
    """A machine cooling step by step below anything it held: each window widens the range of windows seen
    by less than the record margin, so against that range none is a record; against the range it held before
    the fall (95 to 105, drifting towards what it reaches) the fall is, and the slow baseline, which the fall
    has not dragged along as it has the fast one, scores it."""
    d = _out_of_reach(record_after_s=5 * DAY, direction="down", record_half_life_s=0, cooldown_s=DAY)
    found = _feed_findings(d, 6.5, _slow_fall)
    assert len(found) == 1 and "beyond the windows it held before (9" in found[0].summary
    assert 6 * DAY + 300 * 5 < found[0].time - T0 < 6 * DAY + 300 * 70  # during the fall, before it ends
    # scored against the slow baseline (near 100), which the fall has not dragged along as the fast one
    assert found[0].score >= 2.0 and found[0].evidence.baseline > 97
    assert found[0].evidence.details["baseline"] == "slow level"
    # a new normal stops being news: held that long, the low values become the range the series held
    _feed_findings(d, 1.5, lambda w, s: 60.0)
    assert d.state()["_settled"][0] < 61
    window = BucketSummary.make("a|app=x", T0 + 9 * DAY, n=1, total=60.0, t_last=T0 + 9 * DAY + 1)
    assert not d._record(window, 60.0, 300.0)


def test_a_level_shift_to_values_never_seen_pages_once():
    """A one-minute series at 100 for a week that moves to 130 (or 70) and stays, at the shipped defaults:
    the first window pages; once the shift is learned as the new normal, the range the series holds takes it
    in, so its windows are not paged again as records after the hour's cooldown."""
    for level in (130.0, 70.0):
        d = FieldAnomaly("a", "app", field="metadata.v", direction="both")
        type(d).watched = 1
        rng = random.Random(5)
        found = []
        for w in range(9 * 1440):
            v = rng.gauss(100, 1) if w < 7 * 1440 else rng.gauss(level, 1)
            t = T0 + w * 60
            if d.update(BucketSummary.make("a|app=x", t, n=1, total=v, t_last=t + 59)) is not None:
                found.append(w)
        assert [w for w in found if w >= 7 * 1440 - 60] == [7 * 1440]


def test_a_snapshot_from_before_the_held_range_loads_and_holds_the_range_seen():
    d = _out_of_reach(record_after_s=5 * DAY)
    _run(d, 1, {})
    old = {k: v for k, v in d.state().items() if k != "_settled"}
    restored = _out_of_reach(record_after_s=5 * DAY)
    restored.load_state(old)
    assert restored._settled == []
    restored.update(BucketSummary.make("a|app=x", T0 + DAY, n=1, total=100.0, t_last=T0 + DAY + 1))
    assert restored._settled == [] and restored._range[:2] == old["_range"][:2]  # it holds the range seen


def test_a_snapshot_from_before_levels_keeps_its_range_and_starts_the_level():
    d = _out_of_reach(record_after_s=5 * DAY)
    _run(d, 1, {})
    old = {**d.state(), "_range": d.state()["_range"][:3]}
    restored = _out_of_reach(record_after_s=5 * DAY)
    restored.load_state(old)
    restored.update(BucketSummary.make("a|app=x", T0 + DAY, n=1, total=100.0, t_last=T0 + DAY + 1))
    assert restored.state()["_range"] == old["_range"] + [100.0, 100.0, 100.0]


def test_a_spike_no_stronger_than_one_of_the_last_hours_is_not_news():
    """Two and a half hours after a spike (not its hour, nor the next): a spike no stronger than the first's
    score halved per half-life since is the recent regime; a stronger one still pages; ``routine_decay: 0``:
    both page."""
    first = {(1, 12 * 3600): 200.0}
    assert _run(_detector(), 3, {**first, (1, 14 * 3600 + 1800): 120.0}) == [(1, 12)]
    assert _run(_detector(), 3, {**first, (1, 14 * 3600 + 1800): 130.0}) == [(1, 12), (1, 14)]
    assert _run(_detector(routine_decay=0), 3, {**first, (1, 14 * 3600 + 1800): 120.0}) == [(1, 12), (1, 14)]


def test_the_recent_peak_survives_a_snapshot():
    d = _detector()
    _run(d, 2, {(1, 12 * 3600): 200.0})
    assert len(d.state()["_recent"]) == 1 and d.state()["_recent"][0] > 0  # as of the last window, ``_tp``
    restored = _detector()
    restored.load_state(d.state())
    assert restored == d
    twin, t = _detector(), T0 + 2 * DAY
    twin.load_state({**d.state(), "_recent": [*d.state()["_recent"], d.state()["_tp"]]})  # with its time
    w = BucketSummary.make("a|app=x", t, n=1, total=100.0, t_last=t + 1)
    assert twin.update(w) == restored.update(w) and twin == restored
    old = {k: v for k, v in d.state().items() if k != "_recent"}  # a snapshot from before it
    restored = _detector()
    restored.load_state(old)
    t = T0 + 2 * DAY
    assert restored.update(BucketSummary.make("a|app=x", t, n=1, total=100.0, t_last=t + 1)) is None


def test_the_cooldown_counts_the_series_own_windows_on_sparse_rows():
    """Five-minute rows judged in one-minute windows (NAB): ``cooldown_s: 3600`` means 60 of the series'
    windows, so five hours there, and a second spike three hours after the first (stronger, at another hour)
    does not page; one six hours later does. Judged in five-minute windows (a window every ``window_s``) the
    cooldown is the hour it says, and the second spike pages. Hourly rows: at most 12 hours, not 60."""
    spikes = {(2, 10 * 3600): 200.0, (2, 13 * 3600): 300.0, (2, 19 * 3600): 400.0}
    sparse = FieldAnomaly("a", "app", field="metadata.v", window_s=60, cooldown_s=3600)
    assert _run(sparse, 3, spikes) == [(2, 10), (2, 19)]
    dense = FieldAnomaly("a", "app", field="metadata.v", window_s=300, cooldown_s=3600)
    assert _run(dense, 3, spikes) == [(2, 10), (2, 13), (2, 19)]
    hourly = FieldAnomaly("a", "app", field="metadata.v", window_s=60, cooldown_s=3600)
    hourly._windows, hourly._t0, hourly._tp, hourly._last_fire = 100, 0.0, 99 * 3600.0, 99 * 3600.0
    assert hourly.cooling(99 * 3600.0 + 43_199) and not hourly.cooling(99 * 3600.0 + 43_200)
    assert not dense.cooling(dense._last_fire + 3600)


def test_a_series_at_a_floor_scores_a_blip_in_shares_of_its_range_not_in_vanishing_deviations():
    """A series that is ~0 (steps of 1e-7: finer than any count) but for a 1 every 100 windows: learning is
    clipped at ``z`` deviations, so the deviation shrinks towards nothing and a 1 would score ~1e12; one
    deviation is at least ``RANGE_FLOOR`` of the range seen (0 to 1), so it scores about 1 / 0.003, the same
    each time (a routine can be told; the range's top falls back a little between blips, ``SPAN_HALF_LIFE_S``)."""
    d = FieldAnomaly("a", "app", field="metadata.v", window_s=300, cooldown_s=0)
    type(d).watched = 1
    for w in range(2000):
        v = 1.0 if w % 100 == 50 else 1e-7 * (w % 2)
        d.learn_one(BucketSummary.make("a|app=x", T0 + w * 300, n=1, total=v, t_last=T0 + w * 300 + 1))
    blip = BucketSummary.make("a|app=x", T0 + 2000 * 300, n=1, total=1.0, t_last=T0 + 2000 * 300 + 1)
    assert d._dev < 1e-6 and 300 < d.score_one(blip) <= 1.05 / RANGE_FLOOR


def test_the_hour_slots_learn_a_bursty_series_unclipped_in_its_first_week():
    """One-minute windows around 100 with a burst of +40 every 20 minutes (5 %): each hour's slot starts with a
    deviation of 0 and sees one hour a day; clipped at ``z`` of it, it learned ~0.9 in three days, below
    the series' own bursts, which then paged when the slots took over. Unclipped in the first week it learns
    2.3 to 3.6 (the series' mean absolute deviation is about 4.5); the fast baseline, clipped after its warmup, ~1."""
    d = FieldAnomaly("a", "app", field="metadata.v", window_s=60)
    type(d).watched = 1
    rng = random.Random(3)
    for w in range(3 * 1440):
        v = 100 + rng.gauss(0, 1) + (40 if w % 20 == 7 else 0)
        d.learn_one(BucketSummary.make("a|app=x", T0 + w * 60, n=1, total=v, t_last=T0 + w * 60 + 59))
    assert min(d._day_dev) > 2 and d._dev < 1.5
    assert SLOT_CLIP_AFTER_S == 7 * DAY


def _count(d: FieldAnomaly, minutes: int, seed: int, burst: dict[int, float] | None = None,
           start: int = 0) -> list[int]:
    """One-minute windows of a count that is Poisson with mean 0.01 a minute (an error count, a rare event),
    from minute ``start``; ``burst``: minute -> the count then. Returns the minutes that paged."""
    rng = random.Random(seed)
    type(d).watched = 1
    found = []
    for w in range(start, start + minutes):
        t = T0 + w * 60
        v = (burst or {}).get(w)
        if v is None:  # Poisson by inversion: P(0) = 0.990, P(1) = 0.0099, P(2) = 0.00005
            u, k, p = rng.random(), 0, 0.99005
            while u > p:
                k += 1
                p += 0.99005 * 0.01 ** k / math.factorial(k)
            v = float(k)
        if d.update(BucketSummary.make("a|app=x", t, n=1, total=v, t_last=t + 59)) is not None:
            found.append(w)
    return found


def test_a_sparse_count_does_not_page_its_routine_ones_but_a_burst_pages():
    """A one-minute count that is mostly 0, at the shipped defaults (both sides): the clipped deviation
    collapses on the 0s, so a routine 1 scored 10^2 and more and paged 30-70 times a week in the first two
    weeks (``learn_alarms_after_s``). One deviation is at least ``RES_SHARE`` (3/4) of the series' resolution,
    the smallest step between consecutive window means seen (1 for a count): a 1 scores at most 1.33, a burst
    of 10 on a series that saw at most a 1 about 13. The first 1, before any step was seen, is scored as the
    Poisson tail it is after so many 0s (z 2.2 after 73), and does not page either."""
    for seed in range(3):
        assert len(_count(FieldAnomaly("a", "app", field="metadata.v", direction="both"), 14 * 1440, seed)) <= 2
    d = FieldAnomaly("a", "app", field="metadata.v")
    before = _count(d, 3 * 1440, 7)
    assert d._res[0] == 1.0 and d._range[1] == 1.0 and before == []  # the first 1, at 01:13, did not page
    burst = 3 * 1440 + 12 * 60  # at noon on day 4, another hour than the first 1's
    assert _count(d, 13 * 60, 8, burst={burst: 10.0}, start=3 * 1440) == [burst]


def test_a_first_step_does_not_make_later_bursts_at_its_hour_routine():
    """A series that sat at 0 whose first value is 0.5 (not a count): scored before any step is known, it is
    10^12 deviations and pages; the routines learn it as the resolution floor scores it (1.33), so a burst of
    5 at the same hour the next day pages (the 10^12 peak, decaying 0.7 a day, made it routine for two
    months). A count's first 1 is scored as a Poisson tail instead (``first_count_z``) and pages not at all."""
    d = FieldAnomaly("a", "app", field="metadata.v")
    first = {73: 0.5}
    assert _count(d, 1440, 7, burst={w: first.get(w, 0.0) for w in range(1440)}) == [73]  # at 01:13
    assert max(d._peak) < 2 and d._res[0] == 0.5
    burst = 1440 + 90  # 01:30 the next day
    quiet = {w: 0.0 for w in range(1440, 1440 + 3 * 60)}
    assert _count(d, 3 * 60, 8, burst={**quiet, burst: 5.0}, start=1440) == [burst]


def test_a_count_s_first_values_score_as_the_poisson_tail_they_are():
    """After a day of one-minute 0s a first 1 is z 3.2 (a budget's threshold is higher: no page), a first 10
    is 13 (a page); the series' own first 1 of ``_count`` does not page, and a burst at its hour the next day
    does."""
    assert round(first_count_z(1, 1440), 1) == 3.2 and round(first_count_z(10, 1440)) == 13
    d = FieldAnomaly("a", "app", field="metadata.v")
    assert _count(d, 1440, 7) == [] and d._res[0] == 1.0  # its first 1 came at 01:13
    burst = 1440 + 90
    assert _count(d, 3 * 60, 8, burst={burst: 10.0}, start=1440) == [burst]
    spike = FieldAnomaly("a", "app", field="metadata.v")
    assert _count(spike, 600, 9, burst={w: 0.0 for w in range(599)} | {599: 10.0}) == [599]


def test_the_resolution_is_the_smallest_step_between_window_means_and_a_snapshot_without_it_loads():
    """Continuous data makes tiny steps, so the resolution floor never binds there; means of several integer
    values step by fractions. A snapshot from before the resolution starts it at the next window."""
    d = FieldAnomaly("a", "app", field="metadata.v")
    for i, (total, n) in enumerate([(3.0, 2), (1.0, 1), (4.0, 3)]):  # means 1.5, 1, 1.333
        d.learn_one(BucketSummary.make("a|app=x", T0 + i * 60, n=n, total=total, t_last=T0 + i * 60 + 59))
    assert d._res == [0.333, 4.0 / 3]
    old = {k: v for k, v in d.state().items() if k != "_res"}
    restored = FieldAnomaly("a", "app", field="metadata.v")
    restored.load_state(old)
    assert restored._res == []
    restored.learn_one(BucketSummary.make("a|app=x", T0 + 180, n=1, total=2.0, t_last=T0 + 239))
    assert restored._res == [0.0, 2.0]
    rng = random.Random(1)
    g = FieldAnomaly("a", "app", field="metadata.v")
    for i in range(200):
        g.learn_one(BucketSummary.make("a|app=x", T0 + i * 60, n=1, total=rng.gauss(100, 5), t_last=T0 + i * 60 + 59))
    assert g._res[0] < 0.1 < 1.25 * g._dev


def test_an_absurd_value_neither_pages_nor_blinds_the_series():
    """Two values of 10^308 in one window summed to infinity; one of 10^18 widened the range of window means
    seen, whose 0.3 % is the least one deviation may be: the series never scored again, and a thousandfold
    spike an hour later went unseen. Values beyond ``MAX_VALUE`` are left out, as non-numbers are."""
    from detectors.suite import DetectorSuite, replay
    from traces.events import TraceEvent

    def events(absurd: float) -> list[TraceEvent]:
        rng = random.Random(5)
        out = []
        for i in range(3 * 3600 // 2):  # three hours, an event every 2 s
            v = absurd if i in (2700, 2701) else 1000.0 if 4500 <= i < 4510 else rng.gauss(10, 1)
            out.append(TraceEvent(trace_id=f"t{i}", timestamp=T0 + 2 * i, model="m", feature="f",
                                  metadata={"v": v}))
        return out

    def pages(absurd: float) -> list[tuple[float, bool]]:
        d = FieldAnomaly("v_anomaly", "feature", field="metadata.v", direction="both")
        return [(f.time, f.evidence.observed > 100) for f in replay(events(absurd), DetectorSuite([d], bucket_s=5))]

    clean = pages(10.0)  # the two values as the series' usual
    assert clean[-1] == (T0 + 9058, True)  # the spike
    for absurd in (1e308, 1e18, -1e18):
        assert pages(absurd) == clean, absurd


def _outage_then_doubling(outage: bool, doubling_day: float, days: int) -> tuple[list[float], FieldAnomaly]:
    """One-minute latencies of 200 ± 20 ms for ``days``: a 30-minute outage at 30 s on day 2 (with ``outage``) and
    a doubling for five minutes at ``doubling_day``. Returns the days of the findings, and the detector."""
    rng = random.Random(11)
    d = FieldAnomaly("lat", "app", field="latency_ms", window_s=60)
    type(d).watched = 1
    found = []
    for w in range(int(days * DAY / 60)):
        t = T0 + w * 60
        v = 30_000.0 if outage and 2 * DAY <= w * 60 < 2 * DAY + 1800 else rng.gauss(200, 20)
        if doubling_day * DAY <= w * 60 < doubling_day * DAY + 300:
            v = rng.gauss(400, 20)
        if d.update(BucketSummary.make("lat|app=x", t, n=30, total=v * 30, t_last=t + 59)) is not None:
            found.append((t - T0) / DAY)
    return found, d


def test_an_outage_long_past_no_longer_dulls_the_series():
    """The least one deviation may be is a share of the range of window means seen (``RANGE_FLOOR``); that range
    never forgot, so a 30 s outage among 200 ms latencies made one deviation 90 ms for good, and a doubling two
    weeks later (10 of the series' own deviations) did not page. The floor's range forgets with a half-life of
    ``SPAN_HALF_LIFE_S``; the range records are judged against does not."""
    # the doubling at noon: no routine of the outage's hour
    assert _outage_then_doubling(False, 16.5, 17)[0] == [16.5]
    found, d = _outage_then_doubling(True, 16.5, 17)
    assert found == [2.0, 16.5] and d._range[1] == 30_000.0 and d._floor() < 90


def test_an_outage_is_no_routine_for_the_smaller_excursions_at_its_hour():
    """Routines of values hold an hour's largest excursion (decaying 0.8 a day): the outage's 150-fold one
    covered every excursion at its hour for three weeks. One less than half of it is not that routine: a doubling
    at the outage's hour 15 days later pages (the hour's peak score, decaying 0.7 a day, covers it until then)."""
    assert _outage_then_doubling(True, 17, 18)[0] == [2.0, 17.0]


def test_the_learned_state_leaves_room_in_2_kb_at_any_scale():
    """The 96 hour numbers of ``direction: both`` (levels, deviations, excursions above and below) are kept as
    float32 in a snapshot: as JSON, bytes written per minute (``1.234567e+08``) or tiny rates (``1.23e-07``) made
    the learned state alone 2,000 bytes and more, beyond the 2 KB a series may take with its plot history."""
    for scale in (1e-7, 1.0, 1e9):
        rng = random.Random(3)
        d = FieldAnomaly("a", "app", field="metadata.v", window_s=60, direction="both")
        type(d).watched = 1
        for w in range(int(3 * DAY / 300)):
            t = T0 + w * 300
            v = scale * rng.lognormvariate(4, 1.5 if w % 12 else 3)  # every hour a burst, above or below
            d.update(BucketSummary.make("a|app=x", t, n=1, total=v, t_last=t + 1))
        assert all(d._day_dev) and sum(x > 0 for x in d._reach) > 40  # every hour learned, on both sides
        state = d.state()
        assert len(orjson.dumps(state)) < 1500, scale
        restored = FieldAnomaly("a", "app", field="metadata.v", window_s=60, direction="both")
        restored.load_state(orjson.loads(orjson.dumps(state)))
        assert restored == d


def test_the_first_change_of_a_series_that_never_varied_is_told_without_deviations():
    """No deviation is known before a series' first change, so a 0.5 after 0s scores 5 * 10^11 of them: the page
    stands (critical), but its summary tells the engineer what happened instead of that number."""
    d = FieldAnomaly("a", "app", field="metadata.v")
    type(d).watched = 1
    found = [f for w in range(3000)
             if (f := d.update(BucketSummary.make("a|app=x", T0 + w * 60, n=1, total=0.5 if w == 2990 else 0.0,
                                                   t_last=T0 + w * 60 + 59)))]
    assert [(f.severity, f.summary) for f in found] == [
        ("critical", "metadata.v mean 0.5 is above 0, the mean of each of the 2,990 windows before it")]
    assert found[0].score > 1e11


def _success_rate_dip(dip: float, **kw) -> list[int]:
    """Three days of a one-minute success rate of 2,000 calls at 99.9 %; ten minutes at ``dip`` from minute 3,000.
    Returns the minutes of the findings."""
    rng = random.Random(5)
    d = FieldAnomaly("a", "app", field="metadata.success_rate", **kw)
    type(d).watched = 1
    found = []
    for w in range(3 * 1440):
        rate = dip if 3000 <= w < 3010 else 0.999
        v = min(rate + rng.gauss(0.0, math.sqrt(rate * (1 - rate) / 2000)), 1.0)  # the binomial noise of 2,000 calls
        if d.update(BucketSummary.make("a|app=x", T0 + w * 60, n=1, total=v, t_last=T0 + w * 60 + 59)):
            found.append(w)
    return found


def test_a_success_rate_that_drops_from_99_9_to_99_percent_pages():
    """A ratio near 1 moves by fractions of a percent: ten times the errors is 0.9 % of the level. One deviation was
    at least 1 % of the level (``min_rel_change`` 0.01), so a fall to 98 % (20 times the errors) was at most two
    deviations and never paged; at 0.3 % a fall to 99 % pages at its first minute."""
    assert _success_rate_dip(0.99) == [3000] and _success_rate_dip(0.98) == [3000]
    assert _success_rate_dip(0.98, min_rel_change=0.01) == []  # the floor before
    assert _success_rate_dip(0.999) == []  # no dip, no page in three days


def test_a_snapshot_with_the_hour_slots_as_lists_loads_as_float32():
    """Snapshots before the packing hold the hour slots as JSON lists of seven-digit decimals: they load, each number
    read as the float32 the detector now learns, and a damaged packed list is refused (the series relearns)."""
    d = FieldAnomaly("a", "app", field="metadata.v", window_s=300, direction="both")
    _run(d, 3, {})
    state = d.state()
    assert all(isinstance(state[k], str) for k in ("_day", "_day_dev", "_reach"))  # packed: every hour learned
    old = {**state, "_day": [float(f"{x:.7g}") for x in d._day]}  # seven digits: not every one a float32
    restored = FieldAnomaly("a", "app", field="metadata.v", window_s=300, direction="both")
    restored.load_state(old)
    assert restored._day == [_f32(x) for x in old["_day"]] != old["_day"]
    assert max(abs(a - b) for a, b in zip(restored._day, d._day)) < 1e-3  # the same levels, to seven digits
    assert restored.state()["_day"] != old["_day"] and restored.update(  # packed again; it judges on
        BucketSummary.make("a|app=x", T0 + 3 * DAY, n=1, total=100.0, t_last=T0 + 3 * DAY + 1)) is None
    try:
        restored.load_state({**state, "_day": state["_day"][:-8]})
    except ValueError as exc:
        assert "24 or 48 float32" in str(exc)
    else:
        raise AssertionError("a packed list of 18 hours loaded")


def test_an_alarm_twice_as_strong_as_the_last_page_pages_within_the_cooldown():
    """An incident's first page is often its weak onset; the cooldown held back its peak (on NAB, where the
    label is). A page within the cooldown needs ``escalate`` (2) times the score that paged last."""
    onset = {(2, 10 * 3600): 110.0, (2, 10 * 3600 + 300): 111.0}
    pages = _findings(_detector(cooldown_s=3600), 3, {**onset, (2, 10 * 3600 + 1800): 140.0})
    assert [(f.evidence.details["escalated"], round(f.score)) for f in pages] == [(False, 11), (True, 40)]
    assert pages[1].summary.endswith("100.3; up from 10.7 deviations at the page 30 min before"), pages[1].summary
    # less than twice the first page's score, or with escalate: 0, the cooldown holds
    assert len(_findings(_detector(cooldown_s=3600), 3, {**onset, (2, 10 * 3600 + 1800): 118.0})) == 1
    assert len(_findings(_detector(cooldown_s=3600, escalate=0), 3, {**onset, (2, 10 * 3600 + 1800): 140.0})) == 1


def test_a_new_series_of_noise_does_not_page_in_its_first_hours():
    """A baseline's deviation starts at 0 and after the 20 warm-up windows of a one-minute series held a fifth of
    the noise's: its first judged windows scored five times too many deviations, and a new series of Gaussian
    noise paged 0.7 times in its first two hours (28 of 40 seeds). Judged with the deviation corrected for the
    weight it has yet to learn, none does, and a spike of 20 sigma in the second hour still pages."""
    paged, spikes = 0, 0
    for seed in range(40):
        rng = random.Random(seed)
        d = FieldAnomaly("a", "app", field="metadata.v")  # the shipped defaults: one-minute windows
        type(d).watched = 1
        d._pool.clear()
        for w in range(120):
            t = T0 + 60 * w
            value = 200 + 6 * rng.gauss(0, 1) + (120 if w == 100 else 0)
            f = d.update(BucketSummary.make("a|app=x", t, n=1, total=value, t_last=t + 59))
            if f is not None:
                paged += w != 100
                spikes += w == 100
    assert (paged, spikes) == (0, 40)
