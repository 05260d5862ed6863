"""A generic anomaly detector on any numeric field of the trace event.

``field`` is a top-level number (``latency_ms``, ``ttft_ms``, ``cost_usd``, ``input_tokens``,
``output_tokens``, ``total_tokens``) or ``scores.<name>`` / ``metadata.<name>``. The mean per window is
compared with an exponentially weighted mean and deviation of past window means (a robust z-score:
learning is clipped at ``z``) on two time scales, ``half_life_s`` and ``slow_half_life_s``; the window's
score is the smaller of the two z's (a value usual for the last hours *or* for the longer history is not
an anomaly: this keeps slow drifts and the recent regime from paging); ``slow_half_life_s: 0`` scores the
fast baseline alone. With ``daily`` (default on), a level and deviation per hour of day (UTC) are learned
as well and, once two days exist, replace both when they predict the series clearly better (their mean
absolute error below ``daily_margin`` times the fast baseline's, both averaged over ``slow_half_life_s``):
a daily cycle then is the normal, and a missing peak or a night-time surge is the anomaly. Every decay
is in seconds of event time between windows (``alpha = 1 - 2^(-dt / half_life)``; a window after a gap
weighs at most an hour): an hour slot keeps half its weight for ``daily_half_life_s`` (days of that hour,
a running mean of the days seen before that), the calibration tail for a week, so the settings mean the
same on 1-minute, 5-minute, hourly and sparse series.
``direction`` says which side counts (``up``, ``down``, ``both``), and
``consecutive`` windows must agree before it fires. Once the series has ``record_after_s`` of history
(5 days; 0: never), a window mean beyond every one seen (by ``record_margin`` of the range it held before it
left it: a fall through values never seen widens the range seen by small steps), or a level
(its mean over ``record_half_life_s``) beyond every level seen, is a record: it pages from ``record_z`` (scored
against the slow baseline too, which a fall to it has not dragged along)
while records are rarer than two false-alarm budgets (else from a score that keeps them so), and while the
detector's record pages (counted per week) stay within ``record_budget`` of its budget, or what the
calibrated threshold leaves of it on windows sparser than ``window_s`` (``record_budget: 0``: from
``record_z`` always, uncounted); a record is never routine. Both count weeks of the series' own
windows, not of ``window_s``.

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = FieldAnomaly("groundedness_drop", "app", field="scores.groundedness", direction="down", warmup=10)
>>> def window(i, mean, n=20):
...     return BucketSummary.make("groundedness_drop|app=a", i * 60.0, n=n, total=mean * n,
...                               t_last=i * 60.0 + 59)
>>> [d.update(window(i, 0.9 + 0.01 * (i % 4))) for i in range(30)].count(None)
30
>>> d.update(window(30, 0.99)) is None     # better is not an anomaly when watching "down"
True
>>> f = d.update(window(31, 0.6))
>>> f.summary
'scores.groundedness mean 0.6 is 27.8 deviations below the usual 0.9028'
"""

from __future__ import annotations

import base64
import math
import struct
from statistics import NormalDist
from typing import Any, Callable

from detectors.base import BucketSummary, ew_alpha
from detectors.calibration import (HALF_LIFE_S as TAIL_HALF_LIFE_S, POOL_SIZE, TOP_ALARM_CAP, TOP_SHARE, WEEK_S,
                                   Calibrated, keep_top, learn, per_window_q, threshold, top_floor)
from detectors.finding import Finding

DAY_S = 86_400.0
#: a window after a gap in the series weighs at most this much time: no data is no evidence of a change
GAP_CAP_S = 3600.0

TOP_LEVEL = ("latency_ms", "ttft_ms", "cost_usd", "input_tokens", "output_tokens", "total_tokens")
#: a value beyond this magnitude (a thousand trillion: no latency, cost, token count, rate or size an app reports
#: reaches it) is a broken client's and left out, as a value that is not a number is: two values of 10^308 in one
#: window sum to infinity, and one of 10^18 widens the range of window means seen (whose 0.3 % is the least one
#: deviation may be) until nothing else ever scores: the series would be blind for good
MAX_VALUE = 1e15
DIRECTIONS = ("up", "down", "both")


def field_problem(field: Any) -> str | None:
    if not isinstance(field, str) or not field:
        return "field must be a field name"
    if field in TOP_LEVEL:
        return None
    for prefix in ("scores.", "metadata."):
        if field.startswith(prefix) and len(field) > len(prefix):
            return None
    return f"field {field!r} is not one of {', '.join(TOP_LEVEL)}, scores.<name> or metadata.<name>"


def getter(field: str) -> Callable[[Any], float | None]:
    if field in TOP_LEVEL:
        return lambda e: getattr(e, field)
    if field.startswith("scores."):
        name = field[7:]
        return lambda e: e.scores.get(name)

    name = field[9:]

    def from_metadata(e: Any) -> float | None:
        v = e.metadata.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        return v
    return from_metadata


#: records page from the score reached with at most this many false-alarm budgets' probability per window
#: (``_record_at``); what they may spend in all is ``record_budget`` (``_record_may_page``)
RECORD_BAR = 2.0
#: on rows sparser than ``window_s`` the cooldown counts the series' own windows (``cooldown_s / window_s`` of
#: them), lengthened up to this, never beyond (nor ever shortened): ``FieldAnomaly.cooling``
SPARSE_COOLDOWN_CAP_S = 43_200.0
#: one deviation is at least this share of the range of window means seen, forgetting old extremes
#: (``SPAN_HALF_LIFE_S``; ``FieldAnomaly.score_one``)
RANGE_FLOOR = 0.003
#: the hour-of-day slots learn unclipped for the series' first week (``FieldAnomaly._learn_day``)
SLOT_CLIP_AFTER_S = 7 * 86_400.0
#: while a series stays beyond the range of window means it held, that range takes in the new values with this
#: half-life (``FieldAnomaly._settle``): an excursion is news for hours, a new normal not for days (NAB tune
#: half, standard: the same from 2 h to 8 h; 1 h lost a window, 24 h gained 3 false alarms)
SETTLE_HALF_LIFE_S = 4 * 3600.0
#: one deviation is at least this share of the series' resolution, the smallest step between consecutive window
#: means seen (``FieldAnomaly.score_one``): a count's routine 1 scores at most 1.33, a 2 at most 2.67, under ``z``
RES_SHARE = 0.75
#: on a series judged without its hour-of-day baseline, a window whose excursion from the usual level is at most this
#: many times the largest the series made at this hour (give or take one) on the last days is routine: a nightly
#: job's spike varies from night to night (``FieldAnomaly._routine``)
REACH_RATIO = 1.35
#: those excursions decay by this much a day: a one-off's fades within a week (0.8^7 x 1.35 = 0.28 of it is news
#: again; at 0.9 a spike half its size stays routine for 9 days). NAB tune half, shipped defaults standard at 1.35:
#: 0.7 / 0.8 / 0.9 / 0.95 a day 66.4 / 67.2 / 67.7 / 66.6; at 0.9, ratio 1.2 / 1.35 / 1.5 / 2 67.1 / 67.7 / 64.8 / 62.3
REACH_DECAY = 0.8
#: and an excursion less than this share of the largest is not that routine (judged by its score): an outage's
#: 150-fold excursion would otherwise cover every smaller one at its hour for three weeks (NAB tune the same at 0.25
#: and 0.5)
REACH_LOW = 0.5
#: the range of window means the deviation floor is a share of forgets with this half-life
#: (``FieldAnomaly._learn_span``; the range records are judged against does not): NAB tune the same at 7, 14 and
#: 30 days (shipped 67.1 / 67.1 / 67.2)
SPAN_HALF_LIFE_S = 7 * DAY_S
#: a series younger than ``learn_alarms_after_s`` whose alarms (one per cooldown) exceed this many times its
#: false-alarm budget for that time (5 at the shipped one a week: a chance of 0.06 % for noise that meets its budget)
#: is bursty by nature, and its alarms teach the threshold from then on (``FieldAnomaly._learn_tail``). NAB tune half,
#: shipped defaults, on call: 3 / 4 / 5 / 6 / 8 / never 45 / 49 / 49 / 49 / 51 / 71 false pages, 31 / 31 / 31 / 31 /
#: 31 / 32 labels caught; NAB standard 65.6 at 5 and 6, 67.2 never
YOUNG_ALARM_BUDGETS = 5.0
#: a baseline this many half-lives old holds all but 2^-20 of its weight: its deviation needs no correction
YOUNG_HALF_LIVES = 20.0
_NORMAL = NormalDist()


def first_count_z(k: float, n: int) -> float:
    """How surprising a count of ``k`` is in the first window that is not 0, after ``n`` windows of 0, as a
    one-sided normal deviate: the Poisson tail ``P(X >= k)`` (its leading term) at a rate of one in ``n``.
    A first 1 after a day of one-minute zeros is z 3.2, a first 2 is 5.0, a first 10 is 13 (at most 37).

    >>> [round(first_count_z(k, 1440), 1) for k in (1, 2, 10, 1e6)]
    [3.2, 5.0, 13.0, 37.3]
    """
    rate = 1.0 / max(n, 1)
    log_p = k * math.log(rate) - rate - math.lgamma(k + 1.0)
    return -_NORMAL.inv_cdf(min(math.exp(max(log_p, -700.0)), 0.5))


#: the hour slots, as float32 in a snapshot (``FieldAnomaly.state``): 4 bytes a number whatever its scale (5.3 in
#: base64), where JSON took up to 14 (``1.234567e-05,``) and the 96 numbers of ``direction: both`` filled half of 2 KB
PACKED = ("_day", "_day_dev", "_reach")
_F32 = struct.Struct("<f")
_F32_MAX = 3.4028234663852886e38


def _f32(x: float) -> float:
    """``x`` as the float32 a snapshot keeps (the detector learns the stored value, so a restored series judges
    as the live one did).

    >>> _f32(0.1), _f32(1e300) == _F32_MAX, _f32(200.5)
    (0.10000000149011612, True, 200.5)
    """
    return _F32.unpack(_F32.pack(min(max(x, -_F32_MAX), _F32_MAX)))[0]


def _excursion(x: float) -> float:
    """An hour's excursion (``FieldAnomaly._routine``) to three digits, as float32: routines compare within a ratio
    of 1.35, and three digits are a short decimal in a young series' snapshot (``_short``)."""
    return _f32(float(f"{x:.3g}"))


def _short(x: float) -> float:
    """The shortest decimal that reads back (``_f32``) as the float32 ``x``: a list of hours mostly not seen yet (0,
    -1) is shorter as JSON than packed, but a float32's own decimal has 17 digits.

    >>> _short(_f32(0.1)), _short(0), _short(_f32(123456789.0))
    (0.1, 0, 123456790)
    """
    if type(x) is int:
        return x
    for digits in ("%.6g", "%.7g", "%.8g"):
        y = float(digits % x)
        if _f32(y) == x:
            break
    else:
        y = float("%.9g" % x)  # nine digits always read back as the same float32
    return int(y) if y.is_integer() and abs(y) < MAX_VALUE else y


def _pack(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def _unpack(text: str) -> list[float]:
    raw = base64.b64decode(text, validate=True)
    if len(raw) not in (96, 192):  # 24 hours, or 48 (above and below)
        raise ValueError(f"a packed hour list holds 24 or 48 float32, not {len(raw)} bytes")
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


class FieldAnomaly(Calibrated):
    __slots__ = ("_mean", "_dev", "_streak", "_shift", "_shift_mean", "_slow", "_slow_dev",
                 "_day", "_day_dev", "_alarm_learned", "_err", "_t0", "_peak", "_hour", "_tp", "_range",
                 "_recent", "_top", "_top_alarm", "_res", "_settled", "_reach", "_span",
                 "_young", "_fired")
    kind = "anomaly"
    params = {"field": "latency_ms", "direction": "both", "false_alarms_per_week": 1.0, "z": 3.0,
              "consecutive": 1, "half_life_s": 3600.0, "slow_half_life_s": 36000.0, "min_rel_change": 0.003,
              "shift_windows": 6, "daily": True, "daily_margin": 0.5, "daily_half_life_s": 864000.0,
              "routine_decay": 0.7, "learn_alarms_after_s": 604800.0,
              "record_margin": 0.05, "record_after_s": 432000.0, "record_z": 2.0, "record_half_life_s": 3600.0,
              "record_budget": 0.3, "escalate": 2.0}
    defaults = {"window_s": 60.0, "warmup": 20, "min_volume": 1, "cooldown_s": 3600.0,
                "severity": {"warning": 4.0, "critical": 8.0}}

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        problem = field_problem(self.field)
        if problem:
            raise ValueError(problem)
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {self.direction!r}")
        super().configure(_get=staticmethod(getter(self.field)))  # a function, not a method
        if "_pool" not in type(self).__dict__:
            # The detector's pool of its series' top records (shared by the clones, rebuilt from their
            # snapshots at restore): the promise is per detector, so its chance pages are counted where
            # all its series' largest scores are.
            super().configure(_pool=[])
        if "_record_pages" not in type(self).__dict__:
            # [the detector's record pages below the calibrated threshold, decayed per week; when]
            super().configure(_record_pages=[0.0, 0.0])

    def reset(self) -> None:
        super().reset()
        self._mean = 0.0
        self._dev = 0.0  # exponentially weighted mean absolute deviation (robust to outliers)
        self._slow = 0.0  # the same on the slow time scale (slow_half_life_s)
        self._slow_dev = 0.0
        self._streak = 0
        self._shift = 0  # alarming windows in a row on the same side (a level shift when it lasts)
        self._shift_mean = 0.0  # their mean: the new normal, once it has lasted
        self._day = []  # per hour of day: level (empty until used)
        self._day_dev = []
        self._err = [0.0, 0.0]  # EW mean absolute error of the fast and the hour-of-day baselines
        self._t0 = 0.0  # the first window's start
        self._peak = []  # per hour of day: the highest score seen there, decayed per day
        self._hour = -1  # the hour of day of the last judged window
        self._alarm_learned = 0.0  # when an alarming window was last learned (``_learn_tail``; 0: never)
        # [lowest, highest window mean seen, since when, level, lowest, highest level seen] (empty: no window yet)
        self._range = []
        self._recent = []  # [the highest score of the last hours (halving per half_life_s)] as of ``_tp``
        self._top = []  # the largest scores and their windows' starts (``calibration.keep_top``)
        self._top_alarm = 0.0  # when an alarming window last entered ``_top`` (0: never)
        self._tp = -1.0  # the last learned window's start (0: none yet): decays are per second between windows
        # [the smallest positive step between consecutive window means seen (0: none yet), the last window mean]
        self._res = []
        # [lowest, highest window mean] as they stood before the series left them (``_settle``; empty: the range seen)
        self._settled = []
        # per hour of day: the largest excursion on the watched side of the usual level (``direction: both``: above,
        # then below), decayed per day (``_routine``)
        self._reach = []
        # [lowest, highest window mean] falling back towards the slow level (``_learn_span``; empty: the range seen)
        self._span = []
        self._fired = 0.0  # the score of the last page (``_escalates``; 0: none in a snapshot's cooldown)
        self._young = 0  # alarming windows (one per cooldown) before ``learn_alarms_after_s`` (``_learn_tail``)

    def load_state(self, state: dict[str, Any]) -> None:
        if "_var" in state and "_dev" not in state:  # a snapshot before calibration: deviation from variance
            state = {**state, "_dev": math.sqrt(max(state["_var"], 0.0)) * 0.8}
        if "_slow" not in state:  # a snapshot before the slow baseline: it starts from the fast one
            state = {**state, "_slow": state.get("_mean", 0.0), "_slow_dev": state.get("_dev", 0.0)}
        if "_top" not in state:  # a snapshot before the top record: it starts empty
            state = {**state, "_top": [], "_top_alarm": 0.0}
        super().load_state(state)
        for k in PACKED:  # a list: short as it is (or a snapshot before the packing, read as float32)
            v = getattr(self, k)
            setattr(self, k, _unpack(v) if isinstance(v, str) else [x if type(x) is int else _f32(x) for x in v])
        for i in range(0, len(self._top), 2):  # the detector's pool is rebuilt from its series' records
            keep_top(self._pool, self._top[i], self._top[i + 1], POOL_SIZE)

    def state(self) -> dict[str, Any]:
        state = super().state()
        for k in PACKED:
            v = state[k]
            if v:
                state[k] = _pack(v) if 5 * (len(v) - v.count(0) - v.count(-1)) > len(v) else [_short(x) for x in v]
        if not state["_young"]:  # most series never alarm young: no bytes for it (0 at restore, from reset)
            del state["_young"]
        if not (state["_fired"] and self.cooling(self._tp + self.window_s)):  # it only counts within the cooldown
            del state["_fired"]
        return state

    def alarm_at(self, tail: list[float] | None = None) -> float:
        """The calibrated threshold, and once the history covers the detector's budget (``q n >= 1``, ``q``
        the detector's per-window share: not divided by the series it watches) no lower than the score the
        pool of its series' top records says is exceeded by ``TOP_SHARE q n`` windows' weight. With one
        series that is the series' own record; with many, the detector's chance pages are counted over all
        of them, which a per-series quantile of ``q / series`` cannot be read for."""
        limit = super().alarm_at(tail)
        if tail is None and self._pool:
            qn = per_window_q(self.false_alarms_per_week, self.window_s, 1) * self._tail[0]
            if qn >= 1.0:
                limit = max(limit, top_floor(self._pool, TOP_SHARE * qn, self._tp))
        return limit

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:
        v = self._get(event)
        if v is None or not -MAX_VALUE <= v <= MAX_VALUE:
            return
        s.n += 1
        s.total += v
        s.see(t, event.trace_id, -v if self.direction == "down" else v)

    def _scale(self, level: float, dev: float) -> float:
        """One deviation of a baseline: its mean absolute deviation as a standard deviation, at least
        ``min_rel_change`` of its level."""
        return max(1.25 * dev, self.min_rel_change * abs(level), 1e-12)

    def _unbiased(self, dev: float, half_life_s: float) -> float:
        """A baseline's deviation as it would be had it always learned: it starts at 0 and has learned for only
        ``t - t0`` of event time, so it holds ``1 - 2^(-(t - t0) / half_life_s)`` of its weight (as Adam's
        moments are corrected). Uncorrected, a new one-minute series' deviation after its 20 warm-up windows was
        a fifth of the noise's, its first judged windows scored five times too many deviations, and a new series
        of Gaussian noise paged 0.7 times in its first two hours."""
        age = self._tp - self._t0
        if age <= 0 or half_life_s <= 0:
            return dev
        return dev / (1.0 - 2.0 ** (-age / half_life_s))

    def _side(self, z: float) -> float:
        return max({"up": z, "down": -z, "both": abs(z)}[self.direction], 0.0)

    def score_one(self, window: BucketSummary) -> float:
        """Deviations from the learned level, on the watched side (0 below it): the smaller of the
        deviations from the fast and from the slow baseline, so a window alarms only when neither the
        last hours nor the longer history make it usual. One deviation is at least ``RANGE_FLOOR`` of the
        range of window means seen: on a series that sits at a floor (0 errors, an idle disk) the learned
        deviation, whose learning is clipped, shrinks towards nothing, and a blip or a spike would score
        10^2 to 10^12 deviations, one as meaningless as the other (for the routines and the tail alike). It is
        at least ``RES_SHARE`` of the series' resolution too, the smallest step between consecutive window means
        seen: a one-minute count's routine 1 scores at most 1.33, not 10^2 and more (next to nothing on
        continuous data, where steps are tiny). Before any step is known, a count's first window that is not 0
        is scored by how rare it is after so many 0s (``first_count_z``): a first 1 no longer scores 10^12. A
        young baseline's deviation is corrected for the weight it has yet to learn (``_unbiased``)."""
        return self._score(window, unbiased=True)

    def _score(self, window: BucketSummary, unbiased: bool) -> float:
        """``score_one``; ``unbiased=False``: with the young baselines' deviations as learned (which the
        calibration tail learns, ``update``)."""
        if not window.n:
            return 0.0
        x = window.total / window.n
        if self._res and not self._res[0] and self._res[1] == 0.0 and x >= 1 and x == int(x):
            # a count's first window that is not 0: no step, so no deviation, is known yet
            return self._side(first_count_z(x, self._windows))
        h = self._daily_slot(window)
        floor = self._floor()
        if h is not None:
            m = self._day[h]
            return self._side((x - m) / max(self._scale(m, self._day_dev[h]), floor))
        dev = self._unbiased(self._dev, self.half_life_s) if unbiased else self._dev
        score = self._side((x - self._mean) / max(self._scale(self._mean, dev), floor))
        if self.slow_half_life_s > 0:
            score = min(score, self._slow_score(x, floor, unbiased))
        return score

    def _floor(self) -> float:
        """The least one deviation may be (``score_one``): ``RANGE_FLOOR`` of the range, ``RES_SHARE`` of the step."""
        span = self._span or self._range[:2]
        floor = RANGE_FLOOR * (span[1] - span[0]) if span else 0.0
        return max(floor, RES_SHARE * self._res[0]) if self._res else floor

    def _slow_score(self, x: float, floor: float, unbiased: bool = True) -> float:
        """Deviations of the window mean ``x`` from the slow baseline, on the watched side, one deviation at least
        ``floor`` (``_floor``); 0 without a slow baseline."""
        if self.slow_half_life_s <= 0:
            return 0.0
        dev = self._unbiased(self._slow_dev, self.slow_half_life_s) if unbiased else self._slow_dev
        return self._side((x - self._slow) / max(self._scale(self._slow, dev), floor))

    def _daily_slot(self, window: BucketSummary) -> int | None:
        """The hour-of-day slot when the hour-of-day baseline predicts this series clearly better than
        the fast one (after two days of history), else None."""
        if (not self._day or window.bucket_start - self._t0 < 2 * DAY_S
                or self._err[1] >= self.daily_margin * self._err[0]):
            return None
        h = int((window.bucket_start % DAY_S) // 3600)
        return h if self._day_dev[h] >= 0 else None

    def learn_one(self, window: BucketSummary, dt: float | None = None) -> None:
        x = window.total / window.n
        if dt is None:
            dt = self._gap(window)
        self._tp = window.bucket_start
        r = self._range
        if len(r) == 6:
            self._settle(x, dt)
            r[0], r[1] = min(r[0], x), max(r[1], x)
            self._learn_span(x, dt)
            r[3] = self._smoothed(x, dt)
            r[4], r[5] = min(r[4], r[3]), max(r[5], r[3])
        else:  # the first window (or the first after a snapshot from before records, or before levels)
            self._range = r[:3] + [x, x, x] if len(r) == 3 else [x, x, window.bucket_start, x, x, x]
        res = self._res
        if res:
            step = abs(x - res[1])
            if step and (step < res[0] or not res[0]):
                if not res[0]:
                    self._first_step()
                res[0] = float(f"{step:.3g}")  # three digits: a resolution, compact in the snapshot
            res[1] = x
        else:
            self._res = [0.0, x]
        if self.daily:
            self._learn_day(window, x, dt)
        if self._windows == 0:
            self._t0 = window.bucket_start
            self._mean, self._dev = x, 0.0
            self._slow, self._slow_dev = x, 0.0
        else:
            clip = self._windows >= self.warmup
            self._mean, self._dev = self._step(self._mean, self._dev, x, ew_alpha(dt, self.half_life_s), clip)
            if self.slow_half_life_s > 0:
                self._slow, self._slow_dev = self._step(self._slow, self._slow_dev, x,
                                                        ew_alpha(dt, self.slow_half_life_s), clip)
        self._windows += 1

    def _learn_span(self, x: float, dt: float) -> None:
        """The range of window means the deviation floor is a share of (``_floor``): the range seen, whose ends
        fall back towards the slow level with a half-life of ``SPAN_HALF_LIFE_S``. An outage's 30 s among 200 ms
        latencies made the floor 90 ms for good, and a doubling two weeks later scored under the threshold."""
        span = self._span
        if not span:
            span = self._span = self._range[:2]
        lo, hi = span
        a = ew_alpha(dt, SPAN_HALF_LIFE_S)
        slow = self._slow
        if lo < slow:
            lo += a * (slow - lo)
        if hi > slow:
            hi += a * (slow - hi)
        span[0], span[1] = (x if x < lo else lo), (x if x > hi else hi)

    def _settle(self, x: float, dt: float) -> None:
        """Keep the range of window means the series held before it left it (``_settled``), which records are
        judged against. A fall or rise through values never seen widens the range window by window, each step
        too small to be a record: a machine cooling from 46 to 7 degrees in two hours, 5-minute rows, against a
        range of 48 to 104. The held range takes in what the series reached once a window is back inside it, or,
        while the series stays outside, with a half-life of ``SETTLE_HALF_LIFE_S`` (a new normal stops being
        news), or at once when a level shift is learned (``_level_shift``)."""
        r = self._range
        held = self._settled or r[:2]
        if held[0] <= x <= held[1]:
            self._settled = []  # the range held is the range seen (kept as nothing: bytes in the snapshot)
            return
        a = ew_alpha(dt, SETTLE_HALF_LIFE_S)
        self._settled = [held[0] + a * (r[0] - held[0]), held[1] + a * (r[1] - held[1])]

    def _first_step(self) -> None:
        """The series' first step between window means, just scored without a resolution floor (10^12 deviations
        from a 0 that is not a count's: 0 to 0.5; a count's first value scores as a Poisson tail, ``score_one``).
        Every window before it had the same mean and scored 0, so the routines' peaks hold only this score: they
        learn it as the floor would have scored it (``1 / RES_SHARE``), or every later burst at its hour (give or
        take one) would be routine for weeks."""
        rescored = round(1.0 / RES_SHARE, 2)
        self._peak = [min(p, rescored) for p in self._peak]
        self._recent[:1] = [min(r, rescored) for r in self._recent[:1]]

    def _step(self, level: float, dev: float, x: float, alpha: float, clip: bool) -> tuple[float, float]:
        """One step of an exponentially weighted level and mean absolute deviation; with ``clip`` an
        outlier teaches the level at most ``z`` of its deviations."""
        if clip:
            reach = self.z * self._scale(level, dev)
            x = min(max(x, level - reach), level + reach)
        dev += alpha * (abs(x - level) - dev)
        return level + alpha * (x - level), dev

    def _learn_day(self, window: BucketSummary, x: float, dt: float) -> None:
        """Learn the hour-of-day level (clipped like the others) and both baselines' errors. A slot is
        fed one hour a day, so it decays by the time since the last window (at most an hour) times 24:
        its level keeps half its weight for ``daily_half_life_s`` of days."""
        if not self._day:
            self._day, self._day_dev = [0] * 24, [-1] * 24  # integers: 2 bytes each in a snapshot
        h = int((window.bucket_start % DAY_S) // 3600)
        m, d = self._day[h], self._day_dev[h]
        if d < 0:  # first visit of this hour
            self._day[h], self._day_dev[h] = _f32(x), 0.0
            return
        if self._windows:
            e = ew_alpha(dt, self.slow_half_life_s if self.slow_half_life_s > 0 else self.half_life_s)
            self._err[0] += e * (abs(x - self._mean) - self._err[0])
            self._err[1] += e * (abs(x - m) - self._err[1])
        a = ew_alpha(min(dt, 3600.0) * 24, self.daily_half_life_s)
        days = (window.bucket_start - self._t0) / DAY_S  # the first days: a running mean of the days seen
        a = max(a, 1.0 - (1.0 - 1.0 / (days + 1.0)) ** (min(dt, 3600.0) / 3600.0))
        # Unclipped for the first week, as the fast and slow baselines are for their warmup: a slot starts
        # with a deviation of 0 and sees one hour a day, so clipping at z of a barely learned deviation
        # keeps it below the series' own bursts, which then page when the slots take over (day 3).
        clip = d > 0 and window.bucket_start - self._t0 >= SLOT_CLIP_AFTER_S
        level, dev = self._step(m, d, x, a, clip=clip)
        self._day[h], self._day_dev[h] = _f32(level), _f32(dev)

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        if partial or window.n < self.min_volume:
            return None
        found = None
        dt = self._gap(window)
        if self._windows >= self.warmup:
            score, limit = self.score_one(window), self.alarm_at()
            mean = window.total / window.n
            # the fast baseline may have followed a fall to a record: the longer history judges it too
            news = max(score, self._slow_score(mean, self._floor())) if self._record(window, mean, dt) else 0.0
            record = news >= self.record_z and news >= self._record_at()
            if record and score < limit and not self._record_may_page(window.bucket_start):
                record = False  # the detector's records have spent their share of the budget
            routine = self._routine(window, score) and not record  # a value never seen is not routine
            if (score >= limit or record) and abs(mean - self._mean) >= self.min_rel_change * abs(self._mean):
                self._streak += 1
                cooling = self.cooling(window.t_last)
                escalates = cooling and self._escalates(score, limit)
                if self._streak >= self.consecutive and (not cooling or escalates) and not routine:
                    note = self._record_note(mean, dt) if record and score < limit else ""
                    slow = bool(note) and news > score  # the slow baseline judged it: the finding says so
                    found = self._finding(window, news if slow else score, limit, mean, record=note,
                                          usual=self._slow if slow else None, escalated=escalates)
                    self._fired = score
                    if note:
                        self._record_paged(window.bucket_start)
            else:
                self._streak = 0
            # The tail learns the young baselines' scores as they were (too many deviations): its threshold
            # starts high and keeps heavy tails from paging in their first days, as it always did.
            young = self._tp - self._t0 < YOUNG_HALF_LIVES * max(self.half_life_s, self.slow_half_life_s)
            self._learn_tail(window, self._score(window, unbiased=False) if young else score, limit, dt)
            self._level_shift(score >= limit, mean)
        self.learn_one(window, dt)
        return found

    def _escalates(self, score: float, limit: float) -> bool:
        """Whether an alarm within the cooldown pages anyway: its score is at least ``escalate`` times the one
        that paged last. An incident's first page is often its onset, weak and early; the cooldown then held
        back its peak, which on NAB is where the labelled anomaly is (a page 4 to 20 rows before a label, then
        2 to 5 times its score at the label)."""
        return bool(self.escalate) and self._fired > 0.0 and score >= limit and score >= self.escalate * self._fired

    def _record_may_page(self, t: float) -> bool:
        """Whether the detector's records may page below the calibrated threshold at ``t``: while their
        pages, counted with a week's half-life, are fewer than a steady ``record_budget`` (``_record_share``)
        times ``false_alarms_per_week`` a week leaves (``1 / (2^(1/r) - 1)`` for ``r`` pages a week: each page
        counts 1, so the count falls below that once a week's share has passed); 0: no limit."""
        if not self.record_budget:
            return True
        r = self.false_alarms_per_week * self._record_share()
        count, since = self._record_pages
        # 2^(1/r) - 1, bounded: a tiny budget must not overflow
        return count * 0.5 ** (max(t - since, 0.0) / WEEK_S) < 1.0 / math.expm1(min(math.log(2.0) / r, 700.0))

    def _record_share(self) -> float:
        """The share of the budget the detector's records may spend: ``record_budget``, or what the calibrated
        threshold leaves when this series' windows are sparser than ``window_s``. Its budget is per window, so
        a series with a window every ``s`` seconds spends at most ``1 - record_budget`` of ``window_s / s``
        budgets a week (0.14 on 5-minute rows); the detector's other series are taken as dense (their
        spacing is not known here), so the rest is the series' ``1 / S`` part of that saving."""
        saved = (1.0 - self.window_s / self._spacing()) / max(self.watched, 1)
        return self.record_budget + max(1.0 - self.record_budget, 0.0) * saved

    def _record_paged(self, t: float) -> None:
        count, since = self._record_pages
        self._record_pages[:] = [count * 0.5 ** (max(t - since, 0.0) / WEEK_S) + 1.0, max(t, since)]

    def _record_at(self) -> float:
        """The least score at which a record pages: ``record_z``, or at most ``RECORD_BAR`` times the
        false-alarm budget ``q`` per window on noise, ``q`` taken at the series' own spacing of windows (the bar
        is on records a week: a series with windows sparser than ``window_s`` has fewer of them a week, and
        ``K q n`` is its history in weeks times ``K`` budgets over the series watched). After ``n`` windows a
        window is a record by chance about ``1/n`` of the time, and one that exceeds a level reached with
        probability ``p`` about ``p / (1 + p n)``: records page from the score reached with
        ``p = K q / (1 - K q n)``, and from ``record_z`` once ``K q n >= 1`` (a series with few series beside
        it and a long history). With many series ``q`` is small and records page only near the calibrated
        threshold; ``record_budget`` then limits what they spend (``_record_may_page``)."""
        if not self.record_budget:
            return self.record_z
        kq = per_window_q(self.false_alarms_per_week, self._spacing(), self.watched) * RECORD_BAR
        if kq * self._windows >= 1.0:
            return self.record_z
        return max(threshold(self._tail, min(kq / (1.0 - kq * self._windows), 0.5)), self.record_z)

    def _record(self, window: BucketSummary, x: float, dt: float) -> bool:
        """Whether the window is a record: its mean ``x``, or the level (``x`` averaged over
        ``record_half_life_s``), beyond every one seen on the watched side by more than ``record_margin`` of
        the range seen, once the series has ``record_after_s`` of history (0: never). A value the series has
        never come near is news even where its own bursts keep the calibrated threshold high (a bursty
        series' largest burst ever; a dip below its lowest), and so is a level never held (a slow fall
        to below any hour seen, which the baselines follow). A window mean is judged against the
        range the series held before it left it (``_settle``)."""
        r = self._range
        if not self.record_after_s or len(r) != 6 or window.bucket_start - r[2] < self.record_after_s:
            return False
        return self._beyond(x, *(self._settled or r[:2])) or (self.record_half_life_s > 0
                                                               and self._beyond(self._smoothed(x, dt), r[4], r[5]))

    def _record_note(self, x: float, dt: float) -> str:
        """What the finding's summary says of a record that paged."""
        r = self._range
        lo, hi = self._settled or r[:2]
        if self._beyond(x, lo, hi):
            seen = "every window seen" if [lo, hi] == r[:2] else "the windows it held before"
            return f", beyond {seen} ({lo:.4g} to {hi:.4g})"
        return f"; its level {self._smoothed(x, dt):.4g} is beyond every level seen ({r[4]:.4g} to {r[5]:.4g})"

    def _beyond(self, x: float, lo: float, hi: float) -> bool:
        margin = self.record_margin * (hi - lo)
        return hi > lo and ((self.direction != "down" and x > hi + margin)
                            or (self.direction != "up" and x < lo - margin))

    def _smoothed(self, x: float, dt: float) -> float:
        """The level after this window: an exponentially weighted mean of window means
        (``record_half_life_s``)."""
        level = self._range[3]
        return level + ew_alpha(dt, self.record_half_life_s) * (x - level) if self.record_half_life_s > 0 else x

    def cooling(self, t: float) -> bool:
        """Within the cooldown of the last finding. ``cooldown_s`` means as many of the series' own windows as
        it holds of ``window_s`` (60 one-minute windows at the shipped hour): on rows sparser than ``window_s``
        (NAB's 5- to 60-minute rows, a quiet app) it is lengthened to that many rows, up to
        ``SPARSE_COOLDOWN_CAP_S`` (12 h), and it is never shortened: a dense series' cooldown is ``cooldown_s``."""
        c = self.cooldown_s
        if c < SPARSE_COOLDOWN_CAP_S:
            c = min(c * self._spacing() / self.window_s, SPARSE_COOLDOWN_CAP_S)
        return t - self._last_fire < c

    def _spacing(self) -> float:
        """The series' mean time between windows so far (at least ``window_s``): rows sparser than
        ``window_s`` (NAB's 5- to 60-minute rows for one-minute windows, a quiet app) make fewer windows a week."""
        if self._windows < 2:
            return self.window_s
        return max(self.window_s, (self._tp - self._t0) / (self._windows - 1))

    def _gap(self, window: BucketSummary) -> float:
        """Seconds of event time since the last learned window (``window_s`` for the first, or after an
        old snapshot): every decay is per second, so its half-life means the same on 1-minute, 5-minute,
        hourly and sparse series."""
        if self._tp < 0 or not self._windows:
            return self.window_s
        return min(max(window.bucket_start - self._tp, 0.0), GAP_CAP_S)

    def _learn_tail(self, window: BucketSummary, score: float, limit: float, dt: float) -> None:
        """Learn the window's score for the alarm threshold. An alarming score is left out (one incident
        must not blunt the detector, nor its size teach anything), except that once the series has
        ``learn_alarms_after_s`` of history, one alarming window per ``cooldown_s`` (one would-be page)
        counts as an excess at the threshold: a series that keeps paging more often than its budget
        (bursty by nature, its bursts are its normal) raises its own threshold, while a lasting incident
        teaches at most one excess per cooldown. A younger series learns them too once it has alarmed more than
        ``YOUNG_ALARM_BUDGETS`` times its budget for that history (one alarm per cooldown): a series that spikes
        every few hours from its first day is bursty by nature, and paged at each spike for a week. The top
        record (``calibration.keep_top``) learns every score too, an alarming one (one per cooldown) at no more
        than ``TOP_ALARM_CAP`` times the threshold:
        a series whose own largest scores page beyond its budget raises its threshold to them, and an
        incident raises it by at most that factor while its windows weigh in the record."""
        decay = 0.5 ** (dt / TAIL_HALF_LIFE_S)
        t = window.bucket_start
        if score < limit:
            self._keep_top(score, t)
            learn(self._tail, score, decay)
            return
        after = self.learn_alarms_after_s
        if not self._top_alarm or t - self._top_alarm >= self.cooldown_s:
            self._keep_top(min(score, TOP_ALARM_CAP * limit), t)
            self._top_alarm = t
            if t - self._t0 < after:
                self._young += 1
        young_limit = YOUNG_ALARM_BUDGETS * self.false_alarms_per_week * after / WEEK_S
        if (after and (t - self._t0 >= after or self._young > young_limit)
                and (not self._alarm_learned or t - self._alarm_learned >= self.cooldown_s)):
            learn(self._tail, limit, decay)
            self._alarm_learned = t

    def _keep_top(self, score: float, t: float) -> None:
        """The series' top record and the detector's pool learn the same score."""
        keep_top(self._top, score, t)
        keep_top(self._pool, score, t, POOL_SIZE)

    def _routine(self, window: BucketSummary, score: float) -> bool:
        """Whether the series reached ``score`` at this hour of day (give or take one) on the last days, or
        in the last hours (its highest score, halving per ``half_life_s``: a spike no higher than one the
        series just made is the recent regime), or, judged without its hour-of-day baseline, went as far from
        the usual level at this hour on the last days (within ``REACH_RATIO``: a score varies with the deviation
        it is measured in, a nightly job's spike in the series' units hardly); learns the window as this hour's."""
        if not self.routine_decay:
            return False
        if not self._peak:
            self._peak = [0] * 24  # 0, not 0.0: a byte fewer an hour in a snapshot
        h = int((window.bucket_start % DAY_S) // 3600)
        sides = 48 if self.direction == "both" else 24  # above, then below the usual; one side when one is watched
        if len(self._reach) != sides:
            self._reach = [0] * sides
        reach = self._reach
        if h != self._hour:
            self._peak[h] = round(self._peak[h] * self.routine_decay, 2) or 0
            for i in range(h, sides, 24):
                reach[i] = _excursion(reach[i] * REACH_DECAY)
            self._hour = h
        p = self._peak
        routine = score <= max(p[h - 1], p[h], p[(h + 1) % 24])
        p[h] = max(p[h], round(score, 2))
        excursion = window.total / window.n - self._mean
        if self.direction == "down":
            excursion = -excursion
        if (excursion >= 0 or sides == 48) and self._daily_slot(window) is None:
            # how far from the usual level, in the series' own units, it went on the last days at this hour (± 1)
            i = 0 if excursion >= 0 else 24
            excursion = abs(excursion)
            if not routine:
                seen = max(reach[i + (h - 1) % 24], reach[i + h], reach[i + (h + 1) % 24])
                routine = REACH_LOW * seen <= excursion <= REACH_RATIO * seen
            if excursion > reach[i + h]:
                reach[i + h] = _excursion(excursion)
        t = window.bucket_start
        recent = 0.0  # the highest score of the last hours, halving per half_life_s
        if self._recent:  # its time is the last window's, ``_tp`` (kept beside it in snapshots before ``_res``)
            since = self._recent[1] if len(self._recent) > 1 else self._tp
            recent = self._recent[0] * 0.5 ** (max(t - since, 0.0) / self.half_life_s)
        self._recent = [round(max(recent, score), 2)]
        return routine or score <= recent

    def _level_shift(self, alarming: bool, mean: float) -> None:
        """Alarms on one side for ``shift_windows`` in a row are a new normal: their mean becomes the
        level (the first alarm reported it; the series is not paged again for the same change)."""
        if not alarming:  # no shift under way: its mean is no state (0: a shorter snapshot)
            self._shift, self._shift_mean = 0, 0.0
            return
        if self._shift and (mean >= self._mean) != (self._shift_mean >= self._mean):
            self._shift = 0
        self._shift += 1
        self._shift_mean = mean if self._shift == 1 else self._shift_mean + (mean - self._shift_mean) / self._shift
        if self._shift >= self.shift_windows:
            self._dev = max(self._dev, abs(self._shift_mean - self._mean) / 4)
            self._mean, self._shift, self._shift_mean = self._shift_mean, 0, 0.0
            self._settled = []  # the new normal is the range the series holds: its windows are no records

    def _finding(self, window: BucketSummary, score: float, limit: float, mean: float, *,
                 record: str = "", usual: float | None = None, escalated: bool = False) -> Finding:
        """``record``: the summary's note on the record that paged (empty: the calibrated threshold paged);
        ``usual``: the baseline that scored it (default: the hour's or the fast one); ``escalated``: it paged
        within the cooldown of the last page (``_escalates``), and says so."""
        h = self._daily_slot(window)
        baseline = "slow level" if usual is not None else "level" if h is None else f"hour {h:02d} UTC"
        if usual is None:
            usual = self._mean if h is None else self._day[h]
        side = "above" if mean >= usual else "below"
        p = self.tail_probability(score)
        r = self._range
        if len(r) > 1 and r[0] == r[1]:  # never varied, so no deviation: its first change scores up to 10^12 of them
            how = f"is {side} {usual:.4g}, the mean of each of the {self._windows:,} windows before it"
        else:
            how = f"is {score:.1f} deviations {side} the usual {usual:.4g}"
        escalation = ""
        if escalated:
            ago = (window.t_last - self._last_fire) / 60
            escalation = f"; up from {self._fired:.1f} deviations at the page {ago:.0f} min before"
        return self.finding(
            window, score=score, observed=mean, baseline=usual,
            summary=f"{self.field} mean {mean:.4g} {how}{record}{escalation}",
            details={"field": self.field, "direction": self.direction, "z": round(score, 2),
                     "alarm_at": round(limit, 2), "tail_probability": float(f"{p:.3g}"),
                     "values": window.n, "windows": self._streak,
                     "baseline": baseline, "record": bool(record), "escalated": escalated})
