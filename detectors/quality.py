"""Quality regressions per prompt, attributed to the prompt version that introduced them.

The series is a prompt (``prompt_id``, optionally with ``app``); each bucket counts calls and *bad*
calls per ``prompt_version`` — a call is bad when it carries one of ``flags`` (``hallucination``,
``negative_feedback``) or a score below its threshold in ``low_scores`` (e.g. ``{groundedness: 0.5}``).

A new version's predecessor is the version that was serving most recently when it appeared (after a
rollback, the restored one). When a version has ``min_volume`` calls, its bad rate is compared with its
predecessor's; a regression (significant at ``z``, and ``ratio`` and ``min_increase`` met) names that
version in ``target.prompt_version`` and the previous one in the evidence, which is what a rollback acts
on. Within the newest version, each closed window with at least ``min_window_calls`` calls of it is
compared with the rest of that version, for a later degradation (``cause: drift``).

Significance is a one-sided exact test (Fisher's, ``fisher_greater``): the p-value must be at most
that of ``z`` standard deviations (``z: 3`` → 0.00135). Bad calls are rare (1-2 %), so a window of a few
hundred calls expects a handful of them; the normal approximation (a z-score) is far too eager there —
7 bad of 229 calls against a 1 % rate is "z = 3.1" but happens by chance in about one window of 110.
The drift test runs on every window, ``86400 / window_s`` times a day per prompt, so its level is that
of ``z`` divided by the windows in a day (Bonferroni): at most about one false drift per prompt in
1 / 0.00135 ≈ 740 days at ``z: 3``. (Until issue 10, river's ``DDM`` picked the windows to test; at bad
rates of a few percent it flagged nearly every window, and after its reset never a real drift.)

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = QualityRegression("quality", "prompt_id", min_volume=100)
>>> def window(i, version, calls, bad):
...     return BucketSummary.make("quality|prompt_id=support", i * 300.0, n=calls, bad=bad,
...                               versions={version: [calls, bad, i * 300.0]}, t_last=i * 300.0 + 299,
...                               target={"prompt_id": "support"})
>>> [d.update(window(i, "3", 50, 1)) for i in range(6)].count(None)
6
>>> d.update(window(6, "4", 60, 9)) is None       # too few calls of version 4 yet
True
>>> f = d.update(window(7, "4", 60, 8))
>>> f.target.prompt_id, f.target.prompt_version, f.evidence.details["previous_version"]
('support', '4', '3')

The exact test on small counts (7 bad of 229 against 600 of 60,000, i.e. 1 %):

>>> round(fisher_greater(7, 229, 600, 60_000), 4), round(fisher_greater(12, 229, 600, 60_000), 7)
(0.009, 4.8e-06)
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

from detectors.base import EMPTY, BucketSummary, Detector
from detectors.finding import Finding

_NORMAL = NormalDist()


def fisher_greater(bad: int, calls: int, ref_bad: int, ref_calls: int) -> float:
    """One-sided p-value that ``bad`` of ``calls`` is a higher rate than ``ref_bad`` of ``ref_calls``:
    Fisher's exact test, P(X >= bad) for X hypergeometric (all bad calls spread over both groups at
    random). ``1.0`` when the rate is not above the pooled one (the test is one-sided)."""
    total, k_all = calls + ref_calls, bad + ref_bad
    if calls <= 0 or bad <= 0 or bad * total <= calls * k_all:
        return 1.0
    from scipy.stats import hypergeom  # scipy comes with river; imported here: scipy.stats takes ~1 s at start

    return float(hypergeom.sf(bad - 1, total, k_all, calls))


def z_of(p_value: float) -> float:
    """The one-sided p-value as standard deviations (what ``z`` is compared with in the evidence)."""
    return -_NORMAL.inv_cdf(min(max(p_value, 1e-300), 0.5))


class QualityRegression(Detector):
    __slots__ = ("_versions",)
    kind = "quality"
    params = {"flags": ["hallucination", "negative_feedback"], "low_scores": {}, "z": 3.0, "ratio": 1.5,
              "min_increase": 0.02, "prior_rate": 0.01, "drift": True, "max_versions": 4,
              "min_window_calls": 100}
    defaults = {"window_s": 300.0, "warmup": 0, "min_volume": 200, "cooldown_s": 3600.0,
                "severity": {"warning": 1.5, "critical": 3.0}}
    target_fields = ("app",)

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        super().configure(_flagset=frozenset(self.flags), _low_scores=tuple(self.low_scores.items()),
                          _alpha=_NORMAL.cdf(-self.z),
                          _drift_alpha=_NORMAL.cdf(-self.z) / max(86400.0 / self.window_s, 1.0))

    def reset(self) -> None:
        super().reset()
        # [version, calls, bad, first seen, reported, predecessor, last seen]
        self._versions: list[list] = []

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:
        bad = 0
        flags = event.flags
        if flags:
            flagset = self._flagset
            for flag in flags:
                if flag in flagset:
                    c = s.counts if s.counts is not EMPTY else s.writable("counts")
                    c[flag] = c.get(flag, 0) + 1
                    bad = 1
        if self._low_scores:
            scores = event.scores
            for name, below in self._low_scores:
                v = scores.get(name)
                if v is not None and v < below:
                    c = s.counts if s.counts is not EMPTY else s.writable("counts")
                    c["low:" + name] = c.get("low:" + name, 0) + 1
                    bad = 1
        version = event.prompt_version or "-"
        rec = s.versions.get(version)
        if rec is None:
            s.writable("versions")[version] = [1, bad, t]
        else:
            rec[0] += 1
            rec[1] += bad
        s.n += 1
        s.bad += bad
        s.see(t, event.trace_id, float(bad))

    # ---- judgement ---------------------------------------------------------------------------------

    def _test(self, cur: list, prev: list) -> tuple[float, float, float, float]:
        """(ratio, p_new, p_old, p-value) for version record ``cur`` against ``prev``."""
        n1, b1, n0, b0 = cur[1], cur[2], prev[1], prev[2]
        p1, p0 = b1 / n1, b0 / n0
        ratio = p1 / max(p0, self.prior_rate)
        if ratio < self.ratio or p1 - p0 < self.min_increase:  # not a regression: skip the exact test
            return ratio, p1, p0, 1.0
        return ratio, p1, p0, fisher_greater(b1, n1, b0, n0)

    def _merged(self, window: BucketSummary) -> list[list]:
        """Version records with this window added; a new version's predecessor is the version that was
        serving most recently when it appeared (after a rollback that is the restored one)."""
        versions = [list(v) for v in self._versions]
        index = {v[0]: v for v in versions}
        new = []
        for name, (n, bad, first) in sorted(window.versions.items(), key=lambda kv: (kv[1][2], kv[0])):
            rec = index.get(name)
            if rec is None:
                new.append((name, n, bad, first))
            else:
                rec[1] += n
                rec[2] += bad
                rec[6] = max(rec[6], window.t_last)
        for name, n, bad, first in new:
            prev = max(versions, key=lambda v: (v[6], v[1]))[0] if versions else None
            rec = [name, n, bad, first, 0, prev, window.t_last]
            versions.append(rec)
            index[name] = rec
        return versions[-self.max_versions:]

    def _pairs(self, versions: list[list]) -> list[tuple[list, list]]:
        index = {v[0]: v for v in versions}
        return [(index[v[5]], v) for v in versions if v[5] in index]

    def score_one(self, window: BucketSummary) -> float:
        versions = self._merged(window)
        best = 0.0
        for prev, cur in self._pairs(versions):
            if cur[1] >= self.min_volume and prev[1] >= self.min_volume:
                best = max(best, self._test(cur, prev)[0])
        return best

    def learn_one(self, window: BucketSummary) -> None:
        self._versions = self._merged(window)
        self._windows += 1

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        if partial:
            return None
        self.learn_one(window)
        found = None
        for prev, cur in self._pairs(self._versions):
            if cur[4] or cur[1] < self.min_volume or prev[1] < self.min_volume:
                continue
            ratio, p1, p0, p_value = self._test(cur, prev)
            if p_value <= self._alpha:  # only a regression (ratio, min_increase) gets the exact test
                cur[4] = 1
                if not self.cooling(window.t_last):
                    found = self.finding(
                        window, score=ratio, observed=p1, baseline=p0, window_s=window.t_last - cur[3],
                        summary=f"prompt version {cur[0]}: {p1:.1%} bad calls vs {p0:.1%} in version {prev[0]}",
                        target={"prompt_version": cur[0]},
                        details={"cause": "version", "version": cur[0], "previous_version": prev[0],
                                 "calls": cur[1], "bad": cur[2], "previous_calls": prev[1],
                                 "previous_bad": prev[2], "z": round(z_of(p_value), 2),
                                 "p_value": float(f"{p_value:.3g}"),
                                 "reasons": dict(sorted(window.counts.items()))},
                        labels={"prompt_version": cur[0], "previous_version": prev[0]})
        if self.drift and found is None and self._versions and self._versions[-1][0] in window.versions:
            found = self._drift(window)
        return found

    def _drift(self, window: BucketSummary) -> Finding | None:
        """The window's bad count of the newest version against the rest of that version (exact,
        one-sided, at the per-window level). A small window — the last, partial one of a replay, a quiet
        hour — needs ``min_window_calls`` calls, and then a handful of bad calls is not significant."""
        newest = self._versions[-1]
        n, bad, _ = window.versions[newest[0]]
        ref_n, ref_bad = newest[1] - n, newest[2] - bad  # the version before this window
        if n < max(self.min_window_calls, 1) or ref_n < self.min_volume or self.cooling(window.t_last):
            return None
        window_rate, rate = bad / n, ref_bad / ref_n
        floor = max(rate, self.prior_rate)
        if window_rate < self.ratio * floor or window_rate - rate < self.min_increase:
            return None
        p_value = fisher_greater(bad, n, ref_bad, ref_n)
        if p_value > self._drift_alpha:
            return None
        return self.finding(
            window, score=window_rate / floor, observed=window_rate, baseline=rate,
            summary=f"prompt version {newest[0]}: bad-call rate drifted up to {window_rate:.1%} "
                    f"(version average {rate:.1%})",
            target={"prompt_version": newest[0]},
            details={"cause": "drift", "version": newest[0], "calls": n, "bad": bad, "z": round(z_of(p_value), 2),
                     "p_value": float(f"{p_value:.3g}"), "reasons": dict(sorted(window.counts.items()))},
            labels={"prompt_version": newest[0]})
