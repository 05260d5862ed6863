"""The trace event: one LLM call as an application reports it (topic ``tracewatch.traces``).

This model is the contract with the applications that publish traces; see docs/architecture.md
"The trace event". Unknown fields are kept in ``metadata`` rather than rejected, so that an
application that adds a field never loses events.

>>> e = TraceEvent.model_validate({"trace_id": "t1", "timestamp": 1700000000, "model": "gpt-4o",
...                                "input_tokens": 10, "team": "search"})
>>> e.timestamp.isoformat(), e.metadata["team"], e.status
('2023-11-14T22:13:20+00:00', 'search', 'ok')

Ids and versions may be sent as numbers, counts and measures as numeric text; docs/decoders.md
("Accepted shapes") lists what each field group takes and what it is stored as:

>>> e = TraceEvent.model_validate({"trace_id": 77, "timestamp": 0, "model": "m", "prompt_version": 4,
...                                "user_id": 12345, "input_tokens": "12", "output_tokens": 3.0})
>>> e.trace_id, e.prompt_version, e.user_id, e.input_tokens, e.output_tokens
('77', '4', '12345', 12, 3)
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import SchemaValidator, core_schema

from traces.messages import messages_text
from traces.usage import SDK_TOKEN_KEYS, read_sdk_counts

SCHEMA_VERSION = 1

#: Upper bounds that keep one hostile event from costing a worker memory or time.
MAX_TEXT_CHARS = 256_000
MAX_ID_CHARS = 512
#: Epoch seconds from 0 up to (not including) year 3000.
MAX_EPOCH_S = 32503680000
#: An epoch number too large for seconds before year 3000 is read in the first finer unit that puts it before then:
#: apps send JavaScript's ``Date.now()`` milliseconds, Java's ``currentTimeMillis``, OpenTelemetry's nanoseconds
#: (Arrow's ``normalize_timestamp`` reads them the same way). Milliseconds since 1971-01-12 are never read as seconds.
EPOCH_UNITS_PER_S = (1, 1_000, 1_000_000, 1_000_000_000)
EPOCH_HELP = "RFC 3339 text or epoch seconds (or milliseconds, microseconds, nanoseconds)"

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

#: Fields that name something. Text, but apps send numbers too: Langfuse prompt versions are
#: integers, database user ids are numbers.
ID_FIELDS = ("trace_id", "span_id", "model", "response_model", "app", "environment", "feature", "provider",
             "prompt_id", "prompt_version", "user_id", "session_id")
#: Whole-number counts, and the measures; both also read numeric text ("12", "12.0", "0.5").
#: The cache and reasoning counts are *part of* ``input_tokens`` / ``output_tokens`` (as in the GenAI
#: semantic conventions): they say how those tokens are priced, they do not add to them.
COUNT_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
                "reasoning_output_tokens")
MEASURE_FIELDS = ("cost_usd", "latency_ms", "ttft_ms")
#: An int of more bits than this has more than MAX_ID_CHARS digits (and str() of it is slow).
_MAX_ID_BITS = math.ceil(MAX_ID_CHARS * math.log2(10))
#: From here on a float need not be the number that was written: JSON integers beyond 64 bits reach
#: us as floats, 123456789012345678901234 as 1.2345678901234568e+23, and an id must keep its digits.
_EXACT_FLOAT = 2.0**53


def id_text(value: Any) -> Any:
    """A number sent for an id or a version as the text the app meant; text as it is.

    Whole numbers get no ".0" (a version 4 is "4" whichever way the JSON wrote it). A float too big
    to be exact is refused rather than guessed at. Other values are left for the str schema (``None``
    for an optional field, bytes from Python callers) or refused here with a reason.

    >>> id_text(4), id_text(4.0), id_text(-0.0), id_text(1.5), id_text("v4")
    ('4', '4', '0', '1.5', 'v4')
    >>> id_text(True)
    Traceback (most recent call last):
    ...
    ValueError: must be text or a number, not a boolean
    """
    if type(value) is str:
        return value
    if isinstance(value, bool):  # (a bool is an int to Python; true is no one's user id)
        raise ValueError("must be text or a number, not a boolean")
    if isinstance(value, int):
        if value.bit_length() > _MAX_ID_BITS:
            raise ValueError(f"is longer than {MAX_ID_CHARS} characters")
        return str(int(value))  # (int(): an IntEnum's str() is its name)
    if isinstance(value, float):
        if not math.isfinite(value):  # (JSON has no NaN or infinity; Python callers do)
            raise ValueError("must be a finite number")
        if not -_EXACT_FLOAT < value < _EXACT_FLOAT:
            raise ValueError("is a number too large to keep all its digits; send it as text")
        return str(int(value)) if value.is_integer() else repr(float(value))
    if isinstance(value, dict):
        raise ValueError("must be text or a number, got an object")
    if isinstance(value, (list, tuple)):
        raise ValueError("must be text or a number, got an array")
    return value


#: what apps, SDKs and OpenTelemetry call a call's outcome, in any case (``status_word``); docs/decoders.md lists them
STATUS_SYNONYMS = {
    "ok": "ok", "success": "ok", "succeeded": "ok", "successful": "ok", "completed": "ok", "unset": "ok",
    "status_code_ok": "ok", "status_code_unset": "ok",
    "error": "error", "failed": "error", "failure": "error", "fail": "error", "status_code_error": "error",
    "timeout": "timeout", "timed_out": "timeout", "timedout": "timeout", "deadline_exceeded": "timeout",
}


def status_word(value: Any) -> Any:
    """A call's outcome as ``ok``, ``error`` or ``timeout``: any case, a synonym (``STATUS_SYNONYMS``), or null
    (not sent: ``ok``); anything else as it is, for the model to refuse with its reason.

    >>> [status_word(v) for v in ("OK", " Failed ", "STATUS_CODE_ERROR", None, "pending", 200)]
    ['ok', 'error', 'error', 'ok', 'pending', 200]
    """
    if value is None:
        return "ok"
    if isinstance(value, str) and len(value) <= 40:
        return STATUS_SYNONYMS.get(value.strip().lower(), value)
    return value


def no_boolean(value: Any) -> Any:
    """A count or measure as it is, unless it is a boolean (which lax int and float read as 0 or 1).

    >>> no_boolean("12")
    '12'
    """
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def epoch_datetime(value: int | float) -> datetime:
    """An epoch number as an aware UTC datetime: seconds, or milliseconds, microseconds or nanoseconds when it is
    too large for seconds before year 3000 (``EPOCH_UNITS_PER_S``); whole numbers to the microsecond exactly.

    >>> [epoch_datetime(v).isoformat() for v in (1700000000, 1700000000123, 1700000000123456789)]
    ['2023-11-14T22:13:20+00:00', '2023-11-14T22:13:20.123000+00:00', '2023-11-14T22:13:20.123456+00:00']
    >>> epoch_datetime(-1)
    Traceback (most recent call last):
    ValueError: -1 is before 1970 in epoch seconds
    """
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    if value < 0:
        raise ValueError(f"{value!r} is before 1970 in epoch seconds")
    for per_s in EPOCH_UNITS_PER_S:
        if value < MAX_EPOCH_S * per_s:
            if per_s == 1 or type(value) is not int:
                return datetime.fromtimestamp(value / per_s, tz=timezone.utc)
            seconds, rest = divmod(value, per_s)
            return datetime.fromtimestamp(seconds, tz=timezone.utc) + timedelta(microseconds=rest * 1_000_000 // per_s)
    raise ValueError(f"{value!r} is after the year 3000 in epoch seconds, milliseconds, microseconds and nanoseconds")


def _epoch_text(value: str) -> int | float | None:
    """Numeric text (``"1700000000"``, ``" 1700000000123 "``, ``"1700000000.5"``) as its number, else None: it is
    read by the same rule as a number (no pattern matching: the text is the sender's).

    >>> _epoch_text(" 1700000000123 "), _epoch_text("1700000000.5"), _epoch_text("2023-11-14"), _epoch_text("1e3")
    (1700000000123, 1700000000.5, None, None)
    """
    if "-" in value or ":" in value:  # a date (the common case, so it costs two scans and no more)
        return None
    text = value.strip()
    if not 0 < len(text) <= 40 or not text.isascii():
        return None
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        return None
    return float(text) if fraction else int(whole)


def _timestamp(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime:
    """Epoch seconds (or milliseconds, microseconds, nanoseconds: ``epoch_datetime``), as a number or numeric
    text, or anything pydantic reads as a datetime, as an aware UTC datetime."""
    # Epoch numbers are common in app code; bools are not timestamps.
    if isinstance(value, bool):
        raise ValueError(f"must be {EPOCH_HELP}, not a boolean")
    if isinstance(value, str):
        number = _epoch_text(value)
        value = value if number is None else number
    if isinstance(value, (int, float)):
        return epoch_datetime(value)
    stamp = handler(value)
    if stamp.tzinfo is None:
        return stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc)


class TraceEvent(BaseModel):
    """One model call. Required: ``trace_id``, ``timestamp``, ``model``."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False, frozen=False)

    schema_version: int = SCHEMA_VERSION
    trace_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    timestamp: datetime
    model: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    #: the model that actually answered (OTLP ``gen_ai.response.model``), e.g. a dated snapshot of ``model``
    response_model: str | None = Field(default=None, max_length=MAX_ID_CHARS)

    span_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    app: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    environment: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    feature: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    provider: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    prompt_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    prompt_version: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    user_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    session_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    cache_read_input_tokens: int | None = Field(default=None, ge=0)  # of input_tokens, read from a cache
    cache_creation_input_tokens: int | None = Field(default=None, ge=0)  # of input_tokens, written to one
    reasoning_output_tokens: int | None = Field(default=None, ge=0)  # of output_tokens, spent reasoning
    cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    latency_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    ttft_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    status: Literal["ok", "error", "timeout"] = "ok"
    error_type: str | None = Field(default=None, max_length=MAX_ID_CHARS)

    input: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    output: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    scores: dict[str, FiniteFloat] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    # One wrap validator rather than a before and an after one: a Python call fewer per event.
    _epoch_or_rfc3339 = field_validator("timestamp", mode="wrap")(_timestamp)
    # Then pydantic's lax str, int and float schemas (whole floats and numeric text for the numbers).
    _ids_as_text = field_validator(*ID_FIELDS, mode="before")(id_text)
    _numbers_not_booleans = field_validator(*COUNT_FIELDS, *MEASURE_FIELDS, mode="before")(no_boolean)

    @field_validator("input", "output", mode="before")
    @classmethod
    def _chat_messages_as_text(cls, value: Any) -> Any:
        # Chat-style inputs ([{"role": ..., "content": ...}]) are flattened to text for the detectors,
        # without the app's own system prompt (traces.messages).
        if isinstance(value, list):
            return messages_text(value)
        return value

    @field_validator("flags", mode="before")
    @classmethod
    def _flags_from_mapping(cls, value: Any) -> Any:
        # {"hallucination": true, "negative_feedback": false} is accepted as well as a list.
        if isinstance(value, dict):
            return [name for name, on in value.items() if on]
        return [] if value is None else value

    # A field sent as null is as if not sent: serialisers write unset optional fields as null.
    @field_validator("scores", "metadata", mode="before")
    @classmethod
    def _null_as_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("schema_version", mode="before")
    @classmethod
    def _null_as_current(cls, value: Any) -> Any:
        return SCHEMA_VERSION if value is None else value

    _status_synonyms = field_validator("status", mode="before")(status_word)

    @model_validator(mode="before")
    @classmethod
    def _sdk_token_names(cls, data: Any) -> Any:
        # OpenAI's and Anthropic's usage objects, the chat names at the top level (traces.usage)
        if isinstance(data, dict) and not SDK_TOKEN_KEYS.isdisjoint(data):
            return read_sdk_counts(data)
        return data

    @model_validator(mode="after")
    def _unknown_fields_into_metadata(self) -> "TraceEvent":
        _extras_into_metadata(self)
        return self

    # ---- convenience for detectors and runbooks -------------------------------------------------

    @property
    def epoch(self) -> float:
        """Event time in epoch seconds."""
        return self.timestamp.timestamp()

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with only the fields that are set (the wire form)."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def _extras_into_metadata(event: TraceEvent) -> None:
    extra = event.__pydantic_extra__
    if extra:
        event.metadata.update(extra)
        extra.clear()


# ---- the fast path -------------------------------------------------------------------------------
#
# Most events arrive in one shape: JSON types that are already right (text for text, numbers for
# numbers, a list of flags, epoch seconds or RFC 3339 text). For that shape TraceEvent's lax
# validation and its Python validators change nothing but the timestamp, so a *strict* twin of the
# model, with only the timestamp validator, builds the same TraceEvent entirely in pydantic-core.
# Anything the twin rejects (a lax conversion, chat messages, a flags mapping, a bad value) goes
# through TraceEvent itself, which gives the result or the reasons. Unknown fields are moved into
# metadata afterwards, exactly as TraceEvent's model validator does.
# Ids sent as numbers and counts sent as whole floats or numeric text stay on the fast path too: such a
# field tries its strict schema first (so text ids cost no Python call), then TraceEvent's own
# normaliser and lax schema, which is what TraceEvent does with them. (The union costs the all-text
# common case 1-5% of this validation, 0.1-0.3 µs an event; ingest spends ~15 µs an event in all.)
# tests/unit/decode/test_fast_path.py checks on generated and hostile inputs that both agree.


_lax_datetime = TypeAdapter(datetime).validator.validate_python  # what TraceEvent's validator wraps


def _common_timestamp(value: Any) -> datetime:
    """_timestamp for the twin, without the cost of a wrap validator's handler."""
    if (type(value) is float or type(value) is int) and 0 <= value < MAX_EPOCH_S:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if type(value) is datetime and value.tzinfo is timezone.utc:
        return value  # (the handler returns a datetime as it is, astimezone too when it is in UTC)
    return _timestamp(value, _lax_datetime)


def _lax(schema: Any) -> Any:
    """A str, int or float core schema (or a nullable one) that is lax even in a strict model."""
    if schema["type"] == "nullable":
        return {**schema, "schema": _lax(schema["schema"])}
    assert schema["type"] in ("str", "int", "float"), schema
    return {**schema, "strict": False}


def _strict_or_normalised(info: Any, normalise: Any) -> Any:
    """The field's strict schema, else ``normalise`` then its lax schema (as TraceEvent validates it)."""

    def schema(_source: Any, handler: Any) -> Any:
        own = handler.generate_schema(Annotated[info.annotation, *info.metadata])
        fallback = core_schema.chain_schema([core_schema.no_info_plain_validator_function(normalise),
                                             _lax(own)])
        return core_schema.union_schema([own, fallback], mode="left_to_right")

    return Annotated[Any, GetPydanticSchema(schema)], Field(default=info.default)


def _twin_field(name: str, info: Any) -> tuple[Any, Any]:
    if name == "timestamp":  # epoch seconds and RFC 3339 text both stay in the common shape
        return Annotated[datetime, PlainValidator(_common_timestamp)], ...
    if name in ID_FIELDS:
        return _strict_or_normalised(info, id_text)
    if name in COUNT_FIELDS:
        return _strict_or_normalised(info, no_boolean)
    # (Not the measures: strict float already takes ints and refuses booleans, and numeric text for a
    # cost or a latency is rare enough to leave to TraceEvent, which the twin then need not wait for.)
    return info.annotation, info


_StrictTwin = create_model(
    "_StrictTwin",
    __config__=ConfigDict(**{**TraceEvent.model_config, "strict": True}),
    **{name: _twin_field(name, info) for name, info in TraceEvent.model_fields.items()},
)
# The twin's schema, building TraceEvent instances instead of _StrictTwin ones.
_TWIN_SCHEMA: core_schema.ModelSchema = {**_StrictTwin.__pydantic_core_schema__, "cls": TraceEvent}
assert _TWIN_SCHEMA["type"] == "model"
_strict_one = SchemaValidator(_TWIN_SCHEMA)
_strict_many = SchemaValidator(core_schema.list_schema(_TWIN_SCHEMA, fail_fast=True))
#: What the twin may raise besides ValidationError (e.g. OverflowError from a 400-digit epoch).
_TWIN_ERRORS = (ValidationError, ValueError, TypeError, ArithmeticError, RecursionError)


def validate_common(data: Any) -> TraceEvent | None:
    """``data`` as a TraceEvent if it has the common shape, else None (use TraceEvent.model_validate).

    >>> validate_common({"trace_id": "t1", "timestamp": 1700000000, "model": "m", "team": "x"}).metadata
    {'team': 'x'}
    >>> validate_common({"trace_id": "t1", "timestamp": 1700000000, "model": "m", "flags": {"pii": True}})
    """
    try:
        event = _strict_one.validate_python(data)
    except _TWIN_ERRORS:
        return None
    extra = event.__pydantic_extra__
    if extra and not SDK_TOKEN_KEYS.isdisjoint(extra):
        return None  # the SDKs' token names: TraceEvent reads them into its fields
    _extras_into_metadata(event)
    return event


def validate_common_many(items: list[Any]) -> list[TraceEvent] | None:
    """All ``items`` as TraceEvents when every one has the common shape, else None."""
    try:
        events = _strict_many.validate_python(items)
    except _TWIN_ERRORS:
        return None
    for i, event in enumerate(events):
        extra = event.__pydantic_extra__
        if extra and not SDK_TOKEN_KEYS.isdisjoint(extra):
            try:  # the SDKs' token names: TraceEvent reads them into its fields
                events[i] = TraceEvent.model_validate(items[i])
            except ValidationError:
                return None
        elif extra:
            _extras_into_metadata(event)
    return events
