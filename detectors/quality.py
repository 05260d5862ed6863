"""Quality regressions per prompt, attributed to the prompt version that introduced them.

The series is a prompt (``prompt_id``, optionally with ``app``); each bucket counts calls and *bad*
calls per ``prompt_version`` — a call is bad when it carries one of ``flags`` (``hallucination``,
``negative_feedback``) or a score below its threshold in ``low_scores`` (e.g. ``{groundedness: 0.5}``).

A new version's predecessor is the version that was serving most recently when it appeared (after a
rollback, the restored one). When a version has ``min_volume`` calls, its bad rate is compared with its
predecessor's by a two-proportion z-test; a regression (``z``, ``ratio`` and
``min_increase`` all met) names that version in ``target.prompt_version`` and the previous one in the
evidence, which is what a rollback acts on. Inside the newest version, river's ``DDM`` drift detector
watches the bad rate for a later degradation (``cause: drift``).

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
"""

from __future__ import annotations

import math
from typing import Any

from river.drift.binary import DDM

from detectors.base import EMPTY, BucketSummary, Detector
from detectors.finding import Finding

DDM_FEED_MAX = 400  # calls fed to the drift detector per window (counts are scaled down beyond)


class QualityRegression(Detector):
    __slots__ = ("_versions", "_ddm")
    kind = "quality"
    params = {"flags": ["hallucination", "negative_feedback"], "low_scores": {}, "z": 3.0, "ratio": 1.5,
              "min_increase": 0.02, "prior_rate": 0.01, "drift": True, "max_versions": 4}
    defaults = {"window_s": 300.0, "warmup": 0, "min_volume": 200, "cooldown_s": 3600.0,
                "severity": {"warning": 1.5, "critical": 3.0}}
    target_fields = ("app",)

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        super().configure(_flagset=frozenset(self.flags), _low_scores=tuple(self.low_scores.items()))

    def reset(self) -> None:
        super().reset()
        # [version, calls, bad, first seen, reported, predecessor, last seen]
        self._versions: list[list] = []
        self._ddm: list = []  # [version, n, mean, p_min, s_min, ps_min] of the newest version

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
        """(ratio, z, p_new, p_old) for version record ``cur`` against ``prev``."""
        n1, b1, n0, b0 = cur[1], cur[2], prev[1], prev[2]
        p1, p0 = b1 / n1, b0 / n0
        pooled = (b0 + b1) / (n0 + n1)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n0 + 1 / n1))
        return p1 / max(p0, self.prior_rate), (p1 - p0) / se, p1, p0

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

    def _feed_ddm(self, window: BucketSummary) -> bool:
        """Feed the newest version's calls of this window to DDM; True when it detects drift."""
        newest = self._versions[-1][0]
        if newest not in window.versions:
            return False
        if not self._ddm or self._ddm[0] != newest:
            self._ddm = [newest, 0.0, 0.0, None, None, 1e18]
        ddm = DDM()
        _, ddm._p.n, ddm._p._mean, ddm._p_min, ddm._s_min, ddm._ps_min = self._ddm
        n, bad, _ = window.versions[newest]
        if n > DDM_FEED_MAX:
            n, bad = DDM_FEED_MAX, round(bad * DDM_FEED_MAX / n)
        drift = False
        for i in range(n):  # spread the bad calls evenly through the window
            ddm.update(int((i + 1) * bad // n > i * bad // n))
            drift = drift or ddm.drift_detected
        if drift:
            self._ddm = [newest, 0.0, 0.0, None, None, 1e18]
        else:
            self._ddm = [newest, ddm._p.n, ddm._p.get(), ddm._p_min, ddm._s_min, ddm._ps_min]
        return drift

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        if partial:
            return None
        self.learn_one(window)
        found = None
        for prev, cur in self._pairs(self._versions):
            if cur[4] or cur[1] < self.min_volume or prev[1] < self.min_volume:
                continue
            ratio, z, p1, p0 = self._test(cur, prev)
            if z >= self.z and ratio >= self.ratio and p1 - p0 >= self.min_increase:
                cur[4] = 1
                if not self.cooling(window.t_last):
                    found = self.finding(
                        window, score=ratio, observed=p1, baseline=p0, window_s=window.t_last - cur[3],
                        summary=f"prompt version {cur[0]}: {p1:.1%} bad calls vs {p0:.1%} in version {prev[0]}",
                        target={"prompt_version": cur[0]},
                        details={"cause": "version", "version": cur[0], "previous_version": prev[0],
                                 "calls": cur[1], "bad": cur[2], "previous_calls": prev[1],
                                 "previous_bad": prev[2], "z": round(z, 2),
                                 "reasons": dict(sorted(window.counts.items()))},
                        labels={"prompt_version": cur[0], "previous_version": prev[0]})
        if self.drift and self._versions and self._feed_ddm(window) and found is None:
            # DDM flags candidates; a binomial test against the version's own rate confirms them
            newest = self._versions[-1]
            rate = max(newest[2] / max(newest[1], 1), self.prior_rate)
            window_rate = window.versions.get(newest[0], [0, 0])[1] / max(window.versions.get(newest[0], [1])[0], 1)
            n = window.versions.get(newest[0], [0])[0]
            z = (window_rate - rate) / math.sqrt(rate * (1 - rate) / max(n, 1))
            if (newest[1] >= self.min_volume and z >= self.z and window_rate >= self.ratio * rate
                    and window_rate - rate >= self.min_increase and not self.cooling(window.t_last)):
                found = self.finding(
                    window, score=window_rate / max(rate, self.prior_rate), observed=window_rate, baseline=rate,
                    summary=f"prompt version {newest[0]}: bad-call rate drifted up to {window_rate:.1%} "
                            f"(version average {rate:.1%})",
                    target={"prompt_version": newest[0]},
                    details={"cause": "drift", "version": newest[0], "calls": n, "z": round(z, 2),
                             "reasons": dict(sorted(window.counts.items()))},
                    labels={"prompt_version": newest[0]})
        return found
