"""Error and timeout rate surges per model / provider.

The baseline rate is the ratio of two exponentially weighted sums (failed calls / calls), floored at
``min_rate``. A window (or a partial window, once it holds ``min_volume`` calls) surges when its rate is
``ratio`` times the baseline, ``min_increase`` above it in absolute terms, above it by the series'
calibrated threshold in binomial standard errors (at least ``z``; ``detectors.calibration``), and holds
at least ``min_failed`` failures — so a handful of failures in a quiet minute does not page, a real
outage does at once.

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = ErrorSurge("errors", warmup=5, min_volume=20)
>>> def window(i, failed, n=100):
...     return BucketSummary.make("errors|model=m", i * 60.0, n=n, bad=failed,
...                               counts={"error": failed}, t_last=i * 60.0 + 59)
>>> [d.update(window(i, i % 2)) for i in range(20)].count(None)
20
>>> d.update(window(20, 4)) is None       # a few more failures than usual: not a surge
True
>>> f = d.update(window(21, 9, n=30), partial=True)
>>> f.summary
'30% of 30 calls failed (baseline 1.0%)'
"""

from __future__ import annotations

import math
from typing import Any

from detectors.base import BucketSummary, ew_alpha
from detectors.calibration import Calibrated
from detectors.finding import Finding

MAX_REASONS = 8


class ErrorSurge(Calibrated):
    __slots__ = ("_calls", "_failed")
    kind = "errors"
    early = True
    params = {"false_alarms_per_week": 1.0, "z": 4.0, "ratio": 3.0, "min_rate": 0.01, "min_increase": 0.05,
              "min_failed": 5, "half_life_s": 3600.0}
    defaults = {"window_s": 60.0, "warmup": 15, "min_volume": 20, "cooldown_s": 900.0,
                "severity": {"warning": 3.0, "critical": 10.0}}
    target_fields = ("model", "provider")

    def reset(self) -> None:
        super().reset()
        self._calls = 0.0  # exponentially weighted calls per window
        self._failed = 0.0  # exponentially weighted failed calls per window

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:
        s.n += 1
        status = event.status
        if status != "ok":
            s.bad += 1
            c = s.writable("counts")
            c[status] = c.get(status, 0) + 1
            et = event.error_type
            if et and (et in c or len(c) < MAX_REASONS):
                c["type:" + et] = c.get("type:" + et, 0) + 1
        s.see(t, event.trace_id, 0.0 if status == "ok" else 1.0)

    def baseline(self) -> float:
        return max(self._failed / self._calls if self._calls > 0 else 0.0, self.min_rate)

    def score_one(self, window: BucketSummary) -> float:
        return (window.bad / window.n) / self.baseline() if window.n else 0.0

    def learn_one(self, window: BucketSummary) -> None:
        if window.n:
            a = ew_alpha(self.window_s, self.half_life_s)
            if self._windows == 0:
                self._calls, self._failed = float(window.n), float(window.bad)
            else:
                # a surge teaches the baseline at most the surge threshold
                failed = min(window.bad, window.n * self.baseline() * self.ratio)
                self._calls += a * (window.n - self._calls)
                self._failed += a * (failed - self._failed)
            self._windows += 1

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        found = None
        judged = self._windows >= self.warmup and window.n >= self.min_volume
        if judged:
            p0, p = self.baseline(), window.bad / window.n
            z = (p - p0) / math.sqrt(p0 * (1 - p0) / window.n)
            limit = self.alarm_at()
            if not partial:
                self.learn_score(z, limit)
        if judged and not self.cooling(window.t_last):
            if (p >= self.ratio * p0 and p - p0 >= self.min_increase and z >= limit
                    and window.bad >= self.min_failed):
                found = self.finding(
                    window, score=p / p0, observed=p, baseline=p0,
                    window_s=max(window.t_last - window.bucket_start, 0.0) if partial else None,
                    summary=f"{p:.0%} of {window.n} calls failed (baseline {p0:.1%})",
                    details={"calls": window.n, "failed": window.bad, "z": round(z, 2),
                             "alarm_at": round(limit, 2),
                             "by_reason": dict(sorted(window.counts.items())), "partial": partial})
        if not partial:
            self.learn_one(window)
        return found
