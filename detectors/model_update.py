"""Provider model updates per requested model (and provider): announced and silent.

A provider can change the model behind a name. Sometimes it says so: the response names the model that
answered (``response_model``, OTLP ``gen_ai.response.model``), and a new value appears there. Sometimes
it does not, and only the behaviour shows it. This detector finds both, per series (by default
``model/provider?``):

- **announced** — a served model never established for this series answers at least ``share`` of the
  calls of the last ``recent_windows`` windows (and at least ``min_calls`` of them). A served model is
  *established* once it has answered that share (silently while the series warms up); the last
  ``max_models`` established ones are remembered, so a rollback to one of them is not news, nor is a
  canary that stays below ``share``.
- **silent** — the behaviour shifts at once on several signals, a change-point across signals rather
  than a threshold per signal. Each closed window adds per-call sums of five signals in four families:
  *length* (log output tokens), *speed* (log latency per output token), *failures* (failed or refused
  calls) and *quality* (calls carrying one of ``flags``; the mean of the eval ``scores``). The last
  ``recent_windows`` windows (the recent span) are compared with a reference learned from the windows
  before them (exponentially weighted, ``half_life_s``; it never contains the span it judges), per
  signal as a z: the difference of means over its standard error, which is the per-call variance over
  the span's calls plus the reference's own window-to-window variance beyond sampling (so a series whose
  mix wanders is judged by how much it wanders). The window's score is the **second-largest** family z:
  it is high only when at least two families moved. It alarms at the series' calibrated threshold
  (``detectors.calibration``, as cost and latency do: ``false_alarms_per_week``, ``z`` as a floor),
  and then only when at least ``min_signals`` families also moved by a size that matters
  (``min_change`` relative for means, ``rate_ratio`` and ``min_increase`` for rates) in *every* window
  of the span: a shift that lasts, not a burst (an outage's errors and slow calls are the errors and
  latency detectors' to report).

One finding per change: afterwards the detector waits for ``recent_windows`` windows and then takes the
new behaviour (and the new served model) as its reference, so a change is reported once and a later
change against the new normal. A gradual drift moves the reference with it and never makes a step of
``min_change`` between the recent span and the hour before it.

Findings carry ``details.cause`` (``announced`` / ``silent``), the served models before and after, and
per signal its figure before and after (output tokens and latency per token as geometric means), the
z and whether it moved. ``details.prompts`` compares old and new per prompt (``prompt_id``, the
``MAX_PROMPTS`` busiest): bad-call rate (calls with one of ``flags``) and mean score before and after,
the one-sided exact test's p-value in the direction seen (``detectors.quality.fisher_greater``) and a
verdict (``worse`` / ``better`` at ``PROMPT_Z``, else ``same``). Announced: the established served
models' calls (reference and recent span) against the new ones' in the recent span; silent: the
reference against the recent span.

Examples
--------
>>> from detectors.base import BucketSummary
>>> d = ModelUpdate("model_update", "model", warmup=4, recent_windows=2)
>>> def window(i, served, out=200.0, flagged=2, n=200):
...     import math
...     lo = math.log(out)
...     return BucketSummary.make(
...         "model_update|model=gpt-4o", i * 300.0, n=n, t_last=i * 300.0 + 299,
...         target={"model": "gpt-4o"}, versions={name: [c, 0, i * 300.0] for name, c in served.items()},
...         counts={"o": n, "o1": n * lo, "o2": n * (lo * lo + 0.36), "g": flagged + i % 2})
>>> [d.update(window(i, {"gpt-4o-2024-08-06": 200})) for i in range(10)].count(None)
10
>>> d.update(window(10, {"gpt-4o-2024-08-06": 190, "gpt-4o-2024-11-20": 10})) is None   # a canary
True
>>> f = d.update(window(11, {"gpt-4o-2024-08-06": 60, "gpt-4o-2024-11-20": 140}))
>>> f.kind, f.labels["cause"], f.labels["served_model"], f.evidence.details["served_before"]
('model_update', 'announced', 'gpt-4o-2024-11-20', ['gpt-4o-2024-08-06'])

A silent change: shorter answers and three times the flagged calls, the served model unchanged.

>>> d = ModelUpdate("model_update", "model", warmup=4, recent_windows=2, z=3.0)
>>> found = [d.update(window(i, {"m1": 200})) for i in range(40)]
>>> found += [d.update(window(i, {"m1": 200}, out=120.0, flagged=12)) for i in range(40, 44)]
>>> [f.labels["cause"] for f in found if f]
['silent']
>>> f = [f for f in found if f][0]
>>> {k: (v["before"], v["after"]) for k, v in f.evidence.details["signals"].items() if v["moved"]}
{'output_tokens': (200.0, 120.0), 'flagged': (0.01232, 0.0625)}
"""

from __future__ import annotations

import math
from typing import Any

from detectors.base import EMPTY, BucketSummary, ew_alpha
from detectors.calibration import Calibrated
from detectors.finding import Finding
from detectors.quality import fisher_greater, z_of

#: served-model names are kept to this many characters, and this many per bucket and per window
MAX_NAME = 64
MAX_SERVED = 4
OTHER = "~other"
#: (signal, family, count key, sum key, sum of squares key or None for a rate); per-call sums in ``counts``
SIGNALS = (
    ("output_tokens", "length", "o", "o1", "o2"),
    ("latency_per_token", "speed", "l", "l1", "l2"),
    ("failed", "failures", "", "f", None),
    ("flagged", "quality", "", "g", None),
    ("score", "quality", "e", "e1", "e2"),
)
#: the order of a window's numbers: calls, then each signal's count (for a mean), sum and sum of squares
_KEYS = ("o", "o1", "o2", "l", "l1", "l2", "f", "g", "e", "e1", "e2")
#: a per-window mean of fewer calls says nothing on its own about persistence
MIN_WINDOW_CALLS = 30
#: the per-prompt comparison: prompts followed per series (the busiest), characters of a prompt id kept,
#: (prompt, served model) pairs per bucket, calls on each side before a prompt is compared, and the
#: significance of a difference in bad-call rate (the quality detector's: one-sided exact test at 3 sigma)
MAX_PROMPTS = 3
PROMPT_NAME = 32
MAX_PAIRS = 6
MIN_PROMPT_CALLS = 30
PROMPT_Z = 3.0
#: the prompt of calls without a ``prompt_id`` (or with an empty one)
UNNAMED = ""
_PROMPT_ALPHA = 0.5 * math.erfc(PROMPT_Z / math.sqrt(2.0))


def _round(x: float, digits: int = 7) -> float:
    return float(f"{x:.{digits}g}")


class ModelUpdate(Calibrated):
    __slots__ = ("_ref", "_ring", "_served", "_settle", "_pnames", "_pref")
    kind = "model_update"
    params = {"false_alarms_per_week": 1.0, "z": 4.0, "min_signals": 2, "recent_windows": 3,
              "half_life_s": 3600.0, "min_change": 0.1, "rate_ratio": 1.5, "min_increase": 0.01,
              "min_rate": 0.01, "share": 0.2, "min_calls": 20, "max_models": 4,
              "flags": ["hallucination", "negative_feedback", "refusal"], "scores": []}
    defaults = {"window_s": 300.0, "warmup": 12, "min_volume": 100, "cooldown_s": 3600.0,
                "severity": {"warning": 0.0}}
    target_fields = ("model", "provider")

    def configure(self, **config: Any) -> None:
        super().configure(**config)
        if "flags" in config:
            super().configure(_flagset=frozenset(self.flags), _score_names=tuple(self.scores))

    def reset(self) -> None:
        super().reset()
        self._ref: list[list[float]] = []  # per signal [calls, sum, sum of squares, between-window var]
        self._ring: list[list] = []  # the recent span: [[calls, *_KEYS sums], {served model: calls}]
        self._served: dict[str, float] = {}  # established served model -> last window it was seen
        self._settle = 0  # windows to wait after a finding before taking the new behaviour as reference
        # the per-prompt comparison: prompt names (slots), and per slot its reference [calls, bad calls,
        # scored calls, score sum] (decayed like the reference); a ring window's third element holds per
        # slot [slot, the four for established served models, the four for the others]
        self._pnames: list[str] = []
        self._pref: list[list[float]] = []

    # ---- per event --------------------------------------------------------------------------------

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:
        s.n += 1
        c = s.counts if s.counts is not EMPTY else s.writable("counts")
        served = event.response_model
        if served is not None:
            served = served[:MAX_NAME]
            rec = s.versions.get(served)
            if rec is not None:
                rec[0] += 1
            else:
                versions = s.writable("versions")
                if len(versions) >= MAX_SERVED:
                    served = OTHER
                rec = versions.get(served)
                if rec is None:
                    versions[served] = [1, 0, t]
                else:
                    rec[0] += 1
        flags = event.flags
        bad = 0.0
        if event.status != "ok" or (flags and "refusal" in flags):
            c["f"] = c.get("f", 0) + 1
            bad = 1.0
        else:
            out = event.output_tokens
            if out:
                x = math.log(out)
                c["o"] = c.get("o", 0) + 1
                c["o1"] = c.get("o1", 0.0) + x
                c["o2"] = c.get("o2", 0.0) + x * x
                latency = event.latency_ms
                if latency:
                    y = math.log(latency / out)
                    c["l"] = c.get("l", 0) + 1
                    c["l1"] = c.get("l1", 0.0) + y
                    c["l2"] = c.get("l2", 0.0) + y * y
        flagged = 0
        if flags:
            flagset = self._flagset
            for flag in flags:
                if flag in flagset:
                    c["g"] = c.get("g", 0) + 1
                    bad = 1.0
                    flagged = 1
                    break
        scores = event.scores
        m = None
        if scores:
            names = self._score_names
            values = [v for k, v in scores.items() if k in names] if names else list(scores.values())
            if values:
                m = sum(values) / len(values)
                c["e"] = c.get("e", 0) + 1
                c["e1"] = c.get("e1", 0.0) + m
                c["e2"] = c.get("e2", 0.0) + m * m
        # calls without a prompt_id are one unnamed prompt: compared old against new, never listed
        _fold_prompt(c, event.prompt_id or UNNAMED, served or "", flagged, m)
        s.see(t, event.trace_id, bad)

    # ---- windows --------------------------------------------------------------------------------------

    @staticmethod
    def _vector(window: BucketSummary) -> list:
        counts = window.counts
        sums = [window.n] + [_round(counts.get(k, 0)) for k in _KEYS]
        served = sorted(((c[0], name) for name, c in window.versions.items()), reverse=True)
        kept = {name: n for n, name in served[:MAX_SERVED]}
        rest = sum(n for n, _ in served[MAX_SERVED:])
        if rest:
            kept[OTHER] = kept.get(OTHER, 0) + rest
        return [sums, kept]

    @staticmethod
    def _signal(sums: list, i: int) -> tuple[float, float, float]:
        """(calls, sum, sum of squares) of signal ``i`` in a window's numbers."""
        _, _, count_key, sum_key, sq_key = SIGNALS[i]
        n = sums[1 + _KEYS.index(count_key)] if count_key else sums[0]
        s1 = sums[1 + _KEYS.index(sum_key)]
        s2 = sums[1 + _KEYS.index(sq_key)] if sq_key else s1
        return n, s1, s2

    def _reference(self, i: int) -> tuple[float, float, float] | None:
        """(mean, per-call variance, between-window variance) of signal ``i``'s reference."""
        if len(self._ref) <= i or self._ref[i][0] <= 0:
            return None
        n, s1, s2, between = self._ref[i]
        mean = s1 / n
        if SIGNALS[i][4] is None:  # a rate
            p = max(mean, self.min_rate)
            var = p * (1.0 - p)
        else:
            var = max(s2 / n - mean * mean, 1e-6)
        return mean, var, max(between, 0.0)

    def _learn_reference(self, sums: list) -> None:
        a = ew_alpha(self.window_s, self.half_life_s)
        if not self._ref:
            self._ref = [[0.0, 0.0, 0.0, 0.0] for _ in SIGNALS]
        for i in range(len(SIGNALS)):
            n, s1, s2 = self._signal(sums, i)
            ref = self._ref[i]
            if n <= 0:
                continue
            if ref[0] <= 0:
                ref[0], ref[1], ref[2] = float(n), float(s1), float(s2)
                continue
            mean, var, between = self._reference(i)
            d = s1 / n - mean
            # window-to-window variance beyond sampling, learned from deviations clipped at 3 of their
            # own (expected) deviations, so that an unreported change does not blow it up at once
            expected = var / n + between
            ref[3] = _round(ref[3] + a * ((min(d * d, 9.0 * expected) - var / n) - ref[3]))
            ref[0] = _round(ref[0] + a * (n - ref[0]))
            ref[1] = _round(ref[1] + a * (s1 - ref[1]))
            ref[2] = _round(ref[2] + a * (s2 - ref[2]))

    def _rebase(self) -> None:
        """Take the recent span as the new reference (after a change), keeping the learned wander."""
        k = len(self._ring)
        if not self._ref or not k:
            return
        for i in range(len(SIGNALS)):
            n = s1 = s2 = 0.0
            for sums, *_ in self._ring:
                a, b, c = self._signal(sums, i)
                n, s1, s2 = n + a, s1 + b, s2 + c
            if n > 0:
                self._ref[i][:3] = [_round(n / k), _round(s1 / k), _round(s2 / k)]
        pref: list[list[float]] = [[0.0, 0.0, 0.0, 0.0] for _ in self._pnames]
        for entry in self._ring:
            for part in (entry[2] if len(entry) > 2 else []):
                if part[0] < len(pref):
                    _add(pref[part[0]], part[1:5])
                    _add(pref[part[0]], part[5:9])
        self._pref = [[_round(x, 4) for x in ref] for ref in pref]

    # ---- the per-prompt comparison ------------------------------------------------------------------

    def _prompt_parts(self, window: BucketSummary) -> list[list]:
        """Per prompt of the window (the busiest, at most ``MAX_PROMPTS`` slots): [slot, calls, bad,
        scored, score sum of established served models (or none named), the same of the others]."""
        pairs: dict[str, list[float]] = {}
        for key, value in window.counts.items():
            if key[:1] != "q" or key[1:2] not in ("n", "b", "e", "s") or not value:
                continue
            parsed = _parse_pair(key[2:])
            if parsed is None:
                continue
            served, prompt = parsed
            part = pairs.setdefault(prompt, [0.0] * 8)
            offset = 0 if not served or served in self._served else 4
            part[offset + "nbes".index(key[1])] += value
        parts = []
        in_ring = {part[0] for entry in self._ring for part in (entry[2] if len(entry) > 2 else [])}
        for prompt, part in sorted(pairs.items(), key=lambda kv: (-(kv[1][0] + kv[1][4]), kv[0])):
            slot = self._slot(prompt, part[0] + part[4], in_ring)
            if slot is None:
                continue
            in_ring.add(slot)
            numbers = [int(x) if i % 4 != 3 else (_round(x, 4) or 0) for i, x in enumerate(part)]
            parts.append([slot] + (numbers if any(numbers[4:]) else numbers[:4]))
        return parts

    def _slot(self, prompt: str, calls: float, in_ring: set[int]) -> int | None:
        """The slot of ``prompt``: its own, a free one, or that of a quieter prompt no recent window uses."""
        if prompt in self._pnames:
            return self._pnames.index(prompt)
        if len(self._pnames) < MAX_PROMPTS:
            self._pnames.append(prompt)
            self._pref.append([0.0, 0.0, 0.0, 0.0])
            return len(self._pnames) - 1
        free = [i for i in range(len(self._pnames)) if i not in in_ring and self._pref[i][0] < calls]
        if not free:
            return None
        slot = min(free, key=lambda i: self._pref[i][0])
        self._pnames[slot], self._pref[slot] = prompt, [0.0, 0.0, 0.0, 0.0]
        return slot

    def _learn_prompts(self, parts: list[list]) -> None:
        keep = 1.0 - ew_alpha(self.window_s, self.half_life_s)
        for ref in self._pref:
            ref[:] = [x * keep for x in ref]
        for part in parts:
            if part[0] < len(self._pref):
                _add(self._pref[part[0]], part[1:5])
                _add(self._pref[part[0]], part[5:9])
        self._pref = [[_round(x, 4) for x in ref] for ref in self._pref]

    def _compare_prompts(self, announced: bool) -> list[dict[str, Any]]:
        """Per prompt served before and after: bad-call rate and mean score, and how sure a difference in
        bad-call rate is (one-sided exact test in the direction seen, as the quality detector's).

        Announced: the established served models (the reference and the recent span) against the new
        ones in the recent span. Silent: the reference against the recent span."""
        before = {i: list(ref) for i, ref in enumerate(self._pref)}
        after: dict[int, list[float]] = {}
        for entry in self._ring:
            for part in (entry[2] if len(entry) > 2 else []):
                slot, old, new = part[0], part[1:5], part[5:9]
                _add(before.setdefault(slot, [0.0] * 4) if announced else after.setdefault(slot, [0.0] * 4), old)
                _add(after.setdefault(slot, [0.0] * 4), new)
        rows = []
        for slot, a in after.items():
            b = before.get(slot)
            if slot < len(self._pnames) and self._pnames[slot] != UNNAMED and b is not None:
                row = self._compare(b, a)
                if row is not None:
                    rows.append({"prompt": self._pnames[slot], **row})
        rows.sort(key=lambda r: (-r["after"]["calls"], r["prompt"]))
        return rows

    def _compare_served(self) -> dict[str, Any] | None:
        """The new served models' calls against the established ones' over the followed prompts, both in
        the recent span: the same minutes, so whatever else moved then (a prompt's surge, a busy hour)
        moves both sides, and a canary's share does not dilute it. Fewer than ``MIN_PROMPT_CALLS`` old
        calls in the span (the provider switched every call at once): the reference's old calls join."""
        old, new = [0.0] * 4, [0.0] * 4
        for entry in self._ring:
            for part in (entry[2] if len(entry) > 2 else []):
                _add(old, part[1:5])
                _add(new, part[5:9])
        if old[0] < MIN_PROMPT_CALLS:
            for ref in self._pref:
                _add(old, ref)
        return self._compare(old, new)

    def _compare(self, b: list[float], a: list[float]) -> dict[str, Any] | None:
        """Bad-call rate and mean score before (``b``) and after (``a``): calls, bad, scored, score sum."""
        if min(a[0], b[0]) < MIN_PROMPT_CALLS:
            return None
        n0, k0, n1, k1 = round(b[0]), round(b[1]), round(a[0]), round(a[1])
        r0, r1 = k0 / n0, k1 / n1
        worse = r1 > r0
        p_value = fisher_greater(k1, n1, k0, n0) if worse else fisher_greater(k0, n0, k1, n1)
        small = max(r0, r1) - min(r0, r1) < self.min_increase or (
            max(r0, r1) < self.rate_ratio * max(min(r0, r1), self.min_rate))
        verdict = "same" if p_value > _PROMPT_ALPHA or small else ("worse" if worse else "better")
        return {"before": _side(n0, k0, b), "after": _side(n1, k1, a),
                "p_value": float(f"{p_value:.3g}"), "z": round(z_of(p_value), 2), "verdict": verdict}

    def _judge(self, ring: list) -> tuple[float, dict[str, dict], int, int]:
        """(score, per-signal figures, families that moved, families shifted by a size that matters) of
        a recent span against the reference. The score is the second-largest family |z|."""
        figures: dict[str, dict] = {}
        family_z: dict[str, float] = {}
        moved: set[str] = set()
        big_families: set[str] = set()  # families whose span mean differs by a size that matters
        floor_log = math.log1p(self.min_change)
        for i, (name, family, _, _, sq_key) in enumerate(SIGNALS):
            ref = self._reference(i)
            parts = [self._signal(sums, i) for sums, *_ in ring]
            n = sum(p[0] for p in parts)
            if ref is None or n < MIN_WINDOW_CALLS:
                continue
            mean0, var, between = ref
            mean1 = sum(p[1] for p in parts) / n
            z = (mean1 - mean0) / math.sqrt(var / n + between)
            family_z[family] = max(family_z.get(family, 0.0), abs(z))
            rate = sq_key is None
            log_scale = name in ("output_tokens", "latency_per_token")

            def big(m1: float, half: bool = False) -> bool:
                """Whether a mean ``m1`` differs from the reference by a size that matters."""
                scale = 0.5 if half else 1.0
                if rate:
                    lo, hi = sorted((m1, mean0))
                    return (hi - lo >= self.min_increase * scale
                            and hi >= (1 + (self.rate_ratio - 1) * scale) * max(lo, self.min_rate))
                if log_scale:
                    return abs(m1 - mean0) >= floor_log * scale
                return abs(m1 - mean0) >= self.min_change * scale * max(abs(mean0), 1e-9)

            lasting = all(p[0] < MIN_WINDOW_CALLS or ((p[1] / p[0] - mean0) * (mean1 - mean0) > 0
                                                       and big(p[1] / p[0], half=True)) for p in parts)
            shifted = big(mean1) and lasting
            if big(mean1):
                big_families.add(family)
            figures[name] = {
                "before": _round(math.exp(mean0) if log_scale else mean0, 4),
                "after": _round(math.exp(mean1) if log_scale else mean1, 4),
                "z": round(z, 2), "moved": False, "_shifted": shifted, "_family": family}
        ranked = sorted(family_z.values(), reverse=True)
        score = ranked[1] if len(ranked) > 1 else 0.0
        limit = self.alarm_at()
        for name, fig in figures.items():
            if fig.pop("_shifted"):
                if abs(fig["z"]) >= limit:
                    fig["moved"] = True
                    moved.add(fig["_family"])
            del fig["_family"]
        return score, figures, len(moved), len(big_families)

    def score_one(self, window: BucketSummary) -> float:
        ring = (self._ring + [self._vector(window)])[-self.recent_windows:]
        if self._windows < self.warmup or not self._ref:
            return 0.0
        return self._judge(ring)[0]

    def learn_one(self, window: BucketSummary) -> None:
        self._ring.append(self._vector(window) + [self._prompt_parts(window)])
        if len(self._ring) > self.recent_windows:
            oldest = self._ring.pop(0)
            if not self._settle:
                self._learn_reference(oldest[0])
                self._learn_prompts(oldest[2] if len(oldest) > 2 else [])
                self._windows += 1

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        if partial:
            return None
        self.learn_one(window)
        t = window.t_last if math.isfinite(window.t_last) else window.bucket_start + self.window_s
        if self._settle:
            self._settle -= 1
            if not self._settle:
                self._rebase()
                self._establish(t, force=True)
            return None
        new = self._establish(t, force=self._windows < self.warmup)
        if self._windows < self.warmup or not self._ref:
            return None
        calls = sum(sums[0] for sums, *_ in self._ring)
        score, figures, moved, big = self._judge(self._ring) if calls >= self.min_volume else (0.0, {}, 0, 0)
        limit = self.alarm_at()
        if calls >= self.min_volume and big < self.min_signals:
            # Spans overlap, so a change's score rises over several windows before it alarms: a span
            # with a change of a size that matters on enough families never teaches the tail.
            self.learn_score(score, limit)
        silent = moved >= self.min_signals and score >= limit
        if not new and not silent:
            return None
        self._settle = self.recent_windows  # one finding per change: then the new normal is learned
        if self.cooling(t):
            return None
        return self._finding(window, new, score, limit, figures, calls)

    def _shares(self) -> dict[str, float]:
        counts: dict[str, int] = {}
        for _, served, *_ in self._ring:
            for name, n in served.items():
                counts[name] = counts.get(name, 0) + n
        total = sum(counts.values())
        return {name: n / total for name, n in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}

    def _establish(self, t: float, *, force: bool) -> list[tuple[str, float, int]]:
        """Served models of the recent span that reach ``share`` and are not established: returned as
        news unless ``force`` (warm-up, or after a finding), when they are simply established."""
        counts: dict[str, int] = {}
        for _, served, *_ in self._ring:
            for name, n in served.items():
                counts[name] = counts.get(name, 0) + n
        total = sum(counts.values())
        new = []
        for name, n in counts.items():
            if name == OTHER or not total or n / total < self.share or n < self.min_calls:
                if name in self._served and n:
                    self._served[name] = t
                continue
            if name not in self._served and not force:
                new.append((name, n / total, n))
            elif name in self._served:
                self._served[name] = t
        if force:
            for name, n in counts.items():
                if name != OTHER and total and n / total >= self.share and n >= self.min_calls:
                    self._served[name] = t
            self._forget()
        return new

    def _forget(self) -> None:
        if len(self._served) > self.max_models:
            keep = sorted(self._served.items(), key=lambda kv: kv[1])[-self.max_models:]
            self._served = dict(keep)

    def _finding(self, window: BucketSummary, new: list, score: float, limit: float, figures: dict,
                 calls: int) -> Finding:
        before = sorted(name for name in self._served if name not in {n for n, _, _ in new})
        shares = {name: round(v, 3) for name, v in list(self._shares().items())[:MAX_SERVED]}
        model = window.target.get("model") or window.series_key.split("|", 1)[-1]
        details: dict[str, Any] = {"served_before": before, "served_after": shares, "calls": calls,
                                   "signals": figures, "z": round(score, 2), "alarm_at": round(limit, 2),
                                   "prompts": self._compare_prompts(bool(new))}
        if new:
            name, share, n = max(new, key=lambda x: x[1])
            for served, _, _ in new:
                self._served[served] = window.t_last
            self._forget()
            details["cause"] = "announced"
            details["served_compare"] = self._compare_served()
            summary = (f"{model} is answered by a new model: {name} in {share:.0%} of the last {calls} calls "
                       f"(before: {', '.join(before) or 'none named'})")
            labels = {"cause": "announced", "served_model": name}
            found_score = share
        else:
            details["cause"] = "silent"
            moved = [f"{_LABEL[k]} {_fmt(k, v['before'])} → {_fmt(k, v['after'])}"
                     for k, v in figures.items() if v["moved"]]
            summary = f"{model} behaves differently on {len(moved)} signals at once: {'; '.join(moved)}"
            labels = {"cause": "silent"}
            found_score = score
        return self.finding(window, score=found_score, summary=summary, observed=found_score, baseline=None,
                            window_s=self.window_s * len(self._ring), details=details, labels=labels)


def _fold_prompt(c: dict, prompt: str, served: str, flagged: int, score: float | None) -> None:
    """Count a call of ``prompt`` answered by ``served`` in a bucket's counts: ``qn``/``qb``/``qe``/``qs``
    (calls, bad, scored, score sum) + ``<len(served)>:<served><prompt>``, at most ``MAX_PAIRS`` pairs."""
    pair = f"{len(served)}:{served}{prompt[:PROMPT_NAME]}"
    calls = "qn" + pair
    n = c.get(calls)
    if n is None:
        if sum(1 for k in c if k[:2] == "qn") >= MAX_PAIRS:
            return
        n = 0
    c[calls] = n + 1
    if flagged:
        c["qb" + pair] = c.get("qb" + pair, 0) + 1
    if score is not None:
        c["qe" + pair] = c.get("qe" + pair, 0) + 1
        c["qs" + pair] = c.get("qs" + pair, 0.0) + score


def _parse_pair(text: str) -> tuple[str, str] | None:
    """(served, prompt) of a ``<len>:<served><prompt>`` key; ``None`` if it is not one."""
    head, sep, rest = text.partition(":")
    if not sep or not head.isdigit() or int(head) > len(rest):
        return None
    n = int(head)
    return rest[:n], rest[n:]


def _add(into: list[float], numbers: list[float]) -> None:
    for i, x in enumerate(numbers):
        into[i] += x


def _side(calls: int, bad: int, sums: list[float]) -> dict[str, Any]:
    return {"calls": calls, "bad": bad, "bad_rate": round(bad / calls, 4),
            "score": round(sums[3] / sums[2], 4) if sums[2] >= 1 else None}


_LABEL = {"output_tokens": "output tokens", "latency_per_token": "ms per output token",
          "failed": "failed calls", "flagged": "flagged calls", "score": "mean score"}


def _fmt(signal: str, value: float) -> str:
    if signal in ("failed", "flagged"):
        return f"{value:.1%}"
    if signal == "output_tokens":
        return f"{value:.0f}"
    return f"{value:.3g}"
