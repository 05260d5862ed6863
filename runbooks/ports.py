"""What the runbook engine needs from the world, as small protocols.

The service (``streams/``) implements them on Kafka topics and tables; ``tracewatch runbooks test``
and the unit tests use in-memory implementations. Keeping them here lets the engine stay hermetic.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal, Protocol

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from incidents.incident import Incident

SubjectKind = Literal["user", "session"]
#: What a control acts on: a user or a session (a block), or a requested model (a pin).
ControlKind = Literal["user", "session", "model"]


class Control(BaseModel):
    """A block on a user or a session, or a pin of a model (compacted topic ``tracewatch.controls``,
    keyed by subject).

    A pin (``kind: model``, subject ``model:<requested name>``) tells applications to request ``use``
    instead of ``value``: the version served before a provider update (``runbooks/actions/model.py``).
    """

    subject: str  # "user:<id>", "session:<id>" or "model:<name>"
    kind: ControlKind
    value: str
    reason: str = ""
    incident_id: str | None = None
    created_at: float
    expires_at: float | None = None  # None: until removed
    created_by: str = "tracewatch"
    active: bool = True  # False is the tombstone-like "unblocked" (or "unpinned") record
    use: str | None = None  # pins: the model version to request instead of ``value``
    instead_of: str | None = None  # pins: the new served version being avoided, when known

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


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ControlsPort(Protocol):
    async def block(
        self, kind: SubjectKind, value: str, *, reason: str, incident_id: str | None,
        ttl_s: float | None, by: str,
    ) -> Control: ...

    async def unblock(self, subject: str, *, by: str, reason: str) -> bool: ...

    def is_blocked(self, subject: str, now: float) -> bool: ...


class ModelPinsPort(Protocol):
    """Pins of requested models to a version (the ``models`` control), beside the blocks."""

    async def pin_model(
        self, model: str, *, use: str, reason: str, incident_id: str | None, ttl_s: float | None,
        by: str, instead_of: str | None = None,
    ) -> Control: ...

    async def unpin_model(self, model: str, *, by: str, reason: str) -> bool: ...

    def pinned(self, model: str, now: float) -> Control | None: ...


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


@dataclass
class Ports:
    """Everything actions and the engine reach outside themselves (plain dataclass)."""

    clock: Clock
    controls: ControlsPort
    prompts: PromptsPort
    #: the incident as it is now (for ``wait_for_ack``): acknowledged, resolved or still open
    incident_state: Callable[[str], Awaitable[Incident | None]] | None = None
    #: resolve the incident of a key, by whom (a decision an action carries out: ``pin_model`` /
    #: ``unpin_model`` resolve their model_update incident); the worker sends the API's resolve command
    resolve_incident: Callable[[str, str], Awaitable[None]] | None = None
    api_url: str = "http://127.0.0.1:6066"
    pagerduty: Any = None
    slack: Any = None
    http: Any = None
