"""``page`` and ``resolve_page``: PagerDuty Events API v2 through the ``pagerduty`` package.

``EventsApiV2Client`` is synchronous, so each call runs in a thread (``asyncio.to_thread``) with a
client of its own. Its retries are bounded (it retries 429 for ever by default): at most
``max_retries`` per status, with a doubling pause, inside one attempt; what is left over becomes a
retryable ``ActionError`` for the executor, which retries later with the same ``dedup_key`` — the
incident id — so PagerDuty folds repeats into one alert.

The routing key is a ``SecretStr``; it is sent only in the request body and scrubbed from every
message this module produces.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Literal

import pagerduty
from pydantic import Field, field_validator

from runbooks.actions._outbound import http_error, iso8601, not_configured, parse_retry_after, sanitize, scrub
from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams
from runbooks.actions.settings import PagerDutyConfig, pagerduty_config
from incidents.incident import Incident
from runbooks.templating import (RenderError, check, check_each, console_url, incident_url, strip_control,
                                  truncate)

log = logging.getLogger(__name__)

PagerDutySeverity = Literal["critical", "error", "warning", "info"]
SEVERITY_MAP: dict[str, PagerDutySeverity] = {"critical": "critical", "warning": "warning", "info": "info"}
DEFAULT_SUMMARY = "[{{ incident.severity }}] {{ incident.detector }} on {{ incident.series }}: {{ incident.summary }}"
DEFAULT_SOURCE = "tracewatch: {{ incident.series }}"


def _check_template(value: str | None) -> str | None:
    if value is not None:
        try:
            check(value)
        except RenderError as exc:
            raise ValueError(str(exc)) from None
    return value


class PageParams(StepParams):
    """``- page: {summary: …, severity: …}`` — every key optional."""

    summary: str = DEFAULT_SUMMARY  # template; rendered plain, one line, at most 1024 characters
    severity: PagerDutySeverity | None = None  # default: the incident's (critical, warning, info)
    source: str = DEFAULT_SOURCE  # template
    component: str | None = None  # template
    group: str | None = None  # template
    event_class: str | None = None  # template; PagerDuty's payload.class
    custom_details: dict[str, str] = Field(default_factory=dict)  # name → template, next to the evidence

    check_templates = field_validator("summary", "source", "component", "group", "event_class")(_check_template)

    @field_validator("custom_details")
    @classmethod
    def _check_details(cls, value: dict[str, str]) -> dict[str, str]:
        return check_each(value, "custom_details")


class ResolvePageParams(StepParams):
    """``- resolve_page: {}`` — resolves the alert whose dedup_key is the incident id."""


class _Client(pagerduty.EventsApiV2Client):
    """One client per call: remembers the status of the last answer (the library returns only the key)."""

    last_status: int | None = None

    def postprocess(self, response: Any) -> None:
        self.last_status = response.status_code


class _PagerDutyAction(Action):
    timeout_s: ClassVar[float] = 45.0
    notification: ClassVar[bool] = True

    def __init__(self, config: PagerDutyConfig | None = None) -> None:
        self.config = config or PagerDutyConfig()
        self.timeout_s = self.config.attempt_budget_s  # the thread cannot be cancelled: outlast it
        self._ssl = self.config.ssl_context()

    @classmethod
    def from_settings(cls, settings: Any) -> "_PagerDutyAction":
        return cls(pagerduty_config(settings))

    def _secret(self) -> str:
        if self.config.routing_key is None:
            raise not_configured("PagerDuty", "TRACEWATCH_PAGERDUTY_ROUTING_KEY")
        return self.config.routing_key.get_secret_value()

    def _new_client(self, routing_key: str) -> _Client:
        client = _Client(routing_key, base_url=self.config.events_url, verify=self._ssl)
        client.timeout = self.config.request_timeout_s
        client.sleep_timer = self.config.backoff_s
        client.max_network_attempts = self.config.max_retries
        client.max_http_attempts = 2 * self.config.max_retries
        for status in (429, 500, 502, 503, 504):
            client.retry[status] = self.config.max_retries  # 0 would mean "for ever" for 429
        if self.config.max_retries == 0:
            client.retry[429] = 1  # the library has no "never retry 429"; one retry is the least
        return client

    def _send(self, routing_key: str, call: str, **kwargs: Any) -> tuple[str, int | None]:
        with self._new_client(routing_key) as client:
            dedup_key = getattr(client, call)(**kwargs)
            return dedup_key, client.last_status

    async def _call(self, call: str, **kwargs: Any) -> tuple[str, int | None]:
        routing_key = self._secret()
        try:
            return await asyncio.to_thread(self._send, routing_key, call, **kwargs)
        except pagerduty.HttpError as exc:
            raise self._http_error(exc, routing_key) from None
        except pagerduty.Error as exc:  # no answer: connection refused, TLS, timeouts
            cause = exc.__cause__ or exc
            message = scrub(f"PagerDuty unreachable at {self.config.events_url}: {type(cause).__name__}: "
                            f"{cause}", [routing_key])
            raise ActionError(message, retryable=True) from None

    def _http_error(self, exc: pagerduty.HttpError, routing_key: str) -> ActionError:
        response = exc.response
        status = response.status_code
        if 200 <= status < 300:  # accepted but the body had no dedup_key: a server bug; try again later
            return ActionError(f"PagerDuty answered {status} without a dedup_key", retryable=True,
                               status_code=status)
        try:
            body = response.json()
            detail = "; ".join(str(e) for e in body.get("errors", [])) or str(body.get("message", ""))
        except (ValueError, AttributeError):
            detail = response.text
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 429 and retry_after is None:
            retry_after = self.config.rate_limit_retry_after_s
        if status in (401, 403):
            detail = "the routing key was rejected (check TRACEWATCH_PAGERDUTY_ROUTING_KEY)"
        return http_error("PagerDuty", status, detail or "no detail", retry_after, [routing_key])


class PageAction(_PagerDutyAction):
    """Trigger (or update) the PagerDuty alert of the incident: ``dedup_key`` = incident id."""

    type: ClassVar[str] = "page"
    Params: ClassVar[type[StepParams]] = PageParams

    async def _run(self, params: StepParams, ctx: ActionContext) -> ActionResult:
        assert isinstance(params, PageParams)
        incident = ctx.incident
        try:
            summary = ctx.render(params.summary, "pagerduty") or f"tracewatch incident {incident.id}"
            source = truncate(ctx.render(params.source, "pagerduty"), 255) or "tracewatch"
            optional = {key: ctx.render(template, "pagerduty")
                        for key, template in (("component", params.component), ("group", params.group),
                                              ("class", params.event_class)) if template is not None}
            extra_details = {name: ctx.render(t, "pagerduty") for name, t in params.custom_details.items()}
        except RenderError as exc:
            raise ActionError(f"page: {exc}", retryable=False) from None
        link = console_url(self.config.console_url, incident.id)  # the page people open from the alert
        payload = {"timestamp": iso8601(ctx.event.time), **{k: truncate(v, 255) for k, v in optional.items()}}
        dedup_key, status = await self._call(
            "trigger",
            summary=summary,
            source=source,
            dedup_key=incident.id,
            severity=params.severity or SEVERITY_MAP.get(incident.severity, "warning"),
            payload=payload,
            custom_details={**custom_details(incident, link, incident_url(self.config.incident_api_url, incident.id)),
                            **extra_details},
            links=[{"href": link, "text": f"tracewatch incident {truncate(strip_control(incident.id), 100)}"}],
        )
        log.info("paged PagerDuty: incident=%s dedup_key=%s", incident.id, dedup_key)
        return ActionResult(status_code=status, detail={"dedup_key": dedup_key, "event_action": "trigger"})


class ResolvePageAction(_PagerDutyAction):
    """Resolve the PagerDuty alert of the incident (a no-op at PagerDuty if it was never triggered)."""

    type: ClassVar[str] = "resolve_page"
    Params: ClassVar[type[StepParams]] = ResolvePageParams

    async def _run(self, params: StepParams, ctx: ActionContext) -> ActionResult:
        dedup_key, status = await self._call("resolve", dedup_key=ctx.incident.id)
        log.info("resolved PagerDuty alert: incident=%s", ctx.incident.id)
        return ActionResult(status_code=status, detail={"dedup_key": dedup_key, "event_action": "resolve"})


def custom_details(incident: Incident, link: str, api_link: str | None = None) -> dict[str, Any]:
    """What the on-call engineer sees in the alert: the incident, the evidence, the actions taken."""
    latest = incident.findings[-1] if incident.findings else None
    details: dict[str, Any] = {
        "incident_id": incident.id,
        "incident_url": link,
        **({"incident_api_url": api_link} if api_link else {}),
        "detector": incident.detector,
        "kind": incident.kind,
        "series": incident.series,
        "severity": incident.severity,
        "state": incident.state,
        "summary": incident.summary,
        "finding_count": incident.finding_count,
        "opened_at": iso8601(incident.opened_at),
        "labels": incident.labels,
        "target": incident.target.model_dump(exclude_none=True),
    }
    if latest is not None:
        details["score"] = latest.score
        details["evidence"] = latest.evidence.model_dump(exclude_defaults=True)
    if incident.executions:
        details["actions_taken"] = [
            {"runbook": e.runbook, "event": e.event, "status": e.status, "steps": e.steps}
            for e in incident.executions[-10:]
        ]
    return sanitize(details)
