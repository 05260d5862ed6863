"""Prompt-injection attempt rate per user or session: the finding meant for blocking.

The suite folds one count per event that the per-event injection detector flagged (see
``detectors.injection``); this detector fires when a subject reaches ``min_hits`` attempts within a
sliding ``window_s``. Its target names the user and session so that a runbook can block them.

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = InjectionRate("injection_attempts_user", "user_id", min_hits=3)
>>> d.update(BucketSummary.make("injection_attempts_user|user_id=u", 0.0, n=2, t_last=30.0,
...                             target={"user_id": "u"}), partial=True) is None
True
>>> f = d.update(BucketSummary.make("injection_attempts_user|user_id=u", 0.0, n=3, t_last=40.0,
...                                 target={"user_id": "u"}), partial=True)
>>> f.kind, f.target.user_id, f.evidence.observed
('injection', 'u', 3.0)
"""

from __future__ import annotations

from typing import Any

from detectors.base import BucketSummary
from detectors.finding import Finding
from detectors.runaway import SlidingCount


class InjectionRate(SlidingCount):
    __slots__ = ()
    kind = "injection"
    early = True
    params = {"min_hits": 3}
    defaults = {"window_s": 600.0, "warmup": 0, "min_volume": 1, "cooldown_s": 600.0,
                "severity": {"warning": 3.0, "critical": 10.0}}
    target_fields = ("user_id", "session_id")

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:
        """Called only for events the injection detector flagged."""
        s.n += 1
        s.bad += 1
        s.see(t, event.trace_id, 1.0)

    def score_one(self, window: BucketSummary) -> float:
        return self._sliding(window)[0]

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        found = None
        if window.n >= self.min_volume and not self.cooling(window.t_last):
            hits = self.score_one(window)
            if hits >= self.min_hits:
                found = self.finding(
                    window, score=hits, observed=hits, baseline=float(self.min_hits),
                    summary=f"{hits:.0f} prompt-injection attempts in the last {self.window_s:.0f}s",
                    details={"min_hits": self.min_hits}, labels={"action": "block"})
        if not partial:
            self.learn_one(window)
        return found
