"""Every detector kind, parameter and CLI command of this area is documented in docs/detectors.md."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from detectors import KINDS
from detectors.config import COMMON_KEYS, INJECTION_OPTIONS, TOP_KEYS
from streams.cli import app

DOC = (Path(__file__).resolve().parents[3] / "docs" / "detectors.md").read_text()


def test_every_kind_and_key_is_documented():
    for kind, cls in KINDS.items():
        assert f"### kind: {kind}" in DOC
        for param in cls.params:
            assert f"{param}:" in DOC, f"{kind}.{param} is not in docs/detectors.md"
    for key in (*COMMON_KEYS, *TOP_KEYS, *INJECTION_OPTIONS):
        assert f"{key}:" in DOC, f"{key} is not in docs/detectors.md"


def test_commands_are_documented_with_an_example():
    for args in (["replay", "--help"], ["detectors", "lint", "--help"]):
        out = CliRunner().invoke(app, args).output
        assert "Example" in out
        assert f"tracewatch {' '.join(args[:-1])}" in DOC
