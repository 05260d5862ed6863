"""Escaping per destination: every ``{{ value }}`` is escaped for where the rendered string goes."""

from __future__ import annotations

import json
from typing import Any, Callable, Literal
from urllib.parse import quote

import re2

#: Where a rendered string goes decides how it is escaped (``ESCAPERS`` below).
Escape = Literal["plain", "slack", "pagerduty", "url", "json"]

PAGERDUTY_SUMMARY_MAX = 1024
ELLIPSIS = "…"

# C0 and C1 control characters, DEL, and the Unicode bidi overrides / isolates (text direction tricks).
_CONTROL = re2.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]")
_CONTROL_AND_NEWLINES = re2.compile(r"[\x00-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]")
_SLACK_BROADCAST = re2.compile(r"(?i)@(channel|here|everyone|group)\b")
_ZWSP = "\u200b"



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
    """Slack mrkdwn: no links, no mentions, no bold/italic/strike, no way to close the template's code span.

    >>> escape_slack("<https://evil|click> <!channel> <@U123> @here `x`")
    '&lt;https://evil|click&gt; &lt;!channel&gt; &lt;@U123&gt; @\\u200bhere ˋxˋ'
    """
    text = strip_control(_text(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SLACK_BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)
    return _defuse_marks(text.replace("`", "\u02cb"))  # MODIFIER LETTER GRAVE ACCENT: looks alike, is not markup


# Slack has no escape for *bold*, _italic_ and ~strike~; a marker at a word's edge is swapped for a look-alike
# (inside a word, as in snake_case ids, Slack does not format, so ids stay as they were sent).
_SLACK_MARKS = {"*": "\u2217", "_": "\uff3f", "~": "\u223c"}


def _defuse_marks(text: str) -> str:
    """
    >>> _defuse_marks("*urgent* _now_ ~x~ budget_user_daily 2*3")
    '∗urgent∗ ＿now＿ ∼x∼ budget_user_daily 2*3'
    """
    if not any(mark in text for mark in _SLACK_MARKS):
        return text
    chars = list(text)
    last = len(chars) - 1
    for i, ch in enumerate(chars):
        if ch in _SLACK_MARKS:
            inside = 0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()
            if not inside:
                chars[i] = _SLACK_MARKS[ch]
    return "".join(chars)


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
