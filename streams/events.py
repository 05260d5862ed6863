"""The trace event: one LLM call as an application reports it (topic ``tracewatch.traces``).

This model is the contract with the applications that publish traces; see DESIGN.md
"The trace event". Unknown fields are kept in ``metadata`` rather than rejected, so that an
application that adds a field never loses events.

>>> e = TraceEvent.model_validate({"trace_id": "t1", "timestamp": 1700000000, "model": "gpt-4o",
...                                "input_tokens": 10, "team": "search"})
>>> e.timestamp.isoformat(), e.metadata["team"], e.status
('2023-11-14T22:13:20+00:00', 'search', 'ok')
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

#: Upper bounds that keep one hostile event from costing a worker memory or time.
MAX_TEXT_CHARS = 256_000
MAX_ID_CHARS = 512


class TraceEvent(BaseModel):
    """One model call. Required: ``trace_id``, ``timestamp``, ``model``."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False, frozen=False)

    schema_version: int = SCHEMA_VERSION
    trace_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    timestamp: datetime
    model: str = Field(min_length=1, max_length=MAX_ID_CHARS)

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
    cost_usd: float | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, ge=0)
    ttft_ms: float | None = Field(default=None, ge=0)
    status: Literal["ok", "error", "timeout"] = "ok"
    error_type: str | None = Field(default=None, max_length=MAX_ID_CHARS)

    input: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    output: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    scores: dict[str, float] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _epoch_or_rfc3339(cls, value: Any) -> Any:
        # Epoch seconds (int or float) are common in app code; bools are not timestamps.
        if isinstance(value, bool):
            raise ValueError("timestamp must be RFC 3339 text or epoch seconds, not a boolean")
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or not (0 <= value < 32503680000):
                raise ValueError("timestamp in epoch seconds is out of range")
            return datetime.fromtimestamp(value, tz=timezone.utc)
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @field_validator("input", "output", mode="before")
    @classmethod
    def _chat_messages_as_text(cls, value: Any) -> Any:
        # Chat-style inputs ([{"role": ..., "content": ...}]) are flattened to text for the detectors.
        if isinstance(value, list):
            parts = []
            for item in value:
                if isinstance(item, dict):
                    content = item.get("content", "")
                    parts.append(content if isinstance(content, str) else str(content))
                else:
                    parts.append(str(item))
            return "\n".join(parts)
        return value

    @field_validator("flags", mode="before")
    @classmethod
    def _flags_from_mapping(cls, value: Any) -> Any:
        # {"hallucination": true, "negative_feedback": false} is accepted as well as a list.
        if isinstance(value, dict):
            return [name for name, on in value.items() if on]
        return value

    @field_validator("cost_usd", "latency_ms", "ttft_ms")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("scores")
    @classmethod
    def _finite_scores(cls, value: dict[str, float]) -> dict[str, float]:
        for name, score in value.items():
            if not math.isfinite(score):
                raise ValueError(f"score {name!r} must be a finite number")
        return value

    @model_validator(mode="after")
    def _unknown_fields_into_metadata(self) -> "TraceEvent":
        extra = self.__pydantic_extra__
        if extra:
            self.metadata.update(extra)
            extra.clear()
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
