"""Fixtures for the runbook engine tests: a fake clock and in-memory ports."""

from __future__ import annotations

import pytest

from runbooks.controls import InMemoryControls
from runbooks.ports import Ports
from runbooks.prompts import PromptRegistry
from runbooks.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def ports(clock: FakeClock) -> Ports:
    return Ports(clock=clock, controls=InMemoryControls(clock), prompts=PromptRegistry(clock))

