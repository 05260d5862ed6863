"""Hard budgets: spend per series per calendar period (UTC day or hour), remaining budget in evidence.

Fires as soon as the spend so far in the period crosses a severity threshold (a fraction of ``limit``,
default 80 % → warning, 100 % → critical), once per level per period; it needs no baseline.

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = Budget("user_budget", "user_id", limit=10.0, period="day")
>>> w = BucketSummary.make("user_budget|user_id=u1", 0.0, n=3, total=8.5, t_last=3600.0)
>>> f = d.update(w, partial=True)
>>> f.severity, f.evidence.details["remaining"]
('warning', 1.5)
>>> d.update(w, partial=True) is None        # the same level fires once per period
True
>>> w.total = 10.2
>>> d.update(w, partial=True).severity
'critical'
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from detectors.base import BucketSummary, Detector
from detectors.cost import fold_measure
from detectors.finding import SEVERITY_RANK, Finding

PERIODS = {"hour": 3600.0, "day": 86400.0}
ADJ = {"hour": "hourly", "day": "daily"}


class Budget(Detector):
    __slots__ = ("_period", "_fired")
    kind = "budget"
    early = True
    params = {"limit": 100.0, "period": "day", "measure": "cost_usd"}
    defaults = {"warmup": 0, "min_volume": 1, "cooldown_s": 0.0,
                "severity": {"warning": 0.8, "critical": 1.0}}
    # Only the series' own fields (e.g. user_id for a per-user budget): a per-feature budget must not
    # name whichever user happened to be first in the bucket, or a runbook would block a bystander.
    target_fields = ()

    def __init__(self, name: str, series: str = "user_id", **kwargs: Any) -> None:
        super().__init__(name, series, **kwargs)

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        if self.period not in PERIODS:
            raise ValueError(f"period must be one of {sorted(PERIODS)}, not {self.period!r}")
        super().configure(window_s=PERIODS[self.period], _measure_of=attrgetter(self.measure))

    def reset(self) -> None:
        super().reset()
        self._period = -1.0  # start of the period the fired level belongs to
        self._fired = -1  # rank of the highest severity already reported in that period

    fold = fold_measure

    def score_one(self, window: BucketSummary) -> float:
        return window.total / self.limit if self.limit > 0 else float("inf")

    def learn_one(self, window: BucketSummary) -> None:
        self._windows += 1

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        if window.bucket_start != self._period:
            self._period, self._fired = window.bucket_start, -1
        score = self.score_one(window)
        reached = [SEVERITY_RANK[s] for s, at in self.severity.items() if score >= at]
        found = None
        if reached and max(reached) > self._fired and window.n >= self.min_volume:
            self._fired = max(reached)
            remaining = max(self.limit - window.total, 0.0)
            found = self.finding(
                window, score=score, observed=window.total, baseline=self.limit,
                summary=f"{score:.0%} of the {ADJ[self.period]} budget of {self.limit:g} spent "
                        f"({remaining:.4g} left)",
                details={"measure": self.measure, "limit": self.limit, "spent": round(window.total, 6),
                         "remaining": round(remaining, 6), "period": self.period,
                         "period_start": window.bucket_start,
                         "period_end": window.bucket_start + self.window_s})
        if not partial:
            self.learn_one(window)
        return found
