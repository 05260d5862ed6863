"""The slack action against the Slack Web API double over loopback HTTPS."""

from __future__ import annotations

import json
import logging

import pytest

from runbooks.actions import build_actions
from runbooks.actions.base import ActionError
from runbooks.actions.settings import SlackConfig
from runbooks.actions.slack import SlackAction, SlackParams
from tests.doubles.fixtures import TEST_SLACK_TOKEN, action_settings, pagerduty_double, slack_double, test_ca  # noqa: F401
from tests.doubles.incidents import HOSTILE, action_context, sample_incident
from tests.doubles.retry import RetryLog, run_with_retries

pytestmark = pytest.mark.integration


@pytest.fixture
def config(slack_double, test_ca) -> SlackConfig:
    return SlackConfig(token=TEST_SLACK_TOKEN, api_url=slack_double.api_url, ca_bundle=test_ca.bundle,
                       channel="#llm-oncall")


async def test_posts_block_kit_with_evidence_and_buttons(action_settings, slack_double) -> None:
    incident = sample_incident("inc-s1", summary=HOSTILE, prompt_id="support")
    ctx = action_context(incident, execution_id="exec-9", step=2)
    result = await build_actions(action_settings)["slack"].execute(SlackParams(channel="#ops"), ctx)
    [message] = slack_double.messages
    assert result.detail == {"channel": "#ops", "ts": message["ts"]} and result.status_code == 200
    assert message["metadata"] == {"event_type": "tracewatch_incident", "event_payload": {
        "incident_id": "inc-s1", "idempotency_key": "exec-9:2", "execution_id": "exec-9"}}
    text = message["blocks"][0]["text"]["text"]
    assert "&lt;https://evil.example|click here&gt;" in text and "<!channel>" not in text and "{{ 7*7 }}" in text
    assert message["text"] == text
    values = [json.loads(b["value"]) for b in message["blocks"][-1]["elements"]]
    assert values == [{"action": "ack", "incident_id": "inc-s1"},
                      {"action": "unblock", "incident_id": "inc-s1", "subject": "user:u-42"},
                      {"action": "roll_forward", "incident_id": "inc-s1", "prompt_id": "support"}]
    fields = "\n".join(f["text"] for f in message["blocks"][1]["fields"])
    assert "*Observed*\n81 (baseline 10)" in fields and "t-1, t-2" in fields


async def test_text_only_to_default_channel(config, slack_double) -> None:
    params = SlackParams(text="{{ incident.id }} resolved", blocks=False)
    await SlackAction(config).execute(params, action_context(sample_incident("inc-s2"), "resolved"))
    [message] = slack_double.messages
    assert (message["channel"], message["text"], message["blocks"]) == ("#llm-oncall", "inc-s2 resolved", None)


async def test_rate_limit_honours_retry_after(config, slack_double) -> None:
    slack_double.rate_limit_next(2, retry_after=7)
    log = RetryLog()
    result = await run_with_retries(SlackAction(config), SlackParams(), action_context(sample_incident()), log=log)
    assert log.waits == [7.0, 7.0] and [e.status_code for e in log.errors] == [429, 429]
    assert len(slack_double.messages) == 1 and result.detail["ts"] == slack_double.messages[0]["ts"]


async def test_in_client_rate_limit_retries(config, slack_double) -> None:
    """With rate_limit_retries, slack_sdk's bounded handler waits Retry-After itself (0 s here)."""
    slack_double.rate_limit_next(1, retry_after=0)
    action = SlackAction(config.model_copy(update={"rate_limit_retries": 1}))
    await action.execute(SlackParams(), action_context(sample_incident()))
    assert len(slack_double.messages) == 1 and slack_double.request_count == 2


async def test_bad_token_is_not_retryable_and_not_leaked(config, slack_double, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bad = config.model_copy(update={"token": config.token.__class__("xoxb-wrong-token-secret")})
    with pytest.raises(ActionError, match="invalid_auth") as info:
        await SlackAction(bad).execute(SlackParams(), action_context(sample_incident()))
    assert info.value.retryable is False
    assert "xoxb-wrong-token-secret" not in caplog.text and "xoxb-wrong-token-secret" not in str(info.value)


async def test_server_error_is_retryable(config, slack_double) -> None:
    slack_double.fail_next(1, 503)
    with pytest.raises(ActionError) as info:
        await SlackAction(config).execute(SlackParams(), action_context(sample_incident()))
    assert (info.value.status_code, info.value.retryable) == (503, True)
