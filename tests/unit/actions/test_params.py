"""Step parameters and action configuration are validated before anything runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runbooks.actions import ACTION_TYPES, build_actions
from runbooks.actions.base import ActionError
from runbooks.actions.pagerduty import PageAction, PageParams, ResolvePageAction
from runbooks.actions.settings import ActionConfigError, PagerDutyConfig
from runbooks.actions.slack import SlackAction, SlackParams, buttons, message_blocks
from runbooks.actions.webhook import WebhookAction, WebhookParams
from streams.settings import Settings
from tests.doubles.incidents import HOSTILE, action_context, sample_incident


def test_registered() -> None:
    for name in ("page", "resolve_page", "slack", "webhook"):
        assert name in ACTION_TYPES


@pytest.mark.parametrize("params, message", [
    ({"severity": "sev1"}, "severity"),
    ({"sumary": "typo"}, "Extra inputs are not permitted"),
    ({"summary": "{{ incident.id "}, "template error"),
    ({"custom_details": {"runbook": "{% if %}"}}, "custom_details.runbook"),
])
def test_page_params_rejected(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PageParams.model_validate(params)


def test_page_params_defaults() -> None:
    params = PageParams.model_validate({})
    assert params.severity is None and "incident.summary" in params.summary


@pytest.mark.parametrize("params, message", [
    ({"buttons": ["ack", "delete"]}, "buttons"),
    ({"text": "{% for %}"}, "template error"),
    ({"fields": {str(i): "x" for i in range(5)}}, "at most 4"),
    ({"chanel": "#x"}, "Extra inputs"),
])
def test_slack_params_rejected(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SlackParams.model_validate(params)


@pytest.mark.parametrize("params, message", [
    ({}, "url"),
    ({"url": "https://x", "headers": {"Bad Header": "v"}}, "not a valid HTTP header name"),
    ({"url": "https://x", "headers": {"X-A": "v\r\nX-Injected: 1"}}, "control characters"),
    ({"url": "https://x", "headers": {"Content-Length": "1"}}, "set by tracewatch"),
    ({"url": "https://x", "body": "{{ "}, "template error"),
    ({"url": "https://x", "timeout_s": 600}, "timeout_s"),
])
def test_webhook_params_rejected(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WebhookParams.model_validate(params)


@pytest.mark.parametrize("settings, message", [
    ({"pagerduty_events_url": "http://events.example"}, "TRACEWATCH_PAGERDUTY_EVENTS_URL: must start with https://"),
    ({"slack_api_url": "slack.com/api"}, "TRACEWATCH_SLACK_API_URL: must be an http"),
    ({"ca_bundle": "/nonexistent/ca.pem"}, "TRACEWATCH_CA_BUNDLE: CA bundle '/nonexistent/ca.pem' is not a file"),
])
def test_bad_config_fails_at_start_up(settings: dict, message: str) -> None:
    with pytest.raises(ActionConfigError, match=message):
        build_actions(Settings(_env_file=None, **settings))


def test_ca_bundle_must_hold_certificates(tmp_path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ActionConfigError, match="not a PEM file"):
        build_actions(Settings(_env_file=None, ca_bundle=bogus))


def test_bad_webhook_secrets(monkeypatch) -> None:
    # Settings has the field, so bad secrets fail as soon as the settings are read (at start-up).
    from pydantic import ValidationError

    monkeypatch.setenv("TRACEWATCH_WEBHOOK_SECRETS", "[1, 2]")
    with pytest.raises(ValidationError, match="webhook_secrets"):
        build_actions(Settings(_env_file=None))


@pytest.mark.parametrize("action, params, setting", [
    (PageAction, PageParams(), "TRACEWATCH_PAGERDUTY_ROUTING_KEY"),
    (ResolvePageAction, ResolvePageAction.Params(), "TRACEWATCH_PAGERDUTY_ROUTING_KEY"),
    (SlackAction, SlackParams(), "TRACEWATCH_SLACK_TOKEN"),
])
async def test_missing_credentials_fail_at_run_time_not_retryable(action, params, setting, monkeypatch) -> None:
    for name in ("TRACEWATCH_PAGERDUTY_ROUTING_KEY", "TRACEWATCH_SLACK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    built = build_actions(Settings(_env_file=None))[action.type]
    with pytest.raises(ActionError, match=f"not configured: set {setting}") as info:
        await built.execute(params, action_context(sample_incident()))
    assert info.value.retryable is False


async def test_unknown_webhook_secret_is_not_retryable() -> None:
    params = WebhookParams(url="https://127.0.0.1:9/x", secret_headers={"Authorization": "missing"})
    with pytest.raises(ActionError, match="secret 'missing' is not configured") as info:
        await WebhookAction().execute(params, action_context(sample_incident()))
    assert info.value.retryable is False


async def test_dry_run_sends_nothing() -> None:
    ctx = action_context(sample_incident())
    ctx.dry_run = True
    result = await PageAction(PagerDutyConfig()).execute(PageParams(), ctx)
    assert result.outcome == "dry_run"


def test_attempt_budget_outlasts_the_client_retries() -> None:
    config = PagerDutyConfig(request_timeout_s=2, max_retries=2, backoff_s=0.5)
    assert PageAction(config).timeout_s == config.attempt_budget_s == 5 * 2 + (1 + 2 + 4 + 8) + 1


def test_buttons_follow_the_target() -> None:
    user = sample_incident(user_id="u-1")
    assert [b["action_id"] for b in buttons(user, None, {})] == ["tracewatch:ack", "tracewatch:unblock"]
    prompt = sample_incident(user_id=None, prompt_id="support")
    assert [b["action_id"] for b in buttons(prompt, None, {})] == ["tracewatch:ack", "tracewatch:roll_forward"]
    chosen = buttons(user, ["unblock"], {"blocked_subject": "session:s-9"})
    assert chosen[0]["value"] == '{"action":"unblock","incident_id":"inc-0001","subject":"session:s-9"}'


def test_blocks_escape_every_incident_value() -> None:
    incident = sample_incident(summary=HOSTILE, user_id="<!channel>", details={"x": HOSTILE})
    incident.findings[-1].evidence.example_trace_ids = ["<https://evil|t>", "`x`"]
    blocks = message_blocks(incident, "rendered", "https://tw.example/v1/incidents/inc-0001",
                            buttons(incident, None, {}))
    mrkdwn = [f["text"] for f in blocks[1]["fields"]] + [blocks[2]["elements"][0]["text"]]
    joined = "\n".join(mrkdwn)
    assert "<!channel>" not in joined and "<https://evil" not in joined and "`" not in joined
    assert blocks[2]["elements"][0]["text"].startswith("<https://tw.example/v1/incidents/inc-0001|incident inc-0001>")
