"""The Numenta Anomaly Benchmark (NAB v1.1): its scoring, reproduced, and a harness that scores tracewatch's
detectors on its 58 labelled series.

Run: ``.venv/bin/python -m bench.nab [--config PATH] [--split tune|report|all] [--files] [--out FILE]``

Data: ``$TRACEWATCH_NAB_DIR``, else ``../shared/data/nab`` relative to the repository root (``data/``,
``labels/combined_windows.json``, ``config/profiles.json``, ``results/final_results.json``).

Method
------
Scoring (``sweep``, ``score_detections``, ``normalise``: pure, no I/O) is NAB's own sweeper
(``nab/sweeper.py`` of NAB v1.1), checked against NAB's published windowedGaussian results
(``tests/unit/bench/test_nab_scorer.py``: per file, per row and the normalised totals):

* probation: the first ``min(floor(0.15 n), 0.15 * 5000)`` rows of an ``n``-row file (at most 750): their
  detections count nothing and they are neither TP/FP/TN/FN rows;
* a row is a detection when its anomaly score is ``>= threshold``;
* a window is entered at the row whose timestamp equals its start and left at the row whose timestamp equals
  its end (first occurrences; ``l``, ``r`` their row indices, width ``w = r - l + 1``). A detection at row
  ``i`` inside it is worth ``A_TP * S(-(r - i + 1) / w) / S(-1)`` where ``S(x) = 2 / (1 + exp(5x)) - 1``
  (and ``S(x) = -1`` for ``x > 3``): the window's first row is worth exactly ``A_TP``, its last almost 0.
  Only the best (= earliest) detection of a window counts; a window without one costs ``-A_FN``;
* a detection outside every window (an FP) is worth ``A_FP * S(|i - r'| / (w' - 1))`` with ``r'``, ``w'``
  the last row and width of the preceding window: just after a window it costs almost nothing, three
  widths later the full ``-A_FP``; before any window it costs ``-A_FP``;
* a profile's raw score is the sum over the files; normalised = ``100 (raw - null) / (perfect - null)``,
  null: no detections (``-A_FN`` per window), perfect: every window detected at its first row (``A_TP`` per
  window; NAB's ``windows * A_TP``, as no NAB window starts in a probation period).

Harness (``score_config``, ``main``):

* rows become events: one ``TraceEvent`` per row, ``{"trace_id": "nab-<row>", "timestamp": <epoch seconds of
  the row, read as UTC>, "model": "nab", "feature": "<category>/<file stem>", "metadata": {"value": v}}``,
  in event-time order with the file order breaking ties, as ``tracewatch replay`` sorts them
  (``write_jsonl`` writes the same events for the real CLI);
* one fresh suite per file (a new deployment: the files span different years), one config for all files,
  run as ``tracewatch replay`` runs it: ``load_config`` + ``build_suite`` + ``detectors.suite.replay``;
* findings become detections: a finding marks the first row (file order) whose timestamp is ``>=
  finding.time`` (the event time of the last event of the judged window); that row's anomaly score is 1,
  every other row's 0, and the threshold is 0.5;
* splits: the files sorted by (category, name) alternate between ``tune`` and ``report`` (so each category
  is split in halves, 29 + 29 files); a split is normalised with its own null and perfect raw scores.
  Tune detectors on ``tune``; quote ``report``.

Published NAB scores (``final_results.json``) are for all 58 files only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from bisect import bisect_left
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from itertools import accumulate
from pathlib import Path
from typing import Any, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = Path(__file__).resolve().parent / "nab_detectors.yaml"
#: the anomaly detector at its shipped defaults (nothing set but what to watch), scored beside it by ``make bench``
SHIPPED_CONFIG = Path(__file__).resolve().parent / "nab_shipped_defaults.yaml"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SPLITS = ("tune", "report")
PROBATION_PERCENT = 0.15
#: published detectors shown beside ours: (label, key in final_results.json)
PUBLISHED = (("null", "null"), ("random", "random"), ("windowedGaussian", "windowedGaussian"),
             ("Skyline (Etsy)", "skyline"), ("Skyline (earthgecko)", "earthgeckoSkyline"),
             ("HTM", "numenta"), ("CAD OSE", "contextOSE"), ("ARTime", "ARTime"))

#: the published detectors' per-file raw scores (NAB's ``results/<detector>/<detector>_<profile>_scores.csv``,
#: numenta/NAB, MIT), to score them on our splits: ``published_by_split``
PUBLISHED_FILES = Path(__file__).resolve().parent / "data" / "nab_published_scores.json"

PROBATION = -2  # ``Sweep.window_of``: the row is in the probation period
OUTSIDE = -1    # ``Sweep.window_of``: the row is in no window
#: the on-call view (``pages``): a page from ``CATCH_BEFORE`` rows before a labelled anomaly to ``CATCH_AFTER`` rows
#: after it catches it, every other page is false, as operations-KPI benchmarks judge a detector (up to seven points
#: after an anomaly's start). NAB's labels mark the anomaly to a row only roughly: at the shipped defaults the page
#: nearest a label is at it for 50 labels, and 1, 2, 3 rows before it for 7, 3, 3 (4 to 36 rows before for 12)
CATCH_BEFORE, CATCH_AFTER = 3, 7


# ---- scoring (pure) ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cost:
    """A profile's cost matrix (NAB's ``tpWeight``, ``fpWeight``, ``fnWeight``; ``tnWeight`` is unused)."""

    tp: float
    fp: float
    fn: float

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> "Cost":
        m = profile["CostMatrix"]
        return cls(tp=float(m["tpWeight"]), fp=float(m["fpWeight"]), fn=float(m["fnWeight"]))


def scaled_sigmoid(x: float) -> float:
    """NAB's ``scaledSigmoid``: 1 far before a window's end, 0 at it, -1 beyond 3 widths after it (NAB's
    ``> 3.0``: exactly 3 still gives ``2 sigmoid(-15) - 1``; NAB's published per-file scores depend on it).

    >>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(0.0), round(scaled_sigmoid(1.0), 5), scaled_sigmoid(3.5)
    (0.98661, 0.0, -0.98661, -1.0)
    >>> scaled_sigmoid(3.0) > -1.0
    True
    """
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_length(rows: int, percent: float = PROBATION_PERCENT) -> float:
    """Rows ``0 .. probation_length - 1`` are the probation period (NAB: at most ``percent * 5000``).

    >>> probation_length(4032), probation_length(15902)
    (604, 750.0)
    """
    return min(math.floor(percent * rows), percent * 5000)


@dataclass(frozen=True)
class Sweep:
    """The profile-independent part of NAB's sweep of one file: per row, its window and unweighted score."""

    window_of: tuple[int, ...]    # per row: the window's index in ``windows``, OUTSIDE or PROBATION
    unweighted: tuple[float, ...]  # per row: S(position in its window) or S(distance past the last one)
    scored: tuple[int, ...]       # windows with a row after the probation period (each costs A_FN if missed)
    first_rows: tuple[int, ...]   # per scored window, its first scorable row (the perfect detector's)
    window_rows: int              # rows in windows after the probation period
    outside_rows: int             # rows outside windows after the probation period

    @property
    def rows(self) -> int:
        return len(self.window_of)


def sweep(timestamps: Sequence[Any], windows: Sequence[tuple[Any, Any]],
          probation_percent: float = PROBATION_PERCENT) -> Sweep:
    """NAB's ``Sweeper.calcSweepScore`` without the weights: ``timestamps`` per row (comparable with ``==``
    to the window limits), ``windows`` as ``(start, end)`` timestamps in time order."""
    timestamps = list(timestamps)
    pending = list(windows)
    probation = probation_length(len(timestamps), probation_percent)
    window_of: list[int] = []
    unweighted: list[float] = []
    scored: dict[int, int] = {}  # window -> first scorable row
    window_rows = outside_rows = 0
    k = -1  # index of the latest window entered
    cur: tuple[Any, Any] | None = None
    right = width = 0
    prev_right: int | None = None
    prev_width = 0.0
    for i, t in enumerate(timestamps):
        if pending and t == pending[0][0]:
            cur = pending.pop(0)
            k += 1
            right = timestamps.index(cur[1])
            width = float(right - timestamps.index(cur[0]) + 1)
        if cur is not None:
            value = scaled_sigmoid(-(right - i + 1) / width)
        elif prev_right is None:  # before any window: as far as can be
            value = -1.0
        else:
            value = scaled_sigmoid(abs(prev_right - i) / float(prev_width - 1) if prev_width > 1 else math.inf)
        unweighted.append(value)
        if i < probation:
            window_of.append(PROBATION)
        elif cur is not None:
            window_of.append(k)
            scored.setdefault(k, i)
            window_rows += 1
        else:
            window_of.append(OUTSIDE)
            outside_rows += 1
        if cur is not None and t == cur[1]:
            prev_right, prev_width = i, width
            cur = None
    return Sweep(tuple(window_of), tuple(unweighted), tuple(scored), tuple(scored.values()), window_rows,
                 outside_rows)


@dataclass(frozen=True)
class FileScore:
    score: float
    tp_windows: int   # windows with a detection
    windows: int      # windows scored
    tp: int           # detected rows in windows (NAB's TP count)
    fp: int           # detected rows outside windows (NAB's FP count)
    fn: int           # undetected rows in windows
    tn: int           # undetected rows outside windows


def score_detections(sw: Sweep, detected: Iterable[int], cost: Cost) -> FileScore:
    """A file's NAB score for the detections at row indices ``detected`` (probation rows are ignored)."""
    best = {w: -cost.fn for w in sw.scored}
    hit: set[int] = set()
    fp_score = 0.0
    tp = fp = 0
    window_of, unweighted = sw.window_of, sw.unweighted
    for i in sorted(set(detected)):
        w = window_of[i]
        if w == PROBATION:
            continue
        if w == OUTSIDE:
            fp += 1
            fp_score += unweighted[i] * cost.fp
        else:
            tp += 1
            hit.add(w)
            s = unweighted[i] * cost.tp / MAX_TP
            if s > best[w]:
                best[w] = s
    return FileScore(score=fp_score + sum(best.values()), tp_windows=len(hit), windows=len(best), tp=tp,
                     fp=fp, fn=sw.window_rows - tp, tn=sw.outside_rows - fp)


def detections_at(scores: Sequence[float], threshold: float) -> list[int]:
    """NAB's sweeper semantics: a row is a detection when its anomaly score is ``>= threshold``."""
    return [i for i, s in enumerate(scores) if s >= threshold]


def null_score(sw: Sweep, cost: Cost) -> float:
    return score_detections(sw, (), cost).score


def perfect_score(sw: Sweep, cost: Cost) -> float:
    return score_detections(sw, sw.first_rows, cost).score


def normalise(raw: float, null: float, perfect: float) -> float:
    """NAB's normalised score: 0 for the null detector, 100 for the perfect one.

    >>> normalise(-24.0131054891, -116.0, 116.0)
    39.649523496077585
    """
    return 100.0 * (raw - null) / (perfect - null)


def total(sweeps: dict[str, Sweep], detections: dict[str, Sequence[int]], cost: Cost) -> dict[str, Any]:
    """Raw, null, perfect and normalised score over ``sweeps``' files, with window and FP counts."""
    raw = null = perfect = 0.0
    tp_windows = windows = fp = 0
    for name, sw in sweeps.items():
        s = score_detections(sw, detections.get(name, ()), cost)
        raw += s.score
        null += null_score(sw, cost)
        perfect += perfect_score(sw, cost)
        tp_windows += s.tp_windows
        windows += s.windows
        fp += s.fp
    return {"score": normalise(raw, null, perfect), "raw": raw, "null": null, "perfect": perfect,
            "tp_windows": tp_windows, "windows": windows, "fp": fp}


@dataclass(frozen=True)
class Pages:
    """The on-call view of one file or split: labelled anomalies caught, pages sent, and how many were false."""
    labels: int = 0
    caught: int = 0
    pages: int = 0
    false: int = 0

    def __add__(self, other: "Pages") -> "Pages":
        return Pages(self.labels + other.labels, self.caught + other.caught, self.pages + other.pages,
                     self.false + other.false)

    def summary(self) -> str:
        precision = (self.pages - self.false) / self.pages if self.pages else 0.0
        recall = self.caught / self.labels if self.labels else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return (f"caught {self.caught}/{self.labels}, pages {self.pages}, false {self.false}, "
                f"precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f}")


def pages(sw: Sweep, label_rows: Sequence[int], detected: Iterable[int], before: int = CATCH_BEFORE,
          after: int = CATCH_AFTER, probation: bool = False) -> Pages:
    """NAB's labelled anomalies (``combined_labels.json``: one row each, where NAB's window is centred) judged as an
    on-call engineer and operations-KPI benchmarks judge pages: a label is caught by a page from ``before`` rows
    before it to ``after`` rows after it; a page that catches no label is false, however near a window it falls (NAB
    rewards a page early in its window; a pager does not). Rows in the probation are left out, as NAB does;
    ``probation=True`` counts them too, as a pager, which has no probation, does.

    Rows 0-2 are the probation; a page too early (6) or too late (28) is false, and so is one in the probation (1)
    when it counts:

    >>> sw = sweep([float(t) for t in range(30)], [(6.0, 14.0), (16.0, 24.0)], probation_percent=0.1)
    >>> pages(sw, [10, 20], [1, 6, 11, 12, 28]), pages(sw, [10, 20], [1, 6, 11, 12, 28], probation=True)
    (Pages(labels=2, caught=1, pages=4, false=2), Pages(labels=2, caught=1, pages=5, false=3))
    """
    def counted(r: int) -> bool:
        return r < sw.rows and (probation or sw.window_of[r] != PROBATION)

    rows = sorted(r for r in set(detected) if counted(r))
    labels = [r for r in label_rows if counted(r)]
    caught = sum(any(r - before <= d <= r + after for d in rows) for r in labels)
    false = sum(not any(r - before <= d <= r + after for r in labels) for d in rows)
    return Pages(len(labels), caught, len(rows), false)


# ---- data ------------------------------------------------------------------------------------------------

def nab_dir() -> Path:
    """``$TRACEWATCH_NAB_DIR``, else ``../shared/data/nab`` relative to the repository root."""
    env = os.environ.get("TRACEWATCH_NAB_DIR")
    return Path(env) if env else (ROOT.parent / "shared" / "data" / "nab")


def require_nab_dir(path: Path | None = None) -> Path:
    path = nab_dir() if path is None else Path(path)
    if not (path / "labels" / "combined_windows.json").is_file():
        raise FileNotFoundError(
            f"NAB data not found at {path} (expected labels/combined_windows.json, data/, config/, results/): "
            f"set TRACEWATCH_NAB_DIR or put NAB at ../shared/data/nab relative to the repository root")
    return path


def epoch(text: str) -> float:
    """A NAB timestamp (``2014-04-10 07:15:00[.000000]``, no zone) as epoch seconds, read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class NabFile:
    name: str                      # "<category>/<file>.csv", as in combined_windows.json
    timestamps: tuple[float, ...]  # epoch seconds per row (file order; NAB has duplicates and one step back)
    values: tuple[float, ...]
    windows: tuple[tuple[float, float], ...]

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def feature(self) -> str:
        return f"{self.category}/{self.stem}"


def read_series(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [row for row in reader if row]


def load_windows(root: Path) -> dict[str, list[tuple[float, float]]]:
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    return {name: [(epoch(a), epoch(b)) for a, b in windows] for name, windows in labels.items()}


def load_labels(root: Path) -> dict[str, list[float]]:
    """Per file, its labelled anomalies' times (``combined_labels.json``: the points NAB's windows are centred on)."""
    labels = json.loads((root / "labels" / "combined_labels.json").read_text())
    return {name: [epoch(t) for t in times] for name, times in labels.items()}


def load_corpus(root: Path | None = None, names: Iterable[str] | None = None) -> list[NabFile]:
    """The NAB files (all, or ``names``), sorted by name."""
    root = require_nab_dir(root)
    windows = load_windows(root)
    out = []
    for name in sorted(windows if names is None else names):
        header, rows = read_series(root / "data" / name)
        ti, vi = header.index("timestamp"), header.index("value")
        out.append(NabFile(name, tuple(epoch(r[ti]) for r in rows), tuple(float(r[vi]) for r in rows),
                           tuple(windows[name])))
    return out


def load_profiles(root: Path | None = None) -> dict[str, Cost]:
    profiles = json.loads((require_nab_dir(root) / "config" / "profiles.json").read_text())
    return {p: Cost.from_profile(profiles[p]) for p in PROFILES}


def load_published(root: Path | None = None) -> dict[str, dict[str, float]]:
    return json.loads((require_nab_dir(root) / "results" / "final_results.json").read_text())


def published_by_split(root: Path | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """The published detectors' normalised scores on each split (and "all"), from their per-file raw scores
    (``PUBLISHED_FILES``) normalised as ours are: NAB publishes totals over all 58 files only, and a half
    is not that total's half (HTM: tune 70.7, report 69.4)."""
    windows = load_windows(require_nab_dir(root))
    costs = load_profiles(root)
    per_file = json.loads(PUBLISHED_FILES.read_text())["scores"]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for s, names in files_by_split(windows).items():
        count = sum(len(windows[n]) for n in names)
        out[s] = {"null": {p: 0.0 for p in PROFILES}}
        for key, profiles in per_file.items():
            out[s][key] = {p: normalise(sum(profiles[p][n] for n in names), -c.fn * count, c.tp * count)
                           for p, c in costs.items()}
    return out


def split_of(names: Iterable[str]) -> dict[str, str]:
    """Files sorted by (category, name) alternate between tune and report: each category split in halves."""
    return {name: SPLITS[j % 2] for j, name in enumerate(sorted(names, key=lambda n: tuple(n.split("/", 1))))}


def files_by_split(names: Iterable[str]) -> dict[str, list[str]]:
    """The file names of each split (``split_of``), and of "all"."""
    names = list(names)
    split = split_of(names)
    return {**{s: [n for n, g in split.items() if g == s] for s in SPLITS}, "all": names}


def root_or_error() -> Path | None:
    """NAB's directory for a command, or None once the reason it is missing is on stderr (the command exits 2)."""
    try:
        return require_nab_dir()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


# ---- harness: rows -> events -> findings -> detections --------------------------------------------------

def event_dicts(f: NabFile) -> list[dict[str, Any]]:
    """One trace event per row, in file order."""
    feature = f.feature
    return [{"trace_id": f"nab-{i}", "timestamp": int(t) if t == int(t) else t, "model": "nab",
             "feature": feature, "metadata": {"value": v}}
            for i, (t, v) in enumerate(zip(f.timestamps, f.values))]


def events_for(f: NabFile) -> list[Any]:
    """The file's ``TraceEvent``s in the order ``tracewatch replay`` runs them (event time, file order)."""
    from traces.events import TraceEvent

    events = [TraceEvent.model_validate(d) for d in event_dicts(f)]
    events.sort(key=lambda e: e.epoch)  # stable: the file order breaks ties, as read_events does
    return events


def write_jsonl(f: NabFile, path: str | os.PathLike[str]) -> Path:
    """The same events as JSONL (file order), for ``tracewatch replay FILE``."""
    import orjson

    path = Path(path)
    with open(path, "wb") as fh:
        for d in event_dicts(f):
            fh.write(orjson.dumps(d) + b"\n")
    return path


def findings_for(f: NabFile, config_path: str | os.PathLike[str] | None = None) -> list[Any]:
    """Run a fresh suite built from ``config_path`` over the file's events, as ``tracewatch replay`` does."""
    from detectors.config import build_suite, load_config
    from detectors.suite import replay

    suite = build_suite(load_config(config_path or DEFAULT_CONFIG))
    return list(replay(events_for(f), suite))


def rows_of(f: NabFile, times: Iterable[float]) -> list[int]:
    """Per time, the first row (file order) whose timestamp is ``>= time`` (``len(rows)`` if none)."""
    running_max = list(accumulate(f.timestamps, max))  # first row >= t == first row whose running max >= t
    return [bisect_left(running_max, t) for t in times]


def detections_for(f: NabFile, findings: Iterable[Any]) -> list[int]:
    """Rows with anomaly score 1 (threshold 0.5): each finding's first row at or after ``finding.time``."""
    n = len(f.timestamps)
    return sorted({r for r in rows_of(f, (x.time for x in findings)) if r < n})


def _run_one(args: tuple[NabFile, str]) -> tuple[str, int, list[int], float]:
    f, config_path = args
    start = time.perf_counter()
    findings = findings_for(f, config_path)
    return f.name, len(findings), detections_for(f, findings), time.perf_counter() - start


def run_detectors(files: Sequence[NabFile], config_path: str | os.PathLike[str],
                  processes: int = 2) -> dict[str, dict[str, Any]]:
    """Per file: findings count and detected rows (``processes`` worker processes; 1: in this process)."""
    jobs = [(f, str(config_path)) for f in sorted(files, key=lambda f: -len(f.timestamps))]  # longest first
    if processes > 1 and len(jobs) > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(min(processes, len(jobs))) as pool:
            results = list(pool.imap_unordered(_run_one, jobs, chunksize=1))
    else:
        results = [_run_one(j) for j in jobs]
    return {name: {"findings": n, "detections": rows, "seconds": round(s, 3)} for name, n, rows, s in results}


def run_together(files: Sequence[NabFile], config_path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """As ``run_detectors``, but every file through one suite, one replay: one detector watching all the series,
    as a user watching many KPIs with one config does (its false-alarm budget is the detector's, spread over
    them). The files span different years: each is moved by whole weeks (hour of day and weekday kept) to start
    in the week of the earliest, and its findings are moved back."""
    from detectors.calibration import WEEK_S
    from detectors.config import build_suite, load_config
    from detectors.suite import replay
    from traces.events import TraceEvent

    start = time.perf_counter()
    first = min(f.timestamps[0] for f in files)
    shift = {f.feature: round((first - f.timestamps[0]) / WEEK_S) * WEEK_S for f in files}
    events = []
    for f in files:
        for d in event_dicts(f):
            d["timestamp"] += shift[f.feature]
            events.append(TraceEvent.model_validate(d))
    events.sort(key=lambda e: e.epoch)  # stable, as read_events sorts
    found: dict[str, list[Any]] = {}
    for x in replay(events, build_suite(load_config(config_path))):
        feature = x.series.rsplit("feature=", 1)[-1]
        found.setdefault(feature, []).append(x.model_copy(update={"time": x.time - shift[feature]}))
    seconds = round(time.perf_counter() - start, 3)
    return {f.name: {"findings": len(found.get(f.feature, ())), "seconds": seconds,
                     "detections": detections_for(f, found.get(f.feature, ()))} for f in files}


def score_config(config_path: str | os.PathLike[str] | None = None, files: Iterable[str] | None = None, *,
                 root: Path | None = None, processes: int = 2, together: bool = False) -> dict[str, Any]:
    """Score a detector config on NAB (all files, or ``files`` by name, e.g. those of ``split_of(...)``).

    Returns ``{"profiles": {profile: {"score" (normalised), "raw", "null", "perfect", "tp_windows",
    "windows", "fp"}}, "files": {name: {"split", "rows", "windows", "findings", "detections" (rows),
    "seconds", "profiles": {profile: {"raw", "tp_windows", "fp"}}}}, "config", "seconds"}``. ``together``: all
    the files through one detector (``run_together``), not one fresh suite each.
    """
    start = time.perf_counter()
    config_path = Path(config_path or DEFAULT_CONFIG)
    corpus = load_corpus(root, files)
    costs = load_profiles(root)
    ran = run_together(corpus, config_path) if together else run_detectors(corpus, config_path, processes)
    sweeps = {f.name: sweep(f.timestamps, f.windows) for f in corpus}
    detections = {name: r["detections"] for name, r in ran.items()}
    splits = split_of(load_windows(require_nab_dir(root)))
    per_file = {}
    for f in corpus:
        r = ran[f.name]
        scores = {p: score_detections(sweeps[f.name], detections[f.name], c) for p, c in costs.items()}
        per_file[f.name] = {"split": splits[f.name], "rows": len(f.timestamps), "windows": len(f.windows),
                            **r, "profiles": {p: {"raw": s.score, "tp_windows": s.tp_windows, "fp": s.fp}
                                              for p, s in scores.items()}}
    return {"config": str(config_path),
            "profiles": {p: total(sweeps, detections, c) for p, c in costs.items()},
            "files": per_file, "seconds": round(time.perf_counter() - start, 2)}


def by_split(result: dict[str, Any], root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per split present in ``result`` (and "all"): profile totals, each split normalised on its own."""
    corpus = {f.name: f for f in load_corpus(root, result["files"])}
    costs = load_profiles(root)
    sweeps = {name: sweep(f.timestamps, f.windows) for name, f in corpus.items()}
    detections = {name: r["detections"] for name, r in result["files"].items()}
    groups: dict[str, list[str]] = {}
    for name, r in result["files"].items():
        groups.setdefault(r["split"], []).append(name)
    groups = {s: groups[s] for s in SPLITS if s in groups}
    groups["all"] = list(result["files"])
    labels = load_labels(require_nab_dir(root))
    paged = {n: pages(sweeps[n], rows_of(f, labels[n]), detections[n]) for n, f in corpus.items()}
    paged_all = {n: pages(sweeps[n], rows_of(f, labels[n]), detections[n], probation=True) for n, f in corpus.items()}
    return {s: {"files": len(names),
                "profiles": {p: total({n: sweeps[n] for n in names}, detections, c) for p, c in costs.items()},
                "pages": sum((paged[n] for n in names), Pages()),
                "pages_with_probation": sum((paged_all[n] for n in names), Pages())}
            for s, names in groups.items()}


def file_lines(result: dict[str, Any], root: Path | None = None) -> list[str]:
    """Per file (``--files``): windows found, where each window was first detected (the share of the window
    already past: 0 is its first row, the best; ``-`` missed), FP rows and the standard raw score against the
    file's null (no detections) score."""
    corpus = {f.name: f for f in load_corpus(root, result["files"])}
    cost = load_profiles(root)["standard"]
    return [_file_line(f, sweep(f.timestamps, f.windows), result["files"][name]["detections"], cost,
                       result["files"][name]["split"]) for name, f in corpus.items()]


def _file_line(f: NabFile, sw: Sweep, detected: Sequence[int], cost: Cost, split: str) -> str:
    """One file's line: a window of rows 2-5 found at row 3 (a quarter in), one of rows 7-8 missed, an FP.

    >>> f = NabFile("c/x.csv", tuple(float(t) for t in range(10)), (0.0,) * 10, ((2.0, 5.0), (7.0, 8.0)))
    >>> sw = sweep(f.timestamps, f.windows, probation_percent=0.0)
    >>> _file_line(f, sw, [3, 9], Cost(tp=1.0, fp=0.11, fn=1.0), "tune").split()
    ['tune', 'c/x.csv', '1/2', 'FP', '1', 'raw', '-0.14', '(null', '-2.00)', 'windows', '0.25', '-']
    """
    s = score_detections(sw, detected, cost)
    first: dict[int, int] = {}
    for i in sorted(detected):
        w = sw.window_of[i] if i < sw.rows else OUTSIDE
        if w >= 0:
            first.setdefault(w, i)
    where = []
    for w, start in zip(sw.scored, sw.first_rows):
        end = max(i for i, k in enumerate(sw.window_of) if k == w)
        where.append(f"{(first[w] - start) / (end - start + 1):.2f}" if w in first else "-")
    return (f"{split:<8}{f.name:<50}{s.tp_windows:>4}/{s.windows}{'FP':>5}{s.fp:>4}  raw {s.score:>7.2f} "
            f"(null {null_score(sw, cost):>7.2f})  windows {' '.join(where)}")


def table(splits: dict[str, dict[str, Any]], published: dict[str, dict[str, dict[str, float]]]) -> str:
    """Our scores per split and profile, and right of ``|`` the published detectors' on the same files
    (``published_by_split``)."""
    head = f"{'split':<7}{'files':>6}  {'profile':<19}{'score':>8}{'TP windows':>12}{'FP':>6}  |"
    head += "".join(f"{label:>{max(len(label), 6) + 2}}" for label, _ in PUBLISHED)
    lines = [head, "-" * len(head)]
    for s, r in splits.items():
        for p in PROFILES:
            t = r["profiles"][p]
            line = (f"{s:<7}{r['files']:>6}  {p:<19}{t['score']:>8.1f}"
                    f"{str(t['tp_windows']) + '/' + str(t['windows']):>12}{t['fp']:>6}  |")
            line += "".join(f"{published[s][key][p]:>{max(len(label), 6) + 2}.1f}" for label, key in PUBLISHED)
            lines.append(line)
    lines.append("published detectors (right of |): their per-file scores in NAB's results/, on the same files and "
                 "normalised the same way (all 58: final_results.json); null = 0, perfect = 100")
    lines.append(f"on call: a page from {CATCH_BEFORE} rows before a labelled anomaly to {CATCH_AFTER} rows after it "
                 "catches it, every other page is false (NAB's labels, not its windows)")
    lines += [f"{s:<7}{r['files']:>6}  {r['pages'].summary()}" for s, r in splits.items()]
    lines.append("on call with NAB's probation counted too (a pager has none; no label lies in it):")
    lines += [f"{s:<7}{r['files']:>6}  {r['pages_with_probation'].summary()}" for s, r in splits.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.nab", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help=f"detector config (default {DEFAULT_CONFIG.name})")
    ap.add_argument("--split", choices=(*SPLITS, "all"), default="all",
                    help="files to run: the tune half, the report half, or all (default; prints both halves too)")
    ap.add_argument("--out", type=Path, help="write the full result (per file too) as JSON")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--together", action="store_true",
                    help="every file through one detector (one replay), not one fresh suite per file")
    ap.add_argument("--files", action="store_true",
                    help="per file too: windows found, where in each window (0 = its first row), FP, raw score")
    args = ap.parse_args(argv)
    root = root_or_error()
    if root is None:
        return 2
    names = None if args.split == "all" else files_by_split(load_windows(root))[args.split]
    result = score_config(args.config, names, root=root, processes=args.processes, together=args.together)
    splits = by_split(result, root)
    if args.split != "all":
        splits = {args.split: splits[args.split]}
    print(f"NAB v1.1, tracewatch detectors ({args.config}{', one detector for all' if args.together else ''}): "
          f"{len(result['files'])} files, "
          f"{sum(r['findings'] for r in result['files'].values())} findings, {result['seconds']:.1f} s")
    print(table(splits, published_by_split(root)))
    if args.files:
        print("\n".join(file_lines(result, root)))
    if args.out:
        args.out.write_text(json.dumps({**result, "splits": splits}, indent=1, default=asdict))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
