"""``slack``: a Block Kit message with the evidence and buttons (Acknowledge, Unblock, Roll forward,
Adopt new version).

Sent with ``slack_sdk``'s ``AsyncWebClient`` (base URL ``TRACEWATCH_SLACK_API_URL``, TLS trusting
``TRACEWATCH_CA_BUNDLE``). A 429 becomes a retryable ``ActionError`` whose ``retry_after`` is Slack's
``Retry-After``, so the executor waits exactly as long as Slack asked (in-client retries are off by
default; ``SlackConfig.rate_limit_retries`` turns on slack_sdk's bounded rate-limit handler).

Slack has no idempotency key. The message carries the step's idempotency key in its ``metadata``
(``event_type: tracewatch_incident``), and the result's ``detail`` has ``channel`` and ``ts`` for the
audit record: an executor that finds a succeeded audit for the key does not post again.

Every button's ``value`` is compact JSON ``{"action", "incident_id", "subject"?, "prompt_id"?, "model"?}``, read
back by ``runbooks.slack_callbacks.parse_slack_action``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar, Literal

import aiohttp
from pydantic import Field, field_validator
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from runbooks.actions._outbound import http_error, not_configured, parse_retry_after, scrub
from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams
from runbooks.actions.settings import SlackConfig, slack_config
from incidents.incident import Incident
from runbooks.templating import RenderError, check, check_each, console_url, escape_slack, truncate

log = logging.getLogger(__name__)

ButtonAction = Literal["ack", "unblock", "roll_forward", "adopt_model"]
BUTTON_TEXT: dict[str, str] = {"ack": "Acknowledge", "unblock": "Unblock", "roll_forward": "Roll forward",
                               "adopt_model": "Adopt new version"}
ACTION_ID_PREFIX = "tracewatch:"
METADATA_EVENT_TYPE = "tracewatch_incident"
DEFAULT_TEXT = (":rotating_light: *{{ incident.severity }}* {{ incident.detector }} on "
                "`{{ incident.series }}`: {{ incident.summary }}")
# Slack answers these with HTTP 200 and ok=false; they may succeed on another attempt.
RETRYABLE_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout"})
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000


class SlackParams(StepParams):
    """``- slack: {channel: "#llm-oncall", text: "…"}`` — every key optional."""

    channel: str | None = None  # default: TRACEWATCH_SLACK_CHANNEL
    text: str = DEFAULT_TEXT  # template, Slack mrkdwn; every value escaped (no links, no mentions)
    blocks: bool = True  # False: text only, no evidence, no buttons
    buttons: list[ButtonAction] | None = None  # default: ack, plus unblock / roll_forward / adopt_model when they apply
    fields: dict[str, str] = Field(default_factory=dict)  # extra evidence fields: title → template

    @field_validator("text")
    @classmethod
    def _check_text(cls, value: str) -> str:
        try:
            check(value)
        except RenderError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 4:
            raise ValueError("at most 4 extra fields (a Slack section holds 10, tracewatch uses 6)")
        return check_each(value, "fields")


class SlackAction(Action):
    type: ClassVar[str] = "slack"
    notification: ClassVar[bool] = True
    Params: ClassVar[type[StepParams]] = SlackParams
    timeout_s: ClassVar[float] = 20.0

    def __init__(self, config: SlackConfig | None = None) -> None:
        self.config = config or SlackConfig()
        self.timeout_s = 2 * self.config.request_timeout_s + 5.0
        self._ssl = self.config.ssl_context()

    @classmethod
    def from_settings(cls, settings: Any) -> "SlackAction":
        return cls(slack_config(settings))

    def _client(self) -> AsyncWebClient:
        if self.config.token is None:
            raise not_configured("Slack", "TRACEWATCH_SLACK_TOKEN")
        handlers: list = [AsyncConnectionErrorRetryHandler(max_retry_count=1)]
        if self.config.rate_limit_retries:
            handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=self.config.rate_limit_retries))
        return AsyncWebClient(
            token=self.config.token.get_secret_value(), base_url=self.config.api_url,
            timeout=self.config.request_timeout_s, ssl=self._ssl, retry_handlers=handlers,
        )

    async def _run(self, params: StepParams, ctx: ActionContext) -> ActionResult:
        assert isinstance(params, SlackParams)
        client = self._client()
        channel = params.channel or self.config.channel
        try:
            text = ctx.render(params.text, "slack")
            extra_fields = {name: ctx.render(t, "slack") for name, t in params.fields.items()}
        except RenderError as exc:
            raise ActionError(f"slack: {exc}", retryable=False) from None
        blocks = None
        if params.blocks:
            link = console_url(self.config.console_url, ctx.incident.id)  # the incident's page in the console
            blocks = message_blocks(ctx.incident, text, link, buttons(ctx.incident, params.buttons, ctx.extra),
                                    extra_fields)
        metadata = {"event_type": METADATA_EVENT_TYPE,
                    "event_payload": {"incident_id": ctx.incident.id, "idempotency_key": ctx.idempotency_key,
                                      "execution_id": ctx.execution_id}}
        try:
            response = await client.chat_postMessage(
                channel=channel, text=truncate(text, 40_000), blocks=blocks, metadata=metadata,
                unfurl_links=False, unfurl_media=False,
            )
        except SlackApiError as exc:
            raise self._api_error(exc) from None
        except (aiohttp.ClientError, OSError, SlackClientError) as exc:
            message = scrub(f"Slack unreachable at {self.config.api_url}: {type(exc).__name__}: {exc}",
                            [self._token()])
            raise ActionError(message, retryable=True) from None
        log.info("posted to Slack: incident=%s channel=%s ts=%s", ctx.incident.id, response.get("channel"),
                 response.get("ts"))
        return ActionResult(status_code=response.status_code,
                            detail={"channel": response.get("channel"), "ts": response.get("ts")})

    def _token(self) -> str | None:
        return self.config.token.get_secret_value() if self.config.token else None

    def _api_error(self, exc: SlackApiError) -> ActionError:
        response = exc.response
        status = response.status_code
        error = str(response.get("error") or "unknown_error") if isinstance(response.data, dict) else "unknown_error"
        retry_after = parse_retry_after((response.headers or {}).get("Retry-After")
                                        or (response.headers or {}).get("retry-after"))
        if status == 200:  # ok=false: the error code decides
            retryable = error in RETRYABLE_ERRORS
            return ActionError(scrub(f"Slack refused chat.postMessage: {error}", [self._token()]),
                               retryable=retryable, status_code=status,
                               retry_after=retry_after if retryable else None)
        return http_error("Slack", status, error, retry_after, [self._token()])


def buttons(incident: Incident, wanted: list[str] | None, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The button elements. By default: Acknowledge; Unblock when the incident targets a user or a
    session (``extra["blocked_subject"]``, set by a ``block`` step, wins); Roll forward when it targets
    a prompt; Adopt new version on a ``model_update`` incident with a model target (it unpins the model
    and resolves the incident)."""
    target = incident.target
    subject = extra.get("blocked_subject") or (
        f"user:{target.user_id}" if target.user_id else f"session:{target.session_id}" if target.session_id
        else None)
    model = target.model if incident.kind == "model_update" else None
    if wanted is None:
        wanted = (["ack"] + (["unblock"] if subject else []) + (["roll_forward"] if target.prompt_id else [])
                  + (["adopt_model"] if model else []))
    elements = []
    for action in wanted:
        value: dict[str, str] = {"action": action, "incident_id": incident.id}
        if action == "unblock" and subject:
            value["subject"] = subject
        if action == "roll_forward" and target.prompt_id:
            value["prompt_id"] = target.prompt_id
        if action == "adopt_model":
            if not target.model:
                continue  # nothing to adopt: the incident names no model
            value["model"] = target.model
        element: dict[str, Any] = {
            "type": "button",
            "action_id": ACTION_ID_PREFIX + action,
            "text": {"type": "plain_text", "text": BUTTON_TEXT[action]},
            "value": json.dumps(value, separators=(",", ":"))[:2000],
        }
        if action == "ack":
            element["style"] = "primary"
        elif action in ("unblock", "roll_forward", "adopt_model"):
            element["confirm"] = {
                "title": {"type": "plain_text", "text": BUTTON_TEXT[action] + "?"},
                "text": {"type": "plain_text", "text": truncate(
                    f"{BUTTON_TEXT[action]} for incident {incident.id}"
                    + (f" ({value.get('subject') or value.get('prompt_id') or value.get('model')})"
                       if len(value) > 2 else ""), 300)},
                "confirm": {"type": "plain_text", "text": BUTTON_TEXT[action]},
                "deny": {"type": "plain_text", "text": "Cancel"},
            }
        elements.append(element)
    return elements


def _field(title: str, value: Any) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(f"*{title}*\n{escape_slack(value)}", FIELD_TEXT_MAX)}


def message_blocks(incident: Incident, text: str, link: str, button_elements: list[dict[str, Any]],
                   extra_fields: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Block Kit: the rendered text, the evidence as fields, a link to the incident, the buttons.

    Every value from the incident is escaped with ``escape_slack``; ``extra_fields`` are already
    rendered (escaped) by the caller; field titles come from the runbook.
    """
    latest = incident.findings[-1] if incident.findings else None
    fields = [_field("Severity", incident.severity), _field("Detector", incident.detector),
              _field("Series", incident.series)]
    if latest is not None:
        ev = latest.evidence
        if ev.observed is not None:
            baseline = f" (baseline {ev.baseline:g})" if ev.baseline is not None else ""
            fields.append(_field("Observed", f"{ev.observed:g}{baseline}"))
        target = latest.target.model_dump(exclude_none=True)
        if target:
            fields.append(_field("Target", ", ".join(f"{k}={v}" for k, v in target.items())))
        if ev.example_trace_ids:
            fields.append(_field("Example traces", ", ".join(ev.example_trace_ids)))
    for title, value in (extra_fields or {}).items():
        fields.append({"type": "mrkdwn", "text": truncate(f"*{escape_slack(title)}*\n{value}", FIELD_TEXT_MAX)})
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_TEXT_MAX)}},
        {"type": "section", "fields": fields[:10]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(
            f"<{link}|incident {escape_slack(incident.id)}> · {incident.finding_count} finding(s) · "
            f"state {escape_slack(incident.state)}", SECTION_TEXT_MAX)}]},
    ]
    if button_elements:
        blocks.append({"type": "actions", "block_id": "tracewatch_actions", "elements": button_elements})
    return blocks
