"""Slack button callbacks: only signed, fresh, well-formed presses of tracewatch's buttons pass."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from runbooks.slack_callbacks import BadSignature, MalformedPayload, StaleRequest, parse_slack_action

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000


def signed(payload: object, *, secret: str = SECRET, ts: int = NOW, raw: bytes | None = None):
    body = raw if raw is not None else urlencode({"payload": json.dumps(payload)}).encode()
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}, body


def press(action: str, **value: str) -> dict:
    return {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "ana"},
        "channel": {"id": "C123"},
        "container": {"message_ts": "1700000000.000100"},
        "response_url": "https://hooks.slack.com/actions/T/1/x",
        "actions": [{"action_id": f"tracewatch:{action}",
                     "value": json.dumps({"action": action, "incident_id": "inc-7", **value})}],
    }


def test_valid_unblock() -> None:
    headers, body = signed(press("unblock", subject="user:u-42"))
    action = parse_slack_action(headers, body, SECRET, now=NOW + 30)
    assert (action.action, action.incident_id, action.subject, action.user, action.actor) == (
        "unblock", "inc-7", "user:u-42", "U024BE7LH", "slack:U024BE7LH")
    assert (action.channel_id, action.message_ts) == ("C123", "1700000000.000100")


def test_valid_roll_forward_with_lowercase_headers() -> None:
    headers, body = signed(press("roll_forward", prompt_id="support"))
    action = parse_slack_action({k.lower(): v for k, v in headers.items()}, body, SECRET, now=NOW)
    assert (action.action, action.prompt_id) == ("roll_forward", "support")


@pytest.mark.parametrize("mutate", [
    lambda h, b: ({**h, "X-Slack-Signature": "v0=" + "0" * 64}, b),
    lambda h, b: (h, b + b"&x=1"),
    lambda h, b: ({k: v for k, v in h.items() if k != "X-Slack-Signature"}, b),
    lambda h, b: ({**h, "X-Slack-Request-Timestamp": "soon"}, b),
])
def test_bad_signature(mutate) -> None:
    headers, body = mutate(*signed(press("ack")))
    with pytest.raises(BadSignature) as info:
        parse_slack_action(headers, body, SECRET, now=NOW)
    assert info.value.status_code == 401


def test_wrong_secret() -> None:
    headers, body = signed(press("ack"), secret="another-secret")
    with pytest.raises(BadSignature):
        parse_slack_action(headers, body, SECRET, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_stale_or_future_request(age: int) -> None:
    headers, body = signed(press("ack"), ts=NOW)
    with pytest.raises(StaleRequest) as info:
        parse_slack_action(headers, body, SECRET, now=NOW + age)
    assert info.value.status_code == 401


def test_no_signing_secret_refuses() -> None:
    headers, body = signed(press("ack"))
    with pytest.raises(BadSignature, match="TRACEWATCH_SLACK_SIGNING_SECRET"):
        parse_slack_action(headers, body, "", now=NOW)


@pytest.mark.parametrize("payload, raw", [
    (None, b"payload=not-json"),
    (None, b"nothing=here"),
    ({"type": "view_submission"}, None),
    ({**press("ack"), "actions": []}, None),
    ({**press("ack"), "actions": [{"action_id": "other:ack", "value": "{}"}]}, None),
    ({**press("ack"), "actions": [{"action_id": "tracewatch:ack", "value": json.dumps(
        {"action": "delete_everything", "incident_id": "i"})}]}, None),
    ({**press("ack"), "actions": [{"action_id": "tracewatch:ack", "value": json.dumps(
        {"action": "unblock", "incident_id": "i", "subject": "user:u"})}]}, None),  # id and value disagree
    (press("unblock"), None),  # no subject
    (press("unblock", subject="everyone"), None),
    (press("roll_forward"), None),  # no prompt_id
    ({**press("ack"), "user": "U1"}, None),
])
def test_malformed_payloads(payload, raw) -> None:
    headers, body = signed(payload, raw=raw)
    with pytest.raises(MalformedPayload) as info:
        parse_slack_action(headers, body, SECRET, now=NOW)
    assert info.value.status_code == 400
