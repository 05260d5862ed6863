"""A finding whose score or value overflowed still reaches the incidents stage (streams/records.py)."""

from __future__ import annotations

import math
import sys

from detectors.finding import Evidence, Finding
from streams.records import finding_value, read_findings_value


def test_a_finding_that_overflowed_reads_back_from_the_findings_topic():
    """Two costs of 1e308 in one window sum to infinity: the cost detector's score and observed value were
    infinite, written to the topic as null, and the incidents stage refused the record (the incident was lost)."""
    inf = float("inf")
    finding = Finding(time=1_780_300_800.0, detector="cost_spike", kind="cost", series="model=m",
                      severity="critical", score=inf, summary="cost_usd inf in 10s is infx the usual 0.03",
                      evidence=Evidence(observed=inf, baseline=-inf, details={"z": inf}))
    back = read_findings_value(finding.incident_key.encode(), finding_value(finding))
    assert back.evidence.details == {"z": None}  # free-form details: an infinity is unknown there
    assert back.model_copy(update={"evidence": finding.evidence}) == finding
    assert back.score == back.evidence.observed == sys.float_info.max and back.evidence.baseline == -sys.float_info.max
    nan = Finding(time=1.0, detector="d", kind="cost", series="s", severity="info", score=math.nan,
                  evidence=Evidence(observed=math.nan))
    assert nan.score == 0.0 and nan.evidence.observed is None
