"""Prompt-injection detection: YAML signatures matched in linear time (RE2) on normalised text,
decoded payloads, and a shipped linear model over hashed n-grams that learns from labelled feedback.

Public API (imported by the detector suite, the worker and the CLI)::

    ScanResult, InjectionScanner, InjectionDetector, HashedLinearModel, SignatureLibrary,
    SignatureError, lint_file, lint_text, state_path, STATE_FILENAME

Reference: ``docs/injection.md``.
"""

from detectors.injection.detector import InjectionDetector
from detectors.injection.model import HashedLinearModel
from detectors.injection.scanner import STATE_FILENAME, InjectionScanner, ScanResult, state_path
from detectors.injection.signatures import SignatureError, SignatureLibrary, lint_file, lint_text

__all__ = [
    "STATE_FILENAME",
    "HashedLinearModel",
    "InjectionDetector",
    "InjectionScanner",
    "ScanResult",
    "SignatureError",
    "SignatureLibrary",
    "lint_file",
    "lint_text",
    "state_path",
]
