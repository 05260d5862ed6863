"""pytest fixtures for the loopback doubles. ``tests/conftest.py`` imports them:

    from tests.doubles.fixtures import test_ca, pagerduty_double, slack_double, action_settings  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.settings import Settings
from demo.standins import PagerDutyStandin, SlackStandin
from tests.doubles.tls import TestCA

#: A routing key of the right shape (32 characters) that is obviously not a real one.
TEST_ROUTING_KEY = "R0UT1NGKEYdoNOTleak0123456789abc"
TEST_SLACK_TOKEN = "xoxb-tracewatch-test-token-do-not-leak"
TEST_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A CA for the session; ``test_ca.bundle`` is the PEM file to use as TRACEWATCH_CA_BUNDLE."""
    return TestCA(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def pagerduty_double(test_ca: TestCA) -> Iterator[PagerDutyStandin]:
    """PagerDuty Events API v2 over HTTPS on 127.0.0.1; accepts only ``TEST_ROUTING_KEY``."""
    with PagerDutyStandin(test_ca.server_context(), routing_key=TEST_ROUTING_KEY) as server:
        yield server


@pytest.fixture
def slack_double(test_ca: TestCA) -> Iterator[SlackStandin]:
    """Slack Web API over HTTPS on 127.0.0.1; accepts only ``TEST_SLACK_TOKEN``."""
    with SlackStandin(test_ca.server_context(), token=TEST_SLACK_TOKEN) as server:
        yield server


@pytest.fixture
def action_settings(pagerduty_double: PagerDutyStandin, slack_double: SlackStandin, test_ca: TestCA) -> Settings:
    """Settings whose PagerDuty and Slack are the doubles, trusted through the test CA."""
    return Settings(
        _env_file=None,
        pagerduty_routing_key=TEST_ROUTING_KEY,
        pagerduty_events_url=pagerduty_double.url,
        slack_token=TEST_SLACK_TOKEN,
        slack_api_url=slack_double.api_url,
        slack_signing_secret=TEST_SIGNING_SECRET,
        ca_bundle=test_ca.bundle,
    )


@pytest.fixture
def worker_env(pagerduty_double: PagerDutyStandin, slack_double: SlackStandin, test_ca: TestCA) -> dict[str, str]:
    """The same settings as ``action_settings``, as environment for a ``tracewatch worker`` process."""
    return {
        "TRACEWATCH_PAGERDUTY_ROUTING_KEY": TEST_ROUTING_KEY,
        "TRACEWATCH_PAGERDUTY_EVENTS_URL": pagerduty_double.url,
        "TRACEWATCH_SLACK_TOKEN": TEST_SLACK_TOKEN,
        "TRACEWATCH_SLACK_API_URL": slack_double.api_url,
        "TRACEWATCH_SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET,
        "TRACEWATCH_CA_BUNDLE": str(test_ca.bundle),
    }
