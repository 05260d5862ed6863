"""The NAB data these tests need: missing data is a failure with a clear message, never a skip."""

from __future__ import annotations

import pytest

from bench import nab


@pytest.fixture(scope="session")
def nab_root():
    try:
        return nab.require_nab_dir()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
