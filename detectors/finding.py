"""What a detector reports: a ``Finding``. Shared by the detectors, the incident agent and the runbooks.

>>> f = Finding(time=1700000000.0, detector="cost_spike", kind="cost", series="model=gpt-4o",
...             severity="critical", score=0.97, summary="spend 8.1x baseline",
...             evidence=Evidence(observed=81.0, baseline=10.0, window_s=60, example_trace_ids=["t1"]),
...             target=Target(model="gpt-4o"))
>>> f.incident_key
'cost_spike|model=gpt-4o'
>>> Finding.model_validate_json(f.model_dump_json()) == f
True
"""

from __future__ import annotations

import math
import sys
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


def _finite(x: float | None) -> float | None:
    """JSON has no infinity and no NaN: a score or value that overflowed (two costs of 1e308 in one window)
    would be written to the findings topic as null and the finding refused where it is read back, lost. It is
    kept as the largest float instead (NaN: 0 for a score, unknown for a value: ``_score``, ``_value``).

    >>> _finite(float("-inf")), _finite(2.5), _value(float("nan")), _score(float("nan"))
    (-1.7976931348623157e+308, 2.5, None, 0.0)
    """
    if x is None or math.isfinite(x) or math.isnan(x):
        return x
    return math.copysign(sys.float_info.max, x)


def _score(x: float) -> float:
    return 0.0 if math.isnan(x) else _finite(x)


def _value(x: float | None) -> float | None:
    return None if x is not None and math.isnan(x) else _finite(x)


Score = Annotated[float, AfterValidator(_score)]
Value = Annotated[float | None, AfterValidator(_value)]


class Evidence(BaseModel):
    """Why the detector fired: what it saw against what it expected."""

    model_config = ConfigDict(extra="forbid")

    observed: Value = None
    baseline: Value = None
    window_s: float | None = None
    example_trace_ids: list[str] = Field(default_factory=list, max_length=5)
    details: dict[str, Any] = Field(default_factory=dict)  # detector-specific, e.g. remaining budget


class Target(BaseModel):
    """What an action would act on (block a user, roll back a prompt version, …)."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = None
    session_id: str | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    provider: str | None = None
    app: str | None = None
    feature: str | None = None


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: float  # event time, epoch seconds
    detector: str  # the configured detector's name, e.g. "cost_spike"
    kind: str  # the detector family: cost, budget, runaway, latency, errors, quality, injection, anomaly
    series: str  # the series key, e.g. "model=gpt-4o" or "prompt_id=support@3"
    severity: Severity
    score: Score
    summary: str = ""
    evidence: Evidence = Field(default_factory=Evidence)
    target: Target = Field(default_factory=Target)
    labels: dict[str, str] = Field(default_factory=dict)  # for runbook label matchers

    @property
    def incident_key(self) -> str:
        """Findings with the same key belong to the same incident (grouped per detector and series)."""
        return f"{self.detector}|{self.series}"
