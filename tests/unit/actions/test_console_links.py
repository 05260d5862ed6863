"""Pages and Slack posts link to the incident's page in the console, at TRACEWATCH_PUBLIC_URL."""

from __future__ import annotations

from runbooks.actions.settings import pagerduty_config, slack_config
from runbooks.templating import console_url
from streams.settings import Settings


def test_links_point_at_the_console_at_the_public_url() -> None:
    settings = Settings(_env_file=None, api_url="http://10.0.0.7:6066", public_url="https://oncall.example.com/tw/")
    for config in (pagerduty_config(settings), slack_config(settings)):
        assert config.console_url == "https://oncall.example.com/tw"
        assert config.incident_api_url == "http://10.0.0.7:6066"
    assert console_url("https://oncall.example.com/tw", "inc/<img src=x>#1") == (
        "https://oncall.example.com/tw/incidents/inc%2F%3Cimg%20src%3Dx%3E%231")


def test_without_a_public_url_links_use_the_api_url() -> None:
    settings = Settings(_env_file=None, api_url="http://10.0.0.7:6066/")
    assert pagerduty_config(settings).console_url == "http://10.0.0.7:6066"
