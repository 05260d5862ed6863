import pytest

from detectors.injection import InjectionScanner


@pytest.fixture(scope="session")
def scanner() -> InjectionScanner:
    """The shipped signatures and the seed-trained classifier (do not teach it: shared)."""
    return InjectionScanner.load()


@pytest.fixture()
def fresh_scanner() -> InjectionScanner:
    """A scanner of one's own, for tests that teach the classifier."""
    return InjectionScanner.load()
