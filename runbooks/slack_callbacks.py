"""Read a Slack interactivity callback (a button press) into a ``SlackAction`` — after checking it.

``POST /slack/actions`` hands the raw headers and body here. The signature is verified with
``slack_sdk``'s ``SignatureVerifier`` (HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the signing
secret; requests older than five minutes are refused as replays), then the form field ``payload`` is
parsed: a ``block_actions`` payload whose first action is one of tracewatch's buttons
(``runbooks.actions.slack``). Each failure is a ``SlackCallbackError`` subclass with the HTTP status
to answer (401 for signature and age, 400 for the payload).

>>> import hashlib, hmac, json, urllib.parse
>>> value = json.dumps({"action": "ack", "incident_id": "inc-1"})
>>> payload = {"type": "block_actions", "user": {"id": "U1", "username": "ana"},
...            "actions": [{"action_id": "tracewatch:ack", "value": value}]}
>>> body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
>>> sig = "v0=" + hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
>>> headers = {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": sig}
>>> parse_slack_action(headers, body, "s3cret", now=1700000010.0)
SlackAction(action='ack', incident_id='inc-1', user='U1', user_name='ana', subject=None, prompt_id=None, channel_id=None, message_ts=None, response_url=None, model=None)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

from runbooks.actions.slack import ACTION_ID_PREFIX

CallbackAction = Literal["ack", "unblock", "roll_forward", "adopt_model"]
ACTIONS: tuple[str, ...] = ("ack", "unblock", "roll_forward", "adopt_model")
MAX_AGE_S = 300
MAX_BODY_BYTES = 64 * 1024
MAX_ID_CHARS = 256


class SlackCallbackError(ValueError):
    """The callback cannot be trusted or understood; answer ``status_code``."""

    status_code = 400


class BadSignature(SlackCallbackError):
    status_code = 401


class StaleRequest(SlackCallbackError):
    status_code = 401


class MalformedPayload(SlackCallbackError):
    status_code = 400


@dataclass(frozen=True)
class SlackAction:
    action: CallbackAction
    incident_id: str
    user: str  # the Slack user id, e.g. "U024BE7LH"
    user_name: str | None = None
    subject: str | None = None  # unblock: "user:<id>" or "session:<id>"
    prompt_id: str | None = None  # roll_forward
    channel_id: str | None = None
    message_ts: str | None = None  # the message the button was on (to update it)
    response_url: str | None = None
    model: str | None = None  # adopt_model: the requested model whose pin goes

    @property
    def actor(self) -> str:
        """How the audit and the incident record who did it: ``slack:<user id>``."""
        return f"slack:{self.user}"


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def verify(headers: Mapping[str, str], body: bytes, signing_secret: str, now: float | None = None) -> None:
    """Raise ``BadSignature`` or ``StaleRequest`` unless Slack signed this body in the last 5 minutes."""
    if not signing_secret:
        raise BadSignature("Slack callbacks are not configured: set TRACEWATCH_SLACK_SIGNING_SECRET")
    timestamp = _header(headers, "x-slack-request-timestamp")
    signature = _header(headers, "x-slack-signature")
    if not timestamp or not signature:
        raise BadSignature("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise BadSignature("X-Slack-Request-Timestamp is not an integer") from None
    clock = _FixedClock(now) if now is not None else Clock()
    if abs(clock.now() - sent_at) > MAX_AGE_S:
        raise StaleRequest("the request is older than 5 minutes (a replay, or a clock out of sync)")
    verifier = SignatureVerifier(signing_secret, clock=clock)
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:
        valid = False
    if not valid:
        raise BadSignature("the signature does not match the body")


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise MalformedPayload(f"{what} must be a non-empty string of at most {MAX_ID_CHARS} characters")
    return value


def parse_slack_action(
    headers: Mapping[str, str], body: bytes, signing_secret: str, now: float | None = None,
) -> SlackAction:
    """Verify, then parse a button press; raises a ``SlackCallbackError`` subclass."""
    if len(body) > MAX_BODY_BYTES:
        raise MalformedPayload(f"body larger than {MAX_BODY_BYTES} bytes")
    verify(headers, body, signing_secret, now)
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=20)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise MalformedPayload("expected a form field `payload` holding JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise MalformedPayload("expected a block_actions payload")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise MalformedPayload("the payload has no actions")
    pressed = actions[0]
    action_id = pressed.get("action_id")
    if not isinstance(action_id, str) or not action_id.startswith(ACTION_ID_PREFIX):
        raise MalformedPayload("not a tracewatch button")
    try:
        value = json.loads(_string(pressed.get("value"), "the button value"))
    except ValueError:
        raise MalformedPayload("the button value is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedPayload("the button value is not an object")
    action = value.get("action")
    if action not in ACTIONS or action_id != ACTION_ID_PREFIX + action:
        raise MalformedPayload(f"unknown action; allowed: {', '.join(ACTIONS)}")
    user = payload.get("user")
    if not isinstance(user, dict):
        raise MalformedPayload("the payload has no user")
    subject = prompt_id = None
    if action == "unblock":
        subject = _string(value.get("subject"), "unblock's subject")
        if not subject.startswith(("user:", "session:")):
            raise MalformedPayload("unblock's subject must be user:<id> or session:<id>")
    if action == "roll_forward":
        prompt_id = _string(value.get("prompt_id"), "roll_forward's prompt_id")
    model = _string(value.get("model"), "adopt_model's model") if action == "adopt_model" else None
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    response_url = payload.get("response_url")
    user_name = user.get("username") or user.get("name")
    return SlackAction(
        action=action,
        incident_id=_string(value.get("incident_id"), "incident_id"),
        user=_string(user.get("id"), "user.id"),
        user_name=user_name if isinstance(user_name, str) else None,
        subject=subject,
        prompt_id=prompt_id,
        channel_id=channel.get("id") if isinstance(channel.get("id"), str) else None,
        message_ts=container.get("message_ts") if isinstance(container.get("message_ts"), str) else None,
        response_url=response_url if isinstance(response_url, str) else None,
        model=model,
    )
