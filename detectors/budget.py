"""Hard budgets: spend per series per calendar period (UTC day or hour), remaining budget in evidence.

Fires as soon as the spend so far in the period crosses a severity threshold (a fraction of ``limit``,
default 80 % → warning, 100 % → critical), once per level per period; it needs no baseline.

"Once per period" holds whatever order the windows are judged in: a period's window is judged early
(partial) while it is the newest, and once more when it closes — which can be after the next period's
window has opened and fired (an event in the first ``lateness_s`` of the next period). So the highest
level reported is kept per period until that period's window closes (``_levels``: ``[[period start,
rank], ...]`` of the open periods that fired, ``None`` when there are none), not only for the newest one.

Absolute limits are opt-in: the shipped ``detectors/config.yaml`` carries budgets with ``enabled: false``
(what a healthy app spends is not known in advance; see docs/detectors.md).

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
>>> nxt = BucketSummary.make("user_budget|user_id=u1", 86400.0, n=1, total=9.0, t_last=86401.0)
>>> d.update(nxt, partial=True).severity      # the next day opens (and fires) before this one closes
'warning'
>>> d.update(w) is None                      # closing the first day reports nothing again
True
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
    __slots__ = ("_levels",)
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
        # [[period start, rank of the highest severity reported]] for periods whose window is still open
        # and has fired; None when there are none (most series: nothing allocated)
        self._levels: list[list] | None = None

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        # snapshots before 2027-01 kept only the newest period: "_period" and "_fired" (-1: nothing yet)
        if "_levels" not in state and state.get("_fired", -1) >= 0 and "_period" in state:
            self._levels = [[state["_period"], state["_fired"]]]

    fold = fold_measure

    def score_one(self, window: BucketSummary) -> float:
        return window.total / self.limit if self.limit > 0 else float("inf")

    def learn_one(self, window: BucketSummary) -> None:
        self._windows += 1

    def _reported(self, start: float) -> int:
        """Rank of the highest severity already reported for the period starting at ``start`` (-1: none)."""
        for period, rank in self._levels or ():
            if period == start:
                return rank
        return -1

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        start = window.bucket_start
        score = self.score_one(window)
        reached = max((SEVERITY_RANK[s] for s, at in self.severity.items() if score >= at), default=-1)
        found = None
        if reached > self._reported(start) and window.n >= self.min_volume:
            remaining = max(self.limit - window.total, 0.0)
            found = self.finding(
                window, score=score, observed=window.total, baseline=self.limit,
                summary=f"{score:.0%} of the {ADJ[self.period]} budget of {self.limit:g} spent "
                        f"({remaining:.4g} left)",
                details={"measure": self.measure, "limit": self.limit, "spent": round(window.total, 6),
                         "remaining": round(remaining, 6), "period": self.period,
                         "period_start": start, "period_end": start + self.window_s})
        if partial:  # the period stays open: remember what it reported
            if found is not None:
                self._levels = [lv for lv in self._levels or () if lv[0] != start] + [[start, reached]]
        else:  # the period's window is closed and is never judged again
            if self._levels is not None:
                self._levels = [lv for lv in self._levels if lv[0] != start] or None
            self.learn_one(window)
        return found
