"""What decoding gives: events, per-item errors, whole-message errors, and the shared readers.

Both wire formats (:mod:`traces.decode` for tracewatch's JSON, :mod:`traces.otlp` for OTLP) build on
these: the size limits, :class:`DecodeError` / :class:`ItemError` / :class:`Decoded`, reasons worded
for a person (:func:`render_validation_error`), and :func:`load_json`.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from traces.events import EPOCH_HELP, TraceEvent, validate_common

#: Default size limits. JSON events are small; OTLP batches carry many spans.
MAX_JSON_BYTES = 1_048_576
MAX_OTLP_BYTES = 8_388_608
#: A batch may hold at most this many items (bounds the work one message can cause).
MAX_BATCH_ITEMS = 10_000
#: How much of the input a reason may quote.
PREVIEW_CHARS = 40

Format = Literal["json", "otlp_proto", "otlp_json"]
FORMATS: tuple[str, ...] = ("json", "otlp_proto", "otlp_json")


class DecodeError(ValueError):
    """The whole message is unusable. ``reason`` is a sentence a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ItemError:
    """One bad item of a batch. ``raw`` is that item's JSON bytes (the OTLP span as OTLP JSON)."""

    index: int | None
    reason: str
    raw: bytes


@dataclass
class Decoded:
    """What a message decoded to. ``skipped`` counts OTLP spans that are not model calls."""

    events: list[TraceEvent] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    skipped: int = 0


# ---- rendering reasons ---------------------------------------------------------------------------


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """A short, quoted rendering of an input value for use in a reason.

    >>> preview("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'"
    """
    if isinstance(value, str):
        body = value if len(value) <= limit else value[: limit - 1] + "…"
        return "'" + body + "'"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_kind(value: Any) -> str:
    """The JSON name of a Python value's type, as a user sees it in their payload."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _got(value: Any) -> str:
    kind = json_kind(value)
    if kind in ("object", "array"):
        return f"got an {kind}"
    if kind == "null":
        return "got null"
    return f"got {kind} {preview(value)}"


_PROBLEMS = {
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "list_type": "must be an array",
    "finite_number": "must be a finite number",
    "datetime_type": f"must be {EPOCH_HELP}",
    "datetime_parsing": f"must be {EPOCH_HELP}",
    "datetime_from_date_parsing": f"must be {EPOCH_HELP}",
    "timezone_aware": "must carry a time zone",
}


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            text = str(part)
            if len(text) > PREVIEW_CHARS:
                text = text[: PREVIEW_CHARS - 1] + "…"
            parts.append(("." if parts else "") + text)
    return "".join(parts)


def _one_problem(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    loc = _location(tuple(err.get("loc", ())))
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return f"missing required field '{loc}'"
    if kind in ("greater_than_equal", "greater_than"):
        op = "≥" if kind == "greater_than_equal" else ">"
        bound = ctx.get("ge", ctx.get("gt"))
        return f"'{loc}': must be {op} {bound}, {_got(value)}"
    if kind == "string_too_short":
        return f"'{loc}': must not be empty"
    if kind == "string_too_long":
        return f"'{loc}': is longer than {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"'{loc}': must be one of {ctx.get('expected', '?')}, {_got(value)}"
    if kind == "value_error":
        message = str(ctx.get("error") or err.get("msg", "is invalid"))
        return f"'{loc}': {message[:100]}"
    problem = _PROBLEMS.get(kind)
    if problem is None:
        msg = str(err.get("msg", "is invalid"))
        problem = (msg[:1].lower() + msg[1:])[:120]
    return f"'{loc}': {problem}, {_got(value)}"


def render_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """Pydantic errors as ``field: problem`` phrases joined by ``; ``.

    >>> try:
    ...     TraceEvent.model_validate({"trace_id": "t", "timestamp": 0, "model": "m", "status": "bad"})
    ... except ValidationError as exc:
    ...     print(render_validation_error(exc))
    'status': must be one of 'ok', 'error' or 'timeout', got string 'bad'
    """
    errors = exc.errors(include_url=False)
    rendered = [_one_problem(e) for e in errors[:limit]]
    if len(errors) > limit:
        rendered.append(f"and {len(errors) - limit} more problems")
    return "; ".join(rendered)


def validate_event(data: dict[str, Any]) -> TraceEvent | str:
    """A TraceEvent, or the reason why ``data`` is not one."""
    event = validate_common(data)
    if event is not None:
        return event
    try:
        return TraceEvent.model_validate(data)
    except ValidationError as exc:
        return render_validation_error(exc)
    except RecursionError:  # str() of a deeply nested chat-message value in a validator
        return "invalid event: a value is nested too deeply"
    except (ValueError, TypeError, OverflowError) as exc:  # a validator tripped on odd input
        return f"invalid event: {str(exc)[:120]}"


# ---- JSON ------------------------------------------------------------------------------------------


def _as_bytes(raw: bytes | bytearray | memoryview | str) -> bytes:
    if type(raw) is bytes:  # what Kafka hands us; checked first because it is nearly always so
        return raw
    if isinstance(raw, str):
        try:
            return raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DecodeError(f"text is not valid UTF-8 (lone surrogate at character {exc.start})") from None
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw)
    if not isinstance(raw, bytes):
        raise DecodeError(f"expected bytes, got {type(raw).__name__}")
    return raw


def check_size(raw: bytes, max_bytes: int) -> None:
    if len(raw) > max_bytes:
        raise DecodeError(
            f"message is {len(raw):,} bytes; the limit is {max_bytes:,} bytes "
            "(split the batch into smaller messages)"
        )


def _utf8_problem(raw: bytes) -> str | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} ({exc.reason})"
    return None


def load_json(raw: bytes) -> Any:
    """Parse JSON with orjson, turning every failure into a :class:`DecodeError`."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass  # rare: find out why below, off the hot path
    except (ValueError, TypeError, RecursionError) as exc:  # defensive: orjson documents only the above
        raise DecodeError(f"not valid JSON: {str(exc)[:80]}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark is harmless; editors on Windows write one
    if not raw.strip():
        raise DecodeError("empty message: expected a JSON object (one event) or an array (a batch)")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        problem = _utf8_problem(raw)
        if problem is not None:
            raise DecodeError(problem) from None
        msg = str(exc.msg)[:80]
        raise DecodeError(f"not valid JSON: {msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(f"not valid JSON: {str(exc)[:80]}") from None


