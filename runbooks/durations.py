"""Durations as SREs write them in YAML: ``30s``, ``15m``, ``2h``, ``1d``, ``1h30m`` or plain seconds.

>>> parse_duration("1h30m"), parse_duration("90s"), parse_duration(45), parse_duration("2.5m")
(5400.0, 90.0, 45.0, 150.0)
>>> format_duration(5400.0), format_duration(90), format_duration(0.5)
('1h30m', '1m30s', '0.5s')
"""

from __future__ import annotations

from typing import Annotated, Any

import re2
from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re2.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re2.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")


def parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip().replace(" ", "")):
        text = value.strip().replace(" ", "")
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    else:
        raise ValueError(f"expected a duration like \"30s\", \"15m\" or \"2h\", got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1 or seconds != int(seconds):
        return f"{seconds:g}s"
    out, rest = "", int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out or "0s"


def _validate(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{message}", {"message": str(exc)}) from None


#: A pydantic field type: accepts "15m" or 900, holds seconds as a float, dumps as "15m".
Duration = Annotated[float, BeforeValidator(_validate), PlainSerializer(format_duration, when_used="json")]
