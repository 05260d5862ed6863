"""Online detectors on river. Pure: no Kafka, no Faust, no I/O (the config loader reads one file).

The streaming service and ``tracewatch replay`` share one code path:
``DetectorSuite.observe`` → ``DetectorSuite.flush`` → ``SeriesState.add`` / ``advance``.
"""

from detectors.anomaly import FieldAnomaly
from detectors.base import BucketSummary, Detector, SeriesSpec
from detectors.budget import Budget
from detectors.config import KINDS, ConfigError, build_suite, lint_file, lint_text, load_config
from detectors.cost import CostSpike
from detectors.errors import ErrorSurge
from detectors.finding import Evidence, Finding, Target
from detectors.history import SeriesHistory
from detectors.injection_rate import InjectionRate
from detectors.latency import LatencyRegression
from detectors.model_update import ModelUpdate
from detectors.quality import QualityRegression
from detectors.runaway import Runaway
from detectors.suite import DetectorSuite, SeriesState, replay

__all__ = [
    "BucketSummary", "Budget", "ConfigError", "CostSpike", "Detector", "DetectorSuite", "ErrorSurge",
    "Evidence", "FieldAnomaly", "Finding", "InjectionRate", "KINDS", "LatencyRegression",
    "ModelUpdate", "QualityRegression", "Runaway", "SeriesHistory", "SeriesSpec", "SeriesState", "Target", "build_suite", "lint_file",
    "lint_text", "load_config", "replay",
]
