"""Sandboxed templates for runbook steps: the SRE's template, the incident's data, escaped per destination.

The template comes from the runbook YAML (trusted); the data includes trace text (hostile). So:

- templates are compiled by Jinja2's ``ImmutableSandboxedEnvironment`` (no attribute games, no mutation);
- every ``{{ value }}`` is escaped for where the rendered string goes (``finalize``), never re-rendered,
  so ``{{ }}`` / ``{% %}`` inside trace text comes out literally and does nothing;
- undefined names are errors (``StrictUndefined``); write ``{{ labels.user_id | default("-") }}``
  for a value that may be absent.

>>> render("{{ incident.id }}: {{ text }}", {"incident": {"id": "inc-1"}, "text": "<!here> {{ 7*7 }}"}, "slack")
'inc-1: &lt;!here&gt; {{ 7*7 }}'
>>> render("https://x.example/search?q={{ q }}", {"q": "a b&c"}, "url")
'https://x.example/search?q=a%20b%26c'
>>> render('{"summary": {{ s }}}', {"s": 'say "hi"'}, "json")
'{"summary": "say \\\\"hi\\\\""}'
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote

import re2
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:
    from runbooks.actions.base import Escape
    from runbooks.incident import Incident, IncidentEvent

PAGERDUTY_SUMMARY_MAX = 1024
MAX_RENDERED_CHARS = 100_000  # a template loop over hostile data must not build a huge string
ELLIPSIS = "…"

# C0 and C1 control characters, DEL, and the Unicode bidi overrides / isolates (text direction tricks).
_CONTROL = re2.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]")
_CONTROL_AND_NEWLINES = re2.compile(r"[\x00-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]")
_SLACK_BROADCAST = re2.compile(r"(?i)@(channel|here|everyone|group)\b")
_ZWSP = "\u200b"


class RenderError(ValueError):
    """A template failed to compile or render (syntax error, undefined name, sandbox violation)."""


def strip_control(text: str, *, keep_newlines: bool = True) -> str:
    """Remove control and bidi-override characters (tabs and, by default, newlines survive)."""
    return (_CONTROL if keep_newlines else _CONTROL_AND_NEWLINES).sub("", text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def escape_slack(value: Any) -> str:
    """Slack mrkdwn: no links, no mentions, no way to close the template's code span.

    >>> escape_slack("<https://evil|click> <!channel> <@U123> @here `x`")
    '&lt;https://evil|click&gt; &lt;!channel&gt; &lt;@U123&gt; @\\u200bhere ˋxˋ'
    """
    text = strip_control(_text(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SLACK_BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)
    return text.replace("`", "\u02cb")  # MODIFIER LETTER GRAVE ACCENT: looks alike, is not markup


def escape_pagerduty(value: Any) -> str:
    """Plain text on one line: control characters (newlines included) removed."""
    return strip_control(_text(value).replace("\n", " ").replace("\r", " ").replace("\t", " "),
                         keep_newlines=False)


def escape_url(value: Any) -> str:
    """Percent-encode everything but unreserved characters (a value cannot add a path or a query)."""
    return quote(_text(value), safe="")


def escape_json(value: Any) -> str:
    """A complete JSON value: ``{{ x }}`` stands for a string, number, list, object, true/false or null."""
    if isinstance(value, str):
        value = strip_control(value)
    return json.dumps(value, ensure_ascii=True, default=str)


def escape_plain(value: Any) -> str:
    return _text(value)


ESCAPERS: dict[str, Callable[[Any], str]] = {
    "slack": escape_slack,
    "pagerduty": escape_pagerduty,
    "url": escape_url,
    "json": escape_json,
    "plain": escape_plain,
}


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with an ellipsis.

    >>> truncate("abcdef", 4), truncate("abc", 4)
    ('abc…', 'abc')
    """
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


@lru_cache(maxsize=None)
def _environment(escape: str) -> ImmutableSandboxedEnvironment:
    try:
        finalize = ESCAPERS[escape]
    except KeyError:
        raise RenderError(f"unknown escape {escape!r}; allowed: {', '.join(ESCAPERS)}") from None
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, finalize=finalize, autoescape=False, keep_trailing_newline=True,
    )


@lru_cache(maxsize=2048)
def _compile(template: str, escape: str):
    try:
        return _environment(escape).from_string(template)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (template line {line})" if line else ""
        raise RenderError(f"template error{where}: {exc.message or exc}") from None


def check(template: str) -> None:
    """Compile ``template`` (for lint): raises ``RenderError`` on a syntax error."""
    _compile(template, "plain")


def check_each(templates: dict[str, str], where: str) -> dict[str, str]:
    """``check`` every template of a mapping; a ``ValueError`` names the key (``where.name``)."""
    for name, template in templates.items():
        try:
            check(template)
        except RenderError as exc:
            raise ValueError(f"{where}.{name}: {exc}") from None
    return templates


def render(template: str, data: dict[str, Any], escape: Escape) -> str:
    """Render the trusted ``template`` with ``data``, every value escaped for ``escape``.

    ``pagerduty`` output is additionally cut to the Events API's 1024-character summary limit.
    """
    compiled = _compile(template, escape)
    try:
        out = compiled.render(data)
    except TemplateError as exc:
        raise RenderError(f"template error: {exc.message or exc}") from None
    except (ArithmeticError, ValueError, TypeError, OverflowError) as exc:
        raise RenderError(f"template error: {type(exc).__name__}: {exc}") from None
    if escape == "pagerduty":
        return truncate(out.strip(), PAGERDUTY_SUMMARY_MAX)
    if len(out) > MAX_RENDERED_CHARS:
        raise RenderError(f"rendered text is longer than {MAX_RENDERED_CHARS} characters")
    return out


def incident_url(api_url: str, incident_id: str) -> str:
    """``{api_url}/v1/incidents/{id}`` with the id percent-encoded."""
    return f"{api_url.rstrip('/')}/v1/incidents/{quote(incident_id, safe='')}"


def template_data(
    incident: Incident, event: IncidentEvent | None = None, extra: dict[str, Any] | None = None,
    *, api_url: str = "http://127.0.0.1:6066",
) -> dict[str, Any]:
    """The data a step template sees (plain dicts, lists and scalars only — nothing with methods).

    Keys: ``incident`` (every field but the finding list), ``event`` (opened | escalated | resolved),
    ``event_time``, ``labels``, ``target``, ``finding`` (the latest), ``evidence`` (its evidence),
    ``links`` (``incident``: the incident API URL), plus everything in ``extra`` (core keys win).
    """
    latest = incident.findings[-1].model_dump(mode="json") if incident.findings else {}
    core = {
        "incident": incident.model_dump(mode="json", exclude={"findings"}),
        "event": event.event if event is not None else "opened",
        "event_time": event.time if event is not None else incident.updated_at,
        "labels": dict(incident.labels),
        "target": incident.target.model_dump(mode="json"),
        "finding": latest,
        "evidence": latest.get("evidence", {}),
        "links": {"incident": incident_url(api_url, incident.id)},
    }
    return {**(extra or {}), **core}
