"""Alarm thresholds calibrated on each series' own score history.

A baseline detector scores a closed window by how far it lies from the series' learned normal, in the
series' own deviations (a robust z). Whether a score of 5 is rare depends on the series: a steady one
almost never reaches it, a bursty or heavy-tailed one does so daily. So the alarm threshold is not a
fixed z but the score this series exceeds with probability ``q`` per window, estimated from its own
scores by peaks over threshold (Siffer et al., "Anomaly Detection in Streams with Extreme Value
Theory", KDD 2017): excesses of the score over ``U`` follow a generalized Pareto distribution
(Pickands–Balkema–de Haan), fitted by the method of moments on exponentially decayed sums. The state is
four numbers, ``[windows, excesses, sum of excesses, sum of squared excesses]``.

A fit extrapolates from a rate near 1 % to ``q``, and on a heavy tail (Student-t(3), lognormal) it comes out
low about as often as high, which pages beyond the budget. So a series with history enough that its own
scores cover ``q`` (the decayed windows ``n`` with ``q n >= 1``: 1.7 weeks at one-minute windows for one series)
also keeps a record of its largest scores and when they came (``keep_top``, 8 numbers), and its
threshold is no lower than the score that record says is exceeded by ``TOP_SHARE q n`` windows' weight
(``top_floor``). A shorter history (less than ``1/q`` windows' weight: rows sparser than ``window_s``, as
NAB's 5-minute rows for one-minute windows) leaves the fit alone in charge. A detector of many series pools
its series' records and reads the floor off the pool with its own ``q`` (``FieldAnomaly.alarm_at``).

``q`` comes from one setting with a plain meaning, ``false_alarms_per_week`` for the whole detector,
spread over a week's windows and over the series the detector watches (Bonferroni), so the promise holds
with 10 series or with 100,000: ``q = false_alarms_per_week * window_s / (604800 * series)``.

Until a series has a history, a prior worth ``PRIOR_WINDOWS`` windows stands in: 5 % of scores above
``U = 2``, exponential excesses of mean 0.5 (a little heavier than Gaussian noise, whose excesses over 2
average 0.37). A new series is thus judged conservatively; its own scores take over as they come.

Examples
--------
>>> import random
>>> rng = random.Random(1)
>>> gauss, heavy = new_tail(), new_tail()
>>> for _ in range(20_000):
...     learn(gauss, abs(rng.gauss(0, 1)), 0.9999)
...     learn(heavy, abs(rng.gauss(0, 1)) / max(rng.random(), 1e-9) ** 0.3, 0.9999)
>>> q = 1e-4                                  # one window in 10,000
>>> round(threshold(gauss, q), 1), round(threshold(heavy, q), 1)   # exact: 3.9 and 19.5
(4.3, 20.5)

Gaussian noise gets a little more than it needs: the lightest tail assumed is the exponential, so that
a short history never promises a bounded one.
>>> round(tail_probability(gauss, threshold(gauss, q)), 6)
0.0001
"""

from __future__ import annotations

import math
from typing import Any

from detectors.base import Detector

WEEK_S = 604_800.0
#: scores above U are excesses (robust-z units)
U = 2.0
PRIOR_WINDOWS = 60.0
PRIOR_RATE = 0.05
PRIOR_MEAN_EXCESS = 0.5
#: the fitted shape is kept in this range: no bounded tail (a short history would promise one, and a
#: threshold that cannot grow with the series watched), nor an absurdly heavy one
SHAPE_MIN, SHAPE_MAX = 0.0, 0.5
#: how long a score keeps half its weight in the fit
HALF_LIFE_S = 7 * 86_400.0
#: the top record (``keep_top``): how many of the largest scores it keeps, and a kept score lighter than
#: ``TOP_MIN_WEIGHT`` (over four half-lives old) is forgotten
TOP_SIZE = 4
TOP_MIN_WEIGHT = 0.05
TOP_MAX_AGE_S = HALF_LIFE_S * math.log2(1.0 / TOP_MIN_WEIGHT)
#: the detector's pool of its series' top records (``FieldAnomaly``): enough for a budget of a few a week
POOL_SIZE = 8
#: the record's floor is the score exceeded by ``TOP_SHARE * q * n`` windows' weight (``n``: the decayed
#: windows of the tail), used once ``q * n >= 1``: a quantile read off one or two scores falls low as often as
#: high, and a low one pages more than a high one saves (at a share of 1, Student-t(3) noise paged 1.1 per
#: series-week in weeks 5-8 of ``bench.calibration_noise``)
TOP_SHARE = 0.7
#: an alarming window enters the record (one per cooldown) at no more than this times the threshold it
#: reached: a series that pages beyond its budget learns its tail is heavier, an incident raises it at most so
TOP_ALARM_CAP = 1.25


def new_tail(mean_excess: float = PRIOR_MEAN_EXCESS) -> list[float]:
    """The prior: ``[windows, excesses, sum of excesses, sum of squared excesses]``."""
    k = PRIOR_WINDOWS * PRIOR_RATE
    m = mean_excess
    return [PRIOR_WINDOWS, k, k * m, k * 2 * m * m]  # exponential excesses: E[e^2] = 2 m^2


def decay_per_window(window_s: float) -> float:
    return 0.5 ** (window_s / HALF_LIFE_S)


def learn(tail: list[float], score: float, decay: float) -> None:
    """Add one window's score (callers leave out the windows that alarmed)."""
    if not math.isfinite(score):
        return
    tail[0] = tail[0] * decay + 1.0
    tail[1] *= decay
    tail[2] *= decay
    tail[3] *= decay
    if score > U:
        e = score - U
        tail[1] += 1.0
        tail[2] += e
        tail[3] += e * e


def _fit(tail: list[float]) -> tuple[float, float, float]:
    """(exceedance rate, GPD scale, GPD shape) by the method of moments."""
    n, k, s1, s2 = tail
    m = s1 / k
    v = max(s2 / k - m * m, 1e-12)
    shape = min(max(0.5 * (1.0 - m * m / v), SHAPE_MIN), SHAPE_MAX)
    scale = max(m * (1.0 - shape), 1e-9)  # the GPD's mean excess is scale / (1 - shape)
    return k / n, scale, shape


def threshold(tail: list[float], q: float) -> float:
    """The score this series exceeds with probability ``q`` per window."""
    rate, scale, shape = _fit(tail)
    if q >= rate:
        return U
    r = q / rate
    if abs(shape) < 1e-6:
        return U - scale * math.log(r)
    return U + scale / shape * (r ** -shape - 1.0)


def tail_probability(tail: list[float], score: float) -> float:
    """How often this series scores ``score`` or more (per window); 1.0 at or below ``U``."""
    rate, scale, shape = _fit(tail)
    if score <= U:
        return 1.0
    e = score - U
    if abs(shape) < 1e-6:
        return rate * math.exp(-e / scale)
    base = 1.0 + shape * e / scale
    return 0.0 if base <= 0 else rate * base ** (-1.0 / shape)


def keep_top(top: list[float], score: float, t: float, size: int = TOP_SIZE) -> None:
    """Keep ``score`` (of the window starting at ``t``) in the top record if it is among the ``size``
    largest (above ``U``). The record is flat, ``[s1, t1, s2, t2, ...]``, largest score first (two decimals),
    each with its window's start: its weight halves every ``HALF_LIFE_S`` since, and a score lighter than
    ``TOP_MIN_WEIGHT`` is forgotten."""
    if not score > U or not math.isfinite(score):
        return
    old = t - TOP_MAX_AGE_S
    if any(top[i] < old for i in range(1, len(top), 2)):
        top[:] = [x for i in range(0, len(top), 2) if top[i + 1] >= old for x in top[i:i + 2]]
    if len(top) >= 2 * size and score <= top[-2]:
        return
    score = round(score, 2)
    i = 0
    while i < len(top) and top[i] > score:
        i += 2
    while i < len(top) and top[i] == score:
        if top[i + 1] == t:  # already kept (a series restored twice into a pool)
            return
        i += 2
    top[i:i] = [score, t]
    del top[2 * size:]


def top_floor(top: list[float], weight: float, now: float) -> float:
    """The score exceeded by ``weight`` windows' weight in the top record at time ``now``, interpolated
    between kept scores; 0 (no floor) when the kept scores weigh less in all: the quantile is then below
    the lowest of them, by how much the record cannot tell (a budget of many pages a week)."""
    above, prev = 0.0, None
    for i in range(0, len(top), 2):
        s, w = top[i], 0.5 ** (max(now - top[i + 1], 0.0) / HALF_LIFE_S)
        if above + w >= weight:
            return s if prev is None else s + (prev - s) * (above + w - weight) / w
        above += w
        prev = s
    return 0.0


def per_window_q(false_alarms_per_week: float, window_s: float, series: int) -> float:
    """The false-alarm probability one series may spend per window."""
    return false_alarms_per_week * window_s / (WEEK_S * max(series, 1))


class Calibrated(Detector):
    """A baseline detector whose alarm threshold is calibrated on its series' score history.

    Subclasses score windows in deviations (``score_one``), list ``false_alarms_per_week`` and ``z``
    (a floor: the least score that may alarm) in their ``params``, alarm when a score reaches
    ``alarm_at()`` and feed every judged closed window's score to ``learn_score``.
    """

    __slots__ = ("_tail",)
    spreads_budget = True
    #: the prior's mean excess: heavier for scores of sums of heavy-tailed amounts (spend)
    prior_mean_excess: float = PRIOR_MEAN_EXCESS

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        if "window_s" in config:
            super().configure(_decay=decay_per_window(self.window_s))

    def reset(self) -> None:
        super().reset()
        self._tail = new_tail(self.prior_mean_excess)

    def alarm_at(self, tail: list[float] | None = None) -> float:
        """The score this series reaches by chance at most at the configured false-alarm rate."""
        q = per_window_q(self.false_alarms_per_week, self.window_s, self.watched)
        return max(threshold(self._tail if tail is None else tail, q), self.z)

    def learn_score(self, score: float, limit: float, tail: list[float] | None = None) -> None:
        """Learn a closed window's score unless it alarms: as in SPOT, an anomaly does not teach the
        model of normal scores (or one incident would blunt the detector for weeks)."""
        if score < limit:
            learn(self._tail if tail is None else tail, score, self._decay)

    def tail_probability(self, score: float) -> float:
        return tail_probability(self._tail, score)
