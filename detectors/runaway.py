"""Runaway loops: requests or tokens per session per minute far above what a person or a sane agent does.

The rate is a sliding-window estimate (the previous window weighted by how much of it still overlaps,
plus the current one), judged on every partial window so that a loop fires within one bucket of
crossing the limit. The score is the rate as a multiple of the limit (``1.0`` = at the limit).

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = Runaway("runaway", "session_id", max_requests_per_min=30)
>>> d.update(BucketSummary.make("runaway|session_id=s", 0.0, n=20, total=4000.0, t_last=59.0)) is None
True
>>> f = d.update(BucketSummary.make("runaway|session_id=s", 60.0, n=25, total=5000.0, t_last=70.0),
...              partial=True)
>>> f.kind, f.summary
('runaway', '42 requests and 8333 tokens in the last 60s (1.4x the limit)')
"""

from __future__ import annotations

from typing import Any

from detectors.base import BucketSummary, Detector
from detectors.finding import Finding


class SlidingCount(Detector):
    """Shared by the rate-limit detectors: a sliding-window count over two tumbling windows."""

    # start, count and total of the last closed window (one per session: slots, not a list); the
    # snapshot keeps them as "_prev": [start, count, total]
    __slots__ = ("_prev_start", "_prev_n", "_prev_total")

    def reset(self) -> None:
        super().reset()
        self._prev_start, self._prev_n, self._prev_total = -1.0, 0, 0.0

    def state(self) -> dict[str, Any]:
        state = super().state()
        del state["_prev_start"], state["_prev_n"], state["_prev_total"]
        state["_prev"] = [self._prev_start, self._prev_n, self._prev_total]
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        if "_prev" in state:
            self._prev_start, self._prev_n, self._prev_total = state["_prev"]

    def _sliding(self, w: BucketSummary) -> tuple[float, float]:
        if self._prev_start != w.bucket_start - self.window_s:
            return float(w.n), w.total
        elapsed = min(max(w.t_last - w.bucket_start, 0.0), self.window_s)
        keep = 1.0 - elapsed / self.window_s
        return w.n + keep * self._prev_n, w.total + keep * self._prev_total

    def learn_one(self, window: BucketSummary) -> None:
        self._prev_start, self._prev_n, self._prev_total = window.bucket_start, window.n, window.total
        self._windows += 1


class Runaway(SlidingCount):
    __slots__ = ()
    kind = "runaway"
    early = True
    params = {"max_requests_per_min": 60.0, "max_tokens_per_min": 200_000.0}
    defaults = {"window_s": 60.0, "warmup": 0, "min_volume": 1, "cooldown_s": 300.0,
                "severity": {"warning": 1.0, "critical": 3.0}}
    target_fields = ("user_id", "session_id", "app", "feature")

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:
        # event.total_tokens, inlined (hot path): 0 when neither count is known
        tokens = (event.input_tokens or 0) + (event.output_tokens or 0)
        s.n += 1
        s.total += tokens
        s.see(t, event.trace_id, tokens)

    def score_one(self, window: BucketSummary) -> float:
        n, tokens = self._sliding(window)
        per_min = 60.0 / self.window_s
        return max(n * per_min / self.max_requests_per_min, tokens * per_min / self.max_tokens_per_min)

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        found = None
        if window.n >= self.min_volume and not self.cooling(window.t_last):
            score = self.score_one(window)
            if score >= 1.0:
                n, tokens = self._sliding(window)
                found = self.finding(
                    window, score=score, observed=n, baseline=self.max_requests_per_min * self.window_s / 60,
                    summary=f"{n:.0f} requests and {tokens:.0f} tokens in the last {self.window_s:.0f}s "
                            f"({score:.1f}x the limit)",
                    details={"requests": round(n, 3), "tokens": round(tokens, 3),
                             "max_requests_per_min": self.max_requests_per_min,
                             "max_tokens_per_min": self.max_tokens_per_min})
        if not partial:
            self.learn_one(window)
        return found
