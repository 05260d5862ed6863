"""False pages on healthy series: does the calibrated threshold keep its promise (issue 10)?

Simulated healthy one-minute series, one per detector (so the budget, ``false_alarms_per_week: 1``, is one
page per series-week), run through the shipped anomaly detector at its shipped defaults (``direction:
both``: both sides count). Every kind has a daily cycle of ±30 % under its noise: Gaussian, Student-t(3)
(heavy tails), lognormal (σ 0.5: skewed, like latency or spend), Poisson counts (mean 20 at the cycle's
mean), bursty (5 % of minutes 20-60 % higher), a wandering level (a slow random walk of the level), a
business-day cycle (the level doubles from 08 to 18 UTC, with one-hour ramps) and sparse counts (Poisson with
mean 0.01 or 0.1 per minute at the cycle's mean: mostly 0, as the errors of a healthy app or a rare event;
``sparse0.01``, ``sparse0.1``). The first week is learning; the pages counted are those of the weeks after it.

Run: ``.venv/bin/python -m bench.calibration_noise [--weeks 8] [--seeds 16] [--kinds gauss,t3,...]
[--set key=value ...] [--series N] [--processes 2]``; with ``--series N`` each seed is one detector
watching N series of the kind (the promise is per detector: its budget is spread over them) and the pages
counted are the detector's.

It prints, per kind, the pages per series-week after the first week, their mean over the seeds with a 95 %
confidence interval (t over seeds), and the pages in each week summed over the seeds (a threshold that
drifts down shows as a rising row).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from detectors.anomaly import FieldAnomaly
from detectors.base import BucketSummary

DAY_S = 86_400.0
WEEK_WINDOWS = 7 * 1440
KINDS = ("gauss", "t3", "lognormal", "poisson", "bursty", "walk", "business", "sparse0.01", "sparse0.1")


def _poisson(lam: float, rng: random.Random) -> int:
    limit, p, k = math.exp(-lam), rng.random(), 0
    while p >= limit:
        p *= rng.random()
        k += 1
    return k


def series(kind: str, seed: int, windows: int):
    """The window means of one healthy series, one per minute."""
    rng = random.Random(f"{kind}-{seed}")
    level = 100.0
    for i in range(windows):
        t = i * 60.0
        cyc = 1.0 + 0.3 * math.sin(2 * math.pi * t / DAY_S)
        if kind == "gauss":
            yield 100 * cyc + rng.gauss(0, 5)
        elif kind == "t3":
            chi = sum(rng.gauss(0, 1) ** 2 for _ in range(3)) / 3
            yield 100 * cyc + 5 * rng.gauss(0, 1) / math.sqrt(chi)
        elif kind == "lognormal":
            yield 100 * cyc * math.exp(rng.gauss(0, 0.5))
        elif kind == "poisson":
            yield float(_poisson(20 * cyc, rng))
        elif kind == "bursty":
            burst = 1 + rng.uniform(0.2, 0.6) if rng.random() < 0.05 else 1.0
            yield 100 * cyc * burst + rng.gauss(0, 2)
        elif kind == "walk":
            level *= math.exp(rng.gauss(0, 0.002))
            yield level * cyc + rng.gauss(0, 3)
        elif kind == "business":
            h = (t % DAY_S) / 3600
            ramp = min(max(h - 7, 0.0), 1.0) - min(max(h - 18, 0.0), 1.0)
            yield 100 * (1 + ramp) + rng.gauss(0, 5)
        elif kind.startswith("sparse"):  # a one-minute count that is mostly 0: sparse0.01, sparse0.1
            yield float(_poisson(float(kind[6:]) * cyc, rng))
        else:
            raise ValueError(f"unknown noise kind {kind!r}")


def pages_per_week(kind: str, seed: int, weeks: int, params: dict[str, Any] | None = None,
                   watched: int = 1) -> list[int]:
    """Pages in each week of a fresh anomaly detector watching ``watched`` healthy series of one kind
    (seeds ``seed * watched`` onwards): its budget is spread over them, the pages are the detector's."""
    d = FieldAnomaly("noise", "app", field="latency_ms", direction="both", **(params or {}))
    clones = [d.clone() for _ in range(watched)]
    type(d).watched = watched  # as DetectorSuite.series_state counts them
    streams = [series(kind, seed * watched + j, weeks * WEEK_WINDOWS) for j in range(watched)]
    keys = [f"noise|app={j}" for j in range(watched)]
    out = [0] * weeks
    for i, xs in enumerate(zip(*streams)):
        t = i * 60.0
        for c, key, x in zip(clones, keys, xs):
            if c.update(BucketSummary.make(key, t, n=1, total=x, t_last=t + 59)) is not None:
                out[i // WEEK_WINDOWS] += 1
    return out


def _run(job: tuple[str, int, int, dict[str, Any], int]) -> tuple[str, list[int]]:
    kind, seed, weeks, params, watched = job
    return kind, pages_per_week(kind, seed, weeks, params, watched)


def summarise(per_seed: list[list[int]]) -> dict[str, Any]:
    """Pages per series-week after the first week: mean over seeds, 95 % CI, and per-week totals."""
    rates = [sum(w[1:]) / (len(w) - 1) for w in per_seed]
    n = len(rates)
    mean = statistics.fmean(rates)
    half = math.inf
    if n > 1:
        from scipy.stats import t  # a dependency already (detectors.quality); imported when needed

        half = float(t.ppf(0.975, n - 1)) * statistics.stdev(rates) / math.sqrt(n)
    return {"mean": mean, "low": max(mean - half, 0.0), "high": mean + half,
            "weeks": [sum(col) for col in zip(*per_seed)]}


def simulate(kinds: list[str], seeds: int, weeks: int, params: dict[str, Any] | None = None,
             processes: int = 1, watched: int = 1) -> dict[str, dict[str, Any]]:
    if weeks < 2:
        raise ValueError("weeks must be at least 2: the first is learning")
    if watched < 1:
        raise ValueError("series per detector must be at least 1")
    jobs = [(k, s, weeks, params or {}, watched) for k in kinds for s in range(seeds)]
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            results = list(pool.map(_run, jobs))
    else:
        results = [_run(j) for j in jobs]
    return {k: summarise([w for kind, w in results if kind == k]) for k in kinds}


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.calibration_noise", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weeks", type=int, default=8, help="weeks per series, the first learning (default 8)")
    ap.add_argument("--seeds", type=int, default=16, help="series per kind (default 16)")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an anomaly detector setting other than its default (repeatable)")
    ap.add_argument("--series", type=int, default=1,
                    help="series per detector (default 1): the budget is the detector's, spread over them")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args(argv)
    params = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    out = simulate(args.kinds.split(","), args.seeds, args.weeks, params, args.processes, args.series)
    unit = "series-week" if args.series == 1 else f"detector-week, {args.series} series per detector"
    print(f"false pages per {unit} (budget 1), weeks 2-{args.weeks}, {args.seeds} seeds, anomaly "
          f"detector at shipped defaults, direction both{', ' + str(params) if params else ''}")
    print(f"{'noise':<11}{'mean':>7}{'95% CI':>15}   pages per week, all seeds")
    for kind, r in out.items():
        print(f"{kind:<11}{r['mean']:>7.2f}{r['low']:>8.2f}-{r['high']:<6.2f}   {r['weeks']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
