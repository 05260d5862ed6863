"""Helpers shared by the actions that call other systems over HTTP (PagerDuty, Slack, webhook).

>>> parse_retry_after("7"), parse_retry_after("soon"), parse_retry_after(None)
(7.0, None, None)
>>> scrub("key abc123 leaked", ["abc123"])
'key *** leaked'
>>> sanitize({"a": "x\\x00y", "b": [1, 2.5, None, {"c": "d" * 5}]}, max_str=3)
{'a': 'xy', 'b': [1, 2.5, None, {'c': 'dd…'}]}
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from runbooks.actions.base import ActionError
from runbooks.templating import strip_control, truncate

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; HTTP dates are rare in APIs)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, MAX_RETRY_AFTER_S)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret in ``text`` by ``***`` (messages may quote what a server echoed)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def sanitize(value: Any, *, max_str: int = 2000, max_items: int = 50, depth: int = 6) -> Any:
    """JSON-safe copy of ``value`` with control characters stripped and sizes bounded."""
    if isinstance(value, str):
        return truncate(strip_control(value), max_str)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth <= 0:
        return truncate(strip_control(str(value)), max_str)
    if isinstance(value, dict):
        items = list(value.items())[:max_items]
        return {truncate(strip_control(str(k)), 200): sanitize(v, max_str=max_str, max_items=max_items,
                                                               depth=depth - 1) for k, v in items}
    if isinstance(value, (list, tuple, set)):
        return [sanitize(v, max_str=max_str, max_items=max_items, depth=depth - 1)
                for v in list(value)[:max_items]]
    return truncate(strip_control(str(value)), max_str)


def iso8601(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).isoformat()


def http_error(service: str, status: int, detail: str, retry_after: float | None,
               secrets: Iterable[str | None] = ()) -> ActionError:
    """The ``ActionError`` for an HTTP answer: 408/425/429/5xx may succeed later, other 4xx never."""
    retryable = status in RETRYABLE_STATUS or status >= 500
    message = scrub(f"{service} answered {status}: {truncate(strip_control(detail), 300)}", secrets)
    return ActionError(message, retryable=retryable, status_code=status,
                       retry_after=retry_after if retryable else None)


def not_configured(service: str, setting: str) -> ActionError:
    return ActionError(f"{service} is not configured: set {setting}", retryable=False)
