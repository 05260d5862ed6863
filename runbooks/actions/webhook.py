"""``webhook``: POST a JSON body to a URL, for systems tracewatch has no action for.

The body is a template rendered with the ``json`` escape: each ``{{ value }}`` becomes one complete
JSON value (a quoted string, a number, a list, an object, ``null``), so trace text cannot break out
of its string. The rendered body must parse as JSON. URL values are percent-encoded. Secret headers
name a secret of ``TRACEWATCH_WEBHOOK_SECRETS`` (``secret_headers: {Authorization: ops_token}``); their
values never appear in a message. Every request carries ``Idempotency-Key`` (stable across retries).
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import re2
from pydantic import Field, field_validator

from runbooks.actions._outbound import http_error, parse_retry_after, scrub
from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams
from runbooks.actions.settings import WebhookConfig, webhook_config
from runbooks.templating import RenderError, check, strip_control, truncate

log = logging.getLogger(__name__)

DEFAULT_BODY = ('{"incident_id": {{ incident.id }}, "event": {{ event }}, "severity": {{ incident.severity }}, '
                '"detector": {{ incident.detector }}, "series": {{ incident.series }}, '
                '"summary": {{ incident.summary }}, "labels": {{ labels }}, "evidence": {{ evidence }}, '
                '"url": {{ links.incident }}}')
_HEADER_NAME = re2.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "idempotency-key", "transfer-encoding"})


def _template(value: str) -> str:
    try:
        check(value)
    except RenderError as exc:
        raise ValueError(str(exc)) from None
    return value


class WebhookParams(StepParams):
    """``- webhook: {url: "https://ops.example/hooks/llm", body: '{"id": {{ incident.id }}}'}``"""

    url: str  # template; values percent-encoded; must render to an http(s) URL
    body: str = DEFAULT_BODY  # template; values JSON-encoded; must render to JSON
    headers: dict[str, str] = Field(default_factory=dict)  # plain, not templated
    secret_headers: dict[str, str] = Field(default_factory=dict)  # header → name in TRACEWATCH_WEBHOOK_SECRETS
    timeout_s: float | None = Field(None, gt=0, le=60)  # default: the configured request timeout

    check_templates = field_validator("url", "body")(_template)

    @field_validator("headers", "secret_headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by tracewatch")
            if strip_control(header_value, keep_newlines=False) != header_value:
                raise ValueError(f"header {name!r} contains control characters")
        return value


class WebhookAction(Action):
    type: ClassVar[str] = "webhook"
    notification: ClassVar[bool] = True
    Params: ClassVar[type[StepParams]] = WebhookParams
    timeout_s: ClassVar[float] = 30.0

    def __init__(self, config: WebhookConfig | None = None) -> None:
        self.config = config or WebhookConfig()
        self._ssl = self.config.ssl_context()

    @classmethod
    def from_settings(cls, settings: Any) -> "WebhookAction":
        return cls(webhook_config(settings))

    async def _run(self, params: StepParams, ctx: ActionContext) -> ActionResult:
        assert isinstance(params, WebhookParams)
        try:
            url = ctx.render(params.url, "url").strip()
            body_text = ctx.render(params.body, "json")
        except RenderError as exc:
            raise ActionError(f"webhook: {exc}", retryable=False) from None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ActionError(f"webhook: url must render to an http(s) URL, got {truncate(url, 200)!r}",
                              retryable=False)
        try:
            body = json.loads(body_text)
        except ValueError as exc:
            raise ActionError(f"webhook: body is not JSON after rendering: {exc}", retryable=False) from None
        headers = dict(params.headers)
        secrets: list[str] = []
        for header, secret_name in params.secret_headers.items():
            secret = self.config.secrets.get(secret_name)
            if secret is None:
                raise ActionError(f"webhook: secret {secret_name!r} is not configured: add it to "
                                  "TRACEWATCH_WEBHOOK_SECRETS", retryable=False)
            headers[header] = secret.get_secret_value()
            secrets.append(headers[header])
        headers["Idempotency-Key"] = ctx.idempotency_key
        timeout = params.timeout_s or self.config.request_timeout_s
        try:
            async with httpx.AsyncClient(verify=self._ssl, timeout=timeout, follow_redirects=False) as client:
                response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            message = scrub(f"webhook {parts.scheme}://{parts.hostname}: {type(exc).__name__}: {exc}", secrets)
            raise ActionError(message, retryable=True) from None
        if response.status_code >= 300:
            raise http_error(f"webhook {parts.hostname}", response.status_code, response.text[:300],
                             parse_retry_after(response.headers.get("retry-after")), secrets)
        log.info("webhook delivered: incident=%s host=%s status=%s", ctx.incident.id, parts.hostname,
                 response.status_code)
        return ActionResult(status_code=response.status_code, detail={"host": parts.hostname})
