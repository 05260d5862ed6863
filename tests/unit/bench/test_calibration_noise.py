"""bench/calibration_noise.py: the noise simulation counts what it claims, on a small run."""

from __future__ import annotations

import pytest

from bench import calibration_noise as noise


def test_the_summary_leaves_out_the_learning_week():
    r = noise.summarise([[50, 1, 3], [50, 2, 0], [50, 0, 2]])
    assert r["mean"] == pytest.approx(8 / 6)
    assert r["low"] < r["mean"] < r["high"]
    assert r["weeks"] == [150, 3, 5]


def test_series_are_reproducible_and_differ_by_seed():
    first = list(noise.series("t3", 1, 100))
    assert first == list(noise.series("t3", 1, 100))
    assert first != list(noise.series("t3", 2, 100))
    for kind in noise.KINDS:
        mean = sum(noise.series(kind, 0, 1440)) / 1440
        if kind.startswith("sparse"):  # a count that is mostly 0: 0.01 or 0.1 a minute
            assert 0.3 * float(kind[6:]) < mean < 3 * float(kind[6:]), kind
        else:
            assert 20 < mean < 200, kind  # a level near 100 (Poisson: 20)


def test_pages_follow_the_budget_on_heavy_tailed_noise():
    """One Student-t(3) series for two weeks, the second judged: about one page at the budget of one a week,
    many more at a budget of 30 (the bench measures the budget, not a detector that never pages)."""
    calibrated = noise.pages_per_week("t3", 0, 2)
    loose = noise.pages_per_week("t3", 0, 2, {"false_alarms_per_week": 30})
    assert calibrated[1] <= 3, calibrated
    assert loose[1] >= 8, loose


def test_two_weeks_is_the_least():
    with pytest.raises(ValueError, match="at least 2"):
        noise.simulate(["gauss"], 1, 1)


def test_series_per_detector_share_one_budget():
    """``--series N``: one detector over N series, its pages counted; the budget is spread over them
    (``watched``), so two series page no more than one does at the same budget, give or take one."""
    one = noise.pages_per_week("t3", 0, 2)
    two = noise.pages_per_week("t3", 0, 2, watched=2)
    assert len(two) == 2 and two[1] <= one[1] + 1, (one, two)
    with pytest.raises(ValueError, match="at least 1"):
        noise.simulate(["t3"], 1, 2, watched=0)
