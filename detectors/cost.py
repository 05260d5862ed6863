"""Spend rate per series against an adaptive, daily-seasonal baseline.

The baseline is an exponentially weighted mean and variance of the spend per window (half-life
``half_life_s``), and — with ``seasonal`` — the typical spend for the same hour of the day, learned over
the last few days. A window is a spike when it is at least ``ratio`` times both baselines and ``z``
standard deviations above the moving one, so an ordinary morning ramp that happened yesterday too does
not page. Learning clips outliers, so a spike does not become the new normal at once.

A partial window is judged too (``early``): as soon as the spend so far passes the whole window's test
(optionally ``early_factor`` times stricter), the finding goes out — a 10x spike within a few seconds.
The ``z`` a window must reach is calibrated on the series' own history (``detectors.calibration``).

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = CostSpike("cost_spike", warmup=5, min_volume=1)
>>> def window(i, spend):
...     return BucketSummary.make("cost_spike|model=m", i * 60.0, n=10, total=spend,
...                               t_first=i * 60.0, t_last=i * 60.0 + 59)
>>> [d.update(window(i, 1.0 + 0.1 * (i % 3))) for i in range(30)].count(None)
30
>>> f = d.update(window(30, 9.0))
>>> f.severity, f.evidence.observed, round(f.evidence.baseline, 2)
('warning', 9.0, 1.05)
"""

from __future__ import annotations

import math
from array import array
from operator import attrgetter
from typing import Any

from detectors.base import BucketSummary, Detector, ew_alpha, ew_update
from detectors.calibration import Calibrated
from detectors.finding import Finding

MEASURES = ("cost_usd", "total_tokens", "input_tokens", "output_tokens")


def fold_measure(self: Detector, s: BucketSummary, event: Any, t: float) -> None:
    """``fold`` of the spend detectors (cost, budget): count and sum ``measure``, rank examples by it."""
    v = self._measure_of(event) or 0.0
    s.n += 1
    s.total += v
    s.see(t, event.trace_id, v)


#: ``_season`` before the first learned window: no seasonal baseline yet
NO_SEASON: Any = ()


class CostSpike(Calibrated):
    __slots__ = ("_mean", "_var", "_last_start", "_season")
    kind = "cost"
    # one call can cost 100x the median (context size is heavy-tailed per user), so until the series has
    # its own history a window's spend is assumed to be far more volatile than Gaussian noise
    prior_mean_excess = 1.0
    early = True
    params = {"measure": "cost_usd", "false_alarms_per_week": 1.0, "z": 4.0, "ratio": 3.0, "half_life_s": 1800.0,
              "seasonal": True, "season_days": 3.0, "early_factor": 1.0, "min_excess": 0.0}
    defaults = {"window_s": 60.0, "warmup": 30, "min_volume": 5, "cooldown_s": 900.0,
                "severity": {"warning": 3.0, "critical": 10.0}}

    def reset(self) -> None:
        super().reset()
        self._mean = 0.0
        self._var = 0.0
        self._last_start: float | None = None
        # mean and count per hour of the day, flat (mean of hour h at 2h, its count at 2h + 1); allocated
        # by the first learned window, so a series that never learns costs nothing here
        self._season: array | tuple = NO_SEASON

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        super().configure(_measure_of=attrgetter(self.measure))

    fold = fold_measure

    def state(self) -> dict[str, Any]:
        state = super().state()
        season = self._season  # snapshotted as 24 [mean, count] pairs, as before the flat array
        state["_season"] = [[season[i], _number(season[i + 1])] for i in range(0, len(season), 2)]
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        if "_season" in state:
            pairs = state["_season"]
            self._season = array("d", [x for pair in pairs for x in pair]) if pairs else NO_SEASON

    # ---- judgement (pure) ------------------------------------------------------------------------

    def _judge(self, w: BucketSummary, partial: bool) -> dict[str, float]:
        # A partial window is held to the whole window's baseline: its spend so far only grows, so an
        # early finding is one the closed window would make too (a scaled-down baseline paged on one
        # expensive call in a quiet night's first seconds).
        span = self.window_s
        if partial:
            span = min(self.window_s, max(w.t_last - w.bucket_start, self.window_s / 6))
        std = max(math.sqrt(max(self._var, 0.0)), 0.1 * self._mean, 1e-9)
        expected = self._mean
        # One call is not a spike: a user's long document can cost minutes of a small app's spend.
        # The window is judged without its largest call (the examples are ranked by spend).
        total = w.total - max((rank for rank, _ in w.examples), default=0.0)
        z = (total - expected) / std
        ratio = total / max(expected, 1e-12)
        out = {"span": span, "expected": expected, "z": z, "ratio": ratio, "seasonal": -1.0}
        season = self._season
        if season:
            i = 2 * self._hour(w.bucket_start)
            mean, count = season[i], season[i + 1]
            if count >= 0.5 * 3600 / self.window_s:  # seen at least half an hour of this hour before
                out["seasonal"] = mean
                out["ratio"] = min(ratio, total / max(mean, 1e-12))
        return out

    def score_one(self, window: BucketSummary) -> float:
        return self._judge(window, partial=False)["ratio"]

    # ---- learning --------------------------------------------------------------------------------

    def _hour(self, start: float) -> int:
        return int((start % 86400) // 3600)

    def learn_one(self, window: BucketSummary) -> None:
        alpha = ew_alpha(self.window_s, self.half_life_s)
        if self._last_start is not None:  # windows without events spent nothing
            gap = int(round((window.bucket_start - self._last_start) / self.window_s)) - 1
            for _ in range(min(max(gap, 0), 200)):
                self._mean, self._var = ew_update(self._mean, self._var, 0.0, alpha)
        x = window.total
        if self._windows >= self.warmup:
            std = max(math.sqrt(max(self._var, 0.0)), 0.1 * self._mean, 1e-9)
            x = min(x, self._mean + self.z * std)
        if self._windows == 0:
            self._mean, self._var = x, 0.0
        else:
            self._mean, self._var = ew_update(self._mean, self._var, x, alpha)
        season = self._season
        if not season and self.seasonal:
            season = self._season = array("d", [0.0]) * 48
        if season:
            i = 2 * self._hour(window.bucket_start)
            per_day = 3600 / self.window_s
            a = max(1.0 / (season[i + 1] + 1), 1.0 - 0.5 ** (1.0 / (self.season_days * per_day)))
            season[i] += a * (x - season[i])
            season[i + 1] = min(season[i + 1] + 1, 10 * per_day)
        self._windows += 1
        self._last_start = window.bucket_start

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        found = None
        judged = self._windows >= self.warmup and window.n >= self.min_volume
        if judged:
            j = self._judge(window, partial)
            limit = self.alarm_at()
            if not partial:
                self.learn_score(j["z"], limit)
        if judged and not self.cooling(window.t_last):
            z_needed = limit * (self.early_factor if partial else 1.0)
            if (j["z"] >= z_needed and j["ratio"] >= self.ratio
                    and window.total - max(j["expected"], j["seasonal"]) >= self.min_excess):
                per_s = window.total / j["span"]
                found = self.finding(
                    window, score=j["ratio"], observed=window.total, baseline=j["expected"],
                    window_s=round(j["span"], 3),
                    summary=f"{self.measure} {window.total:.4g} in {j['span']:.0f}s is "
                            f"{j['ratio']:.1f}x the usual {max(j['expected'], 0):.4g}",
                    details={"measure": self.measure, "rate_per_s": round(per_s, 6),
                             "baseline_rate_per_s": round(self._mean / self.window_s, 6),
                             "z": round(j["z"], 2), "alarm_at": round(z_needed, 2),
                             "tail_probability": float(f"{self.tail_probability(j['z']):.3g}"),
                             "partial": partial,
                             "seasonal_baseline": None if j["seasonal"] < 0 else round(j["seasonal"], 6)})
        if not partial:
            self.learn_one(window)
        return found


def _number(x: float) -> float:
    """A count as it was snapshotted before the flat array: whole counts as ints (shorter JSON)."""
    return int(x) if x.is_integer() else x
