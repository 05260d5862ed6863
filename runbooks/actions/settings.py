"""Configuration of the outbound actions (PagerDuty, Slack, webhook), validated at start-up.

Built from ``streams.settings.Settings`` by ``runbooks.actions.build_actions``. Bad configuration
(an ``http://`` PagerDuty URL, a CA bundle that is not there) raises ``ActionConfigError`` before the
worker consumes anything; a missing credential is not an error here — the action then fails at run
time with a non-retryable "not configured" ``ActionError``.

>>> from streams.settings import Settings
>>> pagerduty_config(Settings(_env_file=None, pagerduty_events_url="http://events.example"))
Traceback (most recent call last):
...
runbooks.actions.settings.ActionConfigError: PagerDutyConfig: TRACEWATCH_PAGERDUTY_EVENTS_URL: must start with https:// (the pagerduty client refuses anything else), got 'http://events.example'
"""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator


class ActionConfigError(ValueError):
    """The configuration of an action is wrong; the message says which setting and what is allowed."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_bundle: Path | None = None  # TRACEWATCH_CA_BUNDLE: PEM file of CAs; None = system trust
    incident_api_url: str = "http://127.0.0.1:6066"  # where links to the incident API point
    console_url: str = "http://127.0.0.1:6066"  # TRACEWATCH_PUBLIC_URL: where people open the console's pages

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle_readable(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_file():
            raise ValueError(f"CA bundle {str(value)!r} is not a file")
        try:
            ssl.create_default_context(cafile=str(value))
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"CA bundle {str(value)!r} is not a PEM file of certificates: {exc}") from None
        return value

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of every outbound call: the CA bundle if set, else the system's trust store."""
        if self.ca_bundle is None:
            return ssl.create_default_context()
        return ssl.create_default_context(cafile=str(self.ca_bundle))


class PagerDutyConfig(_Config):
    routing_key: SecretStr | None = None  # TRACEWATCH_PAGERDUTY_ROUTING_KEY
    events_url: str = "https://events.pagerduty.com"  # TRACEWATCH_PAGERDUTY_EVENTS_URL
    request_timeout_s: float = Field(5.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)  # per status (429, 5xx) inside one attempt
    backoff_s: float = Field(0.5, ge=0)  # first pause between those retries; doubles each time
    rate_limit_retry_after_s: float = Field(5.0, ge=0)  # told to the executor after a 429 without Retry-After

    @field_validator("events_url")
    @classmethod
    def _https_only(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(
                f"must start with https:// (the pagerduty client refuses anything else), got {value!r}"
            )
        return value.rstrip("/")

    @property
    def attempt_budget_s(self) -> float:
        """Worst-case time of one action attempt: every request times out, every pause is taken."""
        requests = 2 * self.max_retries + 1
        pauses = sum(self.backoff_s * 2 ** (i + 1) for i in range(2 * self.max_retries))
        return requests * self.request_timeout_s + pauses + 1.0


class SlackConfig(_Config):
    token: SecretStr | None = None  # TRACEWATCH_SLACK_TOKEN
    api_url: str = "https://slack.com/api/"  # TRACEWATCH_SLACK_API_URL
    channel: str = "#incidents"  # TRACEWATCH_SLACK_CHANNEL: the default channel of a slack step
    request_timeout_s: int = Field(10, gt=0)
    rate_limit_retries: int = Field(0, ge=0, le=5)  # in-client retries after a 429 (0: the executor waits)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) URL such as https://slack.com/api/, got {value!r}")
        return value if value.endswith("/") else value + "/"


class WebhookConfig(_Config):
    request_timeout_s: float = Field(10.0, gt=0)
    # Named secrets a webhook step can put in a header: `secret_headers: {Authorization: ops_token}`.
    secrets: dict[str, SecretStr] = Field(default_factory=dict)  # TRACEWATCH_WEBHOOK_SECRETS (JSON)


def _webhook_secrets(settings: Any) -> dict[str, Any]:
    value = getattr(settings, "webhook_secrets", None)
    if value:
        return dict(value)
    raw = os.environ.get("TRACEWATCH_WEBHOOK_SECRETS")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ActionConfigError(
            'TRACEWATCH_WEBHOOK_SECRETS must be a JSON object of name → secret, e.g. {"ops_token": "Bearer …"}'
        ) from None
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        raise ActionConfigError("TRACEWATCH_WEBHOOK_SECRETS must be a JSON object of name → secret string")
    return parsed


def _build(model: type[BaseModel], setting_names: dict[str, str], **values: Any) -> Any:
    try:
        return model(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = setting_names.get(field, field)
            problems.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        raise ActionConfigError(f"{model.__name__}: " + "; ".join(problems)) from None


def pagerduty_config(settings: Any) -> PagerDutyConfig:
    return _build(
        PagerDutyConfig,
        {"events_url": "TRACEWATCH_PAGERDUTY_EVENTS_URL", "ca_bundle": "TRACEWATCH_CA_BUNDLE"},
        routing_key=settings.pagerduty_routing_key,
        events_url=settings.pagerduty_events_url,
        ca_bundle=settings.ca_bundle,
        incident_api_url=settings.web_url, console_url=settings.console_url,
    )


def slack_config(settings: Any) -> SlackConfig:
    return _build(
        SlackConfig,
        {"api_url": "TRACEWATCH_SLACK_API_URL", "ca_bundle": "TRACEWATCH_CA_BUNDLE",
         "channel": "TRACEWATCH_SLACK_CHANNEL"},
        token=settings.slack_token,
        api_url=settings.slack_api_url,
        channel=settings.slack_channel,
        ca_bundle=settings.ca_bundle,
        incident_api_url=settings.web_url, console_url=settings.console_url,
    )


def webhook_config(settings: Any) -> WebhookConfig:
    return _build(
        WebhookConfig, {"ca_bundle": "TRACEWATCH_CA_BUNDLE", "secrets": "TRACEWATCH_WEBHOOK_SECRETS"},
        ca_bundle=settings.ca_bundle, incident_api_url=settings.web_url, console_url=settings.console_url, secrets=_webhook_secrets(settings),
    )
