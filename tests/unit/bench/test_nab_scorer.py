"""bench/nab.py's NAB scoring: NAB's published windowedGaussian results reproduced, and the rules one by one."""

from __future__ import annotations

import csv
import json
import math

import pytest

from bench import nab

STANDARD = nab.Cost(tp=1.0, fp=0.11, fn=1.0)


# ---- NAB's published results ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def windowed_gaussian(nab_root):
    """Per file: the sweep of windowedGaussian's own result rows and their anomaly scores."""
    out = {}
    for f in nab.load_corpus(nab_root):
        category, name = f.name.split("/")
        header, rows = nab.read_series(nab_root / "results" / "windowedGaussian" / category / f"windowedGaussian_{name}")
        ti, si = header.index("timestamp"), header.index("anomaly_score")
        assert len(rows) == len(f.timestamps), f.name
        out[f.name] = (nab.sweep([nab.epoch(r[ti]) for r in rows], f.windows), [float(r[si]) for r in rows])
    assert len(out) == 58
    return out


@pytest.fixture(scope="module")
def thresholds(nab_root):
    return json.loads((nab_root / "config" / "thresholds.json").read_text())["windowedGaussian"]


@pytest.mark.parametrize("profile", nab.PROFILES)
def test_windowed_gaussian_normalised_score_is_the_published_one(nab_root, windowed_gaussian, thresholds, profile):
    cost = nab.load_profiles(nab_root)[profile]
    threshold = thresholds[profile]["threshold"]
    sweeps = {name: sw for name, (sw, _) in windowed_gaussian.items()}
    detections = {name: nab.detections_at(scores, threshold) for name, (_, scores) in windowed_gaussian.items()}
    result = nab.total(sweeps, detections, cost)
    published = nab.load_published(nab_root)["windowedGaussian"][profile]
    assert abs(result["score"] - published) < 0.5, (result, published)
    assert result["score"] == pytest.approx(published, abs=1e-6)  # in fact it is NAB's number
    # NAB's normalisation: null = the null detector's raw score, perfect = windows x A_TP
    assert result["null"] == -116 * cost.fn and result["perfect"] == pytest.approx(116 * cost.tp)
    assert result["windows"] == 116


@pytest.mark.parametrize("profile", nab.PROFILES)
def test_windowed_gaussian_per_file_scores_and_counts_are_the_published_ones(
        nab_root, windowed_gaussian, thresholds, profile):
    cost = nab.load_profiles(nab_root)[profile]
    path = nab_root / "results" / "windowedGaussian" / f"windowedGaussian_{profile}_scores.csv"
    with open(path, newline="") as fh:
        published = {r["File"]: r for r in csv.DictReader(fh) if r["File"]}
    assert set(published) == set(windowed_gaussian)
    for name, (sw, scores) in windowed_gaussian.items():
        s = nab.score_detections(sw, nab.detections_at(scores, thresholds[profile]["threshold"]), cost)
        row = published[name]
        assert s.score == pytest.approx(float(row["Score"]), abs=1e-9), name
        assert (s.tp, s.tn, s.fp, s.fn) == tuple(int(row[k]) for k in ("TP", "TN", "FP", "FN")), name


def test_null_scores_are_the_published_null_detectors(nab_root, thresholds):
    corpus = nab.load_corpus(nab_root)
    published = json.loads((nab_root / "config" / "thresholds.json").read_text())["null"]
    for profile, cost in nab.load_profiles(nab_root).items():
        null = sum(nab.null_score(nab.sweep(f.timestamps, f.windows), cost) for f in corpus)
        assert null == published[profile]["score"]


def test_the_published_detectors_per_file_scores_add_up_to_their_published_totals(nab_root):
    """The vendored per-file scores are NAB's: over all 58 files they give final_results.json, and the
    windowed Gaussian's are the per-file scores beside its raw output. The halves are the same files'
    scores, normalised on their own windows."""
    published = nab.load_published(nab_root)
    by_split = nab.published_by_split(nab_root)
    vendored = json.loads(nab.PUBLISHED_FILES.read_text())["scores"]
    windows = nab.load_windows(nab_root)
    assert {key for _, key in nab.PUBLISHED} - {"null"} <= set(vendored)
    for key, profiles in vendored.items():
        for profile in nab.PROFILES:
            assert set(profiles[profile]) == set(windows), (key, profile)
            assert by_split["all"][key][profile] == pytest.approx(published[key][profile], abs=0.01), (key, profile)
    for profile in nab.PROFILES:
        path = nab_root / "results" / "windowedGaussian" / f"windowedGaussian_{profile}_scores.csv"
        with open(path, newline="") as fh:
            rows = {r["File"]: float(r["Score"]) for r in csv.DictReader(fh) if r["File"]}
        assert vendored["windowedGaussian"][profile] == pytest.approx(rows, abs=1e-9)
    # each half normalised on its own windows: the halves' windows weigh the total between them
    split = nab.split_of(windows)
    halves = {s: sum(len(w) for n, w in windows.items() if split[n] == s) for s in nab.SPLITS}
    htm = {s: by_split[s]["numenta"]["standard"] for s in (*nab.SPLITS, "all")}
    assert htm["tune"] != htm["report"]
    assert sum(htm[s] * halves[s] for s in nab.SPLITS) / sum(halves.values()) == pytest.approx(htm["all"])
    assert all(by_split[s]["null"] == dict.fromkeys(nab.PROFILES, 0.0) for s in by_split)


# ---- the rules, on synthetic files ----------------------------------------------------------------------

def synthetic(rows=1000, windows=((700, 709),)):
    """A file of ``rows`` rows one minute apart, windows given by (first row, last row)."""
    ts = [60.0 * i for i in range(rows)]
    return nab.sweep(ts, [(ts[a], ts[b]) for a, b in windows])


def score(sw, rows, cost=STANDARD):
    return nab.score_detections(sw, rows, cost)


def test_probation_is_15_percent_of_the_rows_at_most_750():
    assert nab.probation_length(1000) == 150
    assert nab.probation_length(4032) == 604  # floor
    assert nab.probation_length(5000) == 750
    assert nab.probation_length(15902) == 750
    sw = synthetic(1000)
    assert sw.window_of[149] == nab.PROBATION and sw.window_of[150] == nab.OUTSIDE


def test_a_detection_at_a_windows_first_row_scores_a_tp():
    sw = synthetic()
    assert sw.unweighted[700] == pytest.approx(2 / (1 + math.exp(-5)) - 1) == pytest.approx(0.98661, abs=1e-5)
    # NAB v1.1's sweeper divides by that maximum, so the first row is worth exactly A_TP
    for tp in (1.0, 2.5):
        s = score(sw, [700], nab.Cost(tp=tp, fp=0.11, fn=1.0))
        assert s.score == pytest.approx(tp) and s.tp_windows == 1 and s.windows == 1
    # later in the window is worth less, the last row almost nothing
    middle, last = score(sw, [705]).score, score(sw, [709]).score
    assert 0 < last < middle < 1.0 and last < 0.5


def test_a_missed_window_costs_a_fn():
    sw = synthetic()
    assert score(sw, []).score == -1.0
    assert score(sw, [], nab.Cost(tp=1.0, fp=0.11, fn=2.0)).score == -2.0
    assert nab.null_score(sw, STANDARD) == -1.0 and nab.perfect_score(sw, STANDARD) == pytest.approx(1.0)


def test_only_the_first_detection_in_a_window_counts():
    sw = synthetic()
    first = score(sw, [703])
    more = score(sw, [703, 704, 708])
    assert more.score == first.score and more.tp_windows == 1 and more.tp == 3
    assert score(sw, [708, 703]).score == first.score  # order of the rows given does not matter


def test_an_fp_far_from_windows_costs_a_fp():
    sw = synthetic(2000, windows=((1500, 1509),))
    # before any window: the full -A_FP
    assert score(sw, [400]).score == pytest.approx(-1.0 - 0.11)
    assert score(sw, [400, 401]).score == pytest.approx(-1.0 - 0.22)
    # more than 3 window widths (here (10 - 1) rows each) after the window's end: the full -A_FP
    assert score(sw, [1509 + 28]).score == pytest.approx(-1.0 - 0.11)
    # just after the window: almost free; one width after it: nearly the full cost
    assert -1.0 - 0.11 * 0.5 < score(sw, [1510]).score < -1.0
    assert score(sw, [1509 + 9]).score == pytest.approx(-1.0 + 0.11 * (2 / (1 + math.exp(5)) - 1))
    assert score(sw, [1510]).fp == 1


def test_a_detection_in_the_probation_period_counts_nothing():
    sw = synthetic(1000, windows=((100, 199),))  # a window that starts in the probation period
    assert score(sw, [10]).score == score(sw, []).score == -1.0
    assert score(sw, [120]).score == -1.0 and score(sw, [120]).tp == 0  # in the window, but in probation
    assert score(sw, [150]).score > 0  # the window's first scorable row
    assert score(sw, [10]).fp == 0


def test_a_detection_is_an_anomaly_score_at_or_above_the_threshold():
    assert nab.detections_at([0.0, 0.5, 0.49, 1.0], 0.5) == [1, 3]
    assert nab.detections_at([0.0, 1.0], 1.0) == [1]


def test_normalisation():
    assert nab.normalise(-116.0, -116.0, 116.0) == 0.0
    assert nab.normalise(116.0, -116.0, 116.0) == 100.0
    assert nab.normalise(-67.0131, -232.0, 116.0) == pytest.approx(47.41, abs=0.01)
