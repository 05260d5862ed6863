"""Latency regressions per model / provider: p50 and p95 against their baseline, sustained.

Each bucket carries a sparse log-scale histogram (bins 15 % wide), so quantiles survive merging. A window
with at least ``min_volume`` calls is *slow* when its p95 (or p50) is ``ratio`` times the baseline and
``z`` deviations above it (on the log scale); a finding needs ``consecutive`` slow windows in a row, so a
single slow window or a few outliers never page. A window with too few calls is carried into the next
one (up to five windows), so quiet series are judged on enough calls.

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = LatencyRegression("latency", warmup=5, min_volume=10, consecutive=3)
>>> def window(i, ms):
...     hist = {bin_of(ms * 0.8): 50, bin_of(ms): 45, bin_of(ms * 1.5): 5}
...     return BucketSummary.make("latency|model=m", i * 60.0, n=100, hist=hist, t_last=i * 60.0 + 59)
>>> [d.update(window(i, 400 + 10 * (i % 3))) for i in range(20)].count(None)
20
>>> [d.update(window(i, 1500)) is None for i in range(20, 23)]
[True, True, False]
>>> d.update(window(23, 400)) is None    # back to normal
True
"""

from __future__ import annotations

import math
from operator import attrgetter
from typing import Any

from detectors.base import EMPTY, BucketSummary, ew_alpha, ew_update
from detectors.calibration import Calibrated, new_tail
from detectors.finding import Finding

_K = 1.0 / math.log(1.15)
_log1p = math.log1p
MAX_CARRY = 5
#: a quantile moves by whole bins (15 % wide): a deviation smaller than one bin is no evidence
BIN_WIDTH = math.log(1.15)


def bin_of(ms: float) -> int:
    return int(math.log1p(ms) * _K)


def quantile(hist: dict[int, int], q: float) -> float:
    """The ``q`` quantile (in ms) of a histogram from ``bin_of`` (bin centre)."""
    total = sum(hist.values())
    if not total:
        return 0.0
    need, seen = q * total, 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= need:
            return math.expm1((b + 0.5) / _K)
    return math.expm1((max(hist) + 0.5) / _K)


class LatencyRegression(Calibrated):
    __slots__ = ("_base", "_streak", "_streak_start", "_carry", "_tail50")
    kind = "latency"
    params = {"field": "latency_ms", "ratio": 1.5, "false_alarms_per_week": 1.0, "z": 3.0, "consecutive": 3,
              "half_life_s": 3600.0}
    defaults = {"window_s": 60.0, "warmup": 30, "min_volume": 20, "cooldown_s": 1800.0,
                "severity": {"warning": 1.5, "critical": 3.0}}
    target_fields = ("model", "provider")

    def reset(self) -> None:
        super().reset()
        self._base = [0.0, 0.0, 0.0, 0.0]  # EW mean and variance of log p50, then of log p95
        self._streak = 0
        self._streak_start = 0.0
        self._carry: list = []  # [start, n, hist] of recent windows too small to judge on their own
        self._tail50 = new_tail(self.prior_mean_excess)  # the p50's score history (``_tail``: the p95's)

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        super().configure(_value_of=attrgetter(self.field))

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:
        v = self._value_of(event)
        if v is None:
            return
        b = int(_log1p(v) * _K)
        h = s.hist if s.hist is not EMPTY else s.writable("hist")
        h[b] = h.get(b, 0) + 1
        s.n += 1
        s.see(t, event.trace_id, v)

    def _excess(self, window: BucketSummary) -> tuple[float, float, float, float, float, float]:
        """(p50, its ratio to baseline, its z; p95, ratio, z) on the log scale."""
        p50, p95 = quantile(window.hist, 0.5), quantile(window.hist, 0.95)
        m50, v50, m95, v95 = self._base
        z50 = (math.log1p(p50) - m50) / max(math.sqrt(max(v50, 0.0)), BIN_WIDTH)
        z95 = (math.log1p(p95) - m95) / max(math.sqrt(max(v95, 0.0)), BIN_WIDTH)
        return (p50, p50 / max(math.expm1(m50), 1e-9), z50, p95, p95 / max(math.expm1(m95), 1e-9), z95)

    def score_one(self, window: BucketSummary) -> float:
        """The larger of the p50 / p95 ratios to their baselines."""
        if not window.n:
            return 0.0
        _, r50, _, _, r95, _ = self._excess(window)
        return max(r50, r95)

    def learn_one(self, window: BucketSummary) -> None:
        l50 = math.log1p(quantile(window.hist, 0.5))
        l95 = math.log1p(quantile(window.hist, 0.95))
        if self._windows == 0:
            self._base = [l50, 0.0, l95, 0.0]
        else:
            m50, v50, m95, v95 = self._base
            if self._windows >= self.warmup:  # clip what a regression teaches the baseline
                l50 = min(l50, m50 + self.z * max(math.sqrt(v50), BIN_WIDTH))
                l95 = min(l95, m95 + self.z * max(math.sqrt(v95), BIN_WIDTH))
            a = ew_alpha(self.window_s, self.half_life_s)
            m50, v50 = ew_update(m50, v50, l50, a)
            m95, v95 = ew_update(m95, v95, l95, a)
            self._base = [m50, v50, m95, v95]
        self._windows += 1

    def _with_carry(self, window: BucketSummary) -> BucketSummary:
        """Windows below ``min_volume`` are carried into the next ones (for up to ``MAX_CARRY`` windows)."""
        if not self._carry or window.bucket_start - self._carry[0] > MAX_CARRY * self.window_s:
            self._carry = []
            return window
        merged = window.copy()
        hist = merged.writable("hist")
        for b, c in self._carry[2].items():
            hist[int(b)] = hist.get(int(b), 0) + c
        merged.n += self._carry[1]
        return merged

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        if partial or not window.n:
            return None
        window = self._with_carry(window)
        if window.n < self.min_volume:
            start = self._carry[0] if self._carry else window.bucket_start
            self._carry = [start, window.n, {str(b): c for b, c in window.hist.items()}]
            return None
        self._carry = []
        found = None
        if self._windows >= self.warmup:
            # p50 and p95 each against their own calibrated threshold: with few calls per window
            # the p95 jumps between bins, which must not blunt the p50
            p50, r50, z50, p95, r95, z95 = self._excess(window)
            limit50, limit = self.alarm_at(self._tail50), self.alarm_at()
            self.learn_score(z50, limit50, self._tail50)
            self.learn_score(z95, limit)
            slow50 = r50 >= self.ratio and z50 >= limit50
            slow95 = r95 >= self.ratio and z95 >= limit
            score, z, at = (r95, z95, limit) if slow95 and (r95 >= r50 or not slow50) else (r50, z50, limit50)
            if slow50 or slow95:
                if self._streak == 0:
                    self._streak_start = window.bucket_start
                self._streak += 1
            else:
                self._streak = 0
            if self._streak >= self.consecutive and not self.cooling(window.t_last):
                found = self.finding(
                    window, score=score, observed=p95, baseline=math.expm1(self._base[2]),
                    window_s=window.bucket_start + self.window_s - self._streak_start,
                    summary=f"{self.field} p95 {p95:.0f} ms, p50 {p50:.0f} ms: {score:.1f}x baseline "
                            f"for {self._streak} windows",
                    details={"p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                             "baseline_p50_ms": round(math.expm1(self._base[0]), 1),
                             "baseline_p95_ms": round(math.expm1(self._base[2]), 1),
                             "z": round(z, 2), "alarm_at": round(at, 2),
                             "windows": self._streak, "calls": window.n})
        self.learn_one(window)
        return found
