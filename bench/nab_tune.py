"""Tune the anomaly detector for NAB on one half of its files, by a fixed search, and score the result on both.

``python -m bench.nab_tune --on tune`` starts from the shipped defaults (``bench/nab_shipped_defaults.yaml``) and
moves one setting at a time over ``GRID`` (coordinate descent: each setting in turn to its best value on that half,
NAB standard, until a whole pass changes nothing), then scores the config it ends at on the other half, which the
search never saw. ``--on report`` tunes on the other half: the two runs together are a two-fold estimate of what
tuning buys on files it was not tuned on, with no hand in the choices (``bench/nab_detectors.yaml`` was tuned by
hand on the tune half). ``--out FILE`` writes the config it ends at.

``--on all --settings false_alarms_per_week`` tunes as NAB tunes each published detector: one setting, its alarm
threshold, chosen over all 58 files (``--optimize``, whose choices are ``config/thresholds.json``), so every file
it is then scored on was seen (``--profile`` chooses for another profile, as NAB does per profile).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from bench.nab import PROFILES, SPLITS, by_split, files_by_split, load_windows, root_or_error, score_config

SHIPPED = Path(__file__).resolve().parent / "nab_shipped_defaults.yaml"

#: the settings searched and their values (the shipped default first where it is one), in the order they are moved
GRID: dict[str, tuple[float, ...]] = {
    "false_alarms_per_week": (1, 0.5, 2, 3, 4, 5, 7),
    "cooldown_s": (3600, 21600, 43200, 86400),
    "half_life_s": (3600, 10800, 21600, 43200),
    "slow_half_life_s": (36000, 86400, 180000, 360000),
    "daily_margin": (0.5, 0.6, 0.7, 0.8),
    "record_after_s": (432000, 259200, 604800),
    "record_budget": (0.3, 0),
    "escalate": (2, 0),
}
MAX_PASSES = 4

Settings = dict[str, float]


def coordinate_descent(grid: Mapping[str, tuple[float, ...]], start: Settings,
                       evaluate: Callable[[Settings], float],
                       max_passes: int = MAX_PASSES) -> tuple[Settings, list[tuple[Settings, float]]]:
    """Move one setting at a time to the value that scores best with the others held (a tie keeps the value
    held), pass after pass over ``grid`` in its order, until a pass changes nothing. Returns the settings it ends
    at and every distinct setting evaluated with its score, in order.

    >>> score = lambda s: -(s["a"] - 2) ** 2 - (s["b"] - 1) ** 2
    >>> best, trail = coordinate_descent({"a": (0, 1, 2, 3), "b": (0, 1, 2)}, {"a": 0, "b": 0}, score)
    >>> best, len(trail), trail[-1]
    ({'a': 2, 'b': 1}, 9, ({'a': 3, 'b': 1}, -1))
    """
    seen: dict[tuple[tuple[str, float], ...], float] = {}
    trail: list[tuple[Settings, float]] = []

    def score(s: Settings) -> float:
        key = tuple(sorted(s.items()))
        if key not in seen:
            seen[key] = evaluate(dict(s))
            trail.append((dict(s), seen[key]))
        return seen[key]

    best = dict(start)
    for _ in range(max_passes):
        moved = False
        for name, values in grid.items():
            held = score(best)
            top = max(values, key=lambda v: (score({**best, name: v}), v == best[name]))
            if score({**best, name: top}) > held:
                best[name], moved = top, True
        if not moved:
            break
    return best, trail


def config_text(base: dict[str, Any], settings: Settings) -> str:
    """``base`` (a detector config with one detector) with ``settings`` on that detector, as YAML."""
    config = {**base, "detectors": [{**base["detectors"][0], **settings}]}
    return yaml.safe_dump(config, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.nab_tune", description=__doc__.split("\n\n")[0])
    ap.add_argument("--on", choices=(*SPLITS, "all"), default="tune",
                    help="the half to tune on (default tune), or all 58 files (nothing held out)")
    ap.add_argument("--settings", nargs="+", choices=GRID, default=list(GRID), metavar="NAME",
                    help=f"the settings to search (default all: {', '.join(GRID)})")
    ap.add_argument("--profile", choices=PROFILES, default="standard", help="the NAB profile to tune for")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--out", type=Path, help="write the config the search ends at")
    args = ap.parse_args(argv)
    root = root_or_error()
    if root is None:
        return 2
    halves = files_by_split(load_windows(root))
    base = yaml.safe_load(SHIPPED.read_text())
    grid = {name: GRID[name] for name in args.settings}
    start = {name: values[0] for name, values in grid.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"

        def run(settings: Settings, half: str) -> dict[str, Any]:
            path.write_text(config_text(base, settings))
            result = score_config(path, halves[half], root=root, processes=args.processes)
            return by_split(result, root)[half]

        def evaluate(settings: Settings) -> float:
            t = run(settings, args.on)["profiles"][args.profile]
            changed = {k: v for k, v in settings.items() if v != start[k]}
            print(f"  {t['score']:6.1f}  {t['tp_windows']}/{t['windows']} windows, FP {t['fp']:>4}  "
                  f"{changed or 'shipped'}", flush=True)
            return t["score"]

        print(f"tuning on {'all' if args.on == 'all' else 'the ' + args.on + ' half'} ({len(halves[args.on])} files),"
              f" NAB {args.profile}:")
        best, trail = coordinate_descent(grid, start, evaluate)
        text = config_text(base, best)
        print(f"\nends at {({k: v for k, v in best.items() if v != start[k]}) or 'the shipped defaults'} "
              f"after {len(trail)} configs")
        held_out = [] if args.on == "all" else [s for s in SPLITS if s != args.on]
        for half in (args.on, *held_out):
            r = run(best, half)
            for p, t in r["profiles"].items():
                print(f"{half:<7} {'(tuned on)' if half == args.on else '(held out)':<11} {p:<19} {t['score']:6.1f} "
                      f"{t['tp_windows']}/{t['windows']} windows, FP {t['fp']}")
            print(f"{half:<7} {'':<11} on call: {r['pages'].summary()}")
    if args.out:
        tuned_by = " ".join(sys.argv[1:] if argv is None else argv)
        args.out.write_text(f"# tuned by `python -m bench.nab_tune {tuned_by}`\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
