"""What the runbook engine needs from the world, as small protocols.

The service (``streams/``) implements them on Kafka topics and tables; ``tracewatch runbooks test``
and the unit tests use in-memory implementations. Keeping them here lets the engine stay hermetic.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

SubjectKind = Literal["user", "session"]


class Control(BaseModel):
    """A block on a user or a session (compacted topic ``tracewatch.controls``, keyed by subject)."""

    subject: str  # "user:<id>" or "session:<id>"
    kind: SubjectKind
    value: str
    reason: str = ""
    incident_id: str | None = None
    created_at: float
    expires_at: float | None = None  # None: until removed
    created_by: str = "tracewatch"
    active: bool = True  # False is the tombstone-like "unblocked" record

    @staticmethod
    def subject_of(kind: SubjectKind, value: str) -> str:
        return f"{kind}:{value}"


class LabelMove(BaseModel):
    """One change of a prompt label, kept as history (a rollback needs to know what came before)."""

    prompt_id: str
    label: str
    from_version: str | None
    to_version: str
    at: float
    by: str
    reason: str = ""
    incident_id: str | None = None
    kind: str = "set"  # set | promote | rollback: a rollback undoes the move before it
    idempotency_key: str | None = None  # a repeated move with the same key is not applied twice


class PromptVersion(BaseModel):
    prompt_id: str
    version: str
    created_at: float
    created_by: str = ""
    template: str | None = None
    config: dict = Field(default_factory=dict)


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class ControlsPort(Protocol):
    async def block(
        self, kind: SubjectKind, value: str, *, reason: str, incident_id: str | None,
        ttl_s: float | None, by: str,
    ) -> Control: ...

    async def unblock(self, subject: str, *, by: str, reason: str) -> bool: ...

    def is_blocked(self, subject: str, now: float) -> bool: ...


class PromptsPort(Protocol):
    async def rollback(
        self, prompt_id: str, *, by: str, reason: str, incident_id: str | None = None,
        label: str = "production", idempotency_key: str | None = None,
    ) -> LabelMove: ...

    async def promote(
        self, prompt_id: str, *, version: str | None, by: str, reason: str,
        incident_id: str | None = None, label: str = "production",
        idempotency_key: str | None = None,
    ) -> LabelMove: ...
