"""Blocks on users and sessions and pins of models, in memory: the ``ControlsPort`` (and
``ModelPinsPort``) the engine and the API use.

The service rebuilds it from the compacted ``tracewatch.controls`` topic with ``apply()`` and
publishes every change through ``on_change``. A block or a pin expires by itself after its TTL.
Blocks are keyed ``user:<id>`` / ``session:<id>``, pins ``model:<requested name>``; the block calls
(``list``, ``is_blocked``, ``unblock``) never see a pin and the pin calls never see a block.

>>> import asyncio
>>> class Clock:
...     t = 100.0
...     def now(self): return self.t
>>> clock = Clock(); controls = InMemoryControls(clock)
>>> c = asyncio.run(controls.block("user", "u1", reason="spend", incident_id="inc-1", ttl_s=60, by="me"))
>>> c.subject, controls.is_blocked("user:u1", 130.0), controls.is_blocked("user:u1", 161.0)
('user:u1', True, False)
>>> p = asyncio.run(controls.pin_model("gpt-4o", use="gpt-4o-2024-08-06", reason="regression",
...                                    incident_id="inc-2", ttl_s=None, by="me"))
>>> p.subject, controls.pinned("gpt-4o", 10**9).use, [c.subject for c in controls.list(130.0)]
('model:gpt-4o', 'gpt-4o-2024-08-06', ['user:u1'])
"""

from __future__ import annotations

from typing import Awaitable, Callable

from runbooks.ports import Clock, Control, SubjectKind

OnChange = Callable[[Control], Awaitable[None]]
MODEL_PREFIX = "model:"


def model_subject(model: str) -> str:
    """The key of a model's pin on ``tracewatch.controls``."""
    return MODEL_PREFIX + model


def _is_pin(subject: str) -> bool:
    return subject.startswith(MODEL_PREFIX)


class InMemoryControls:
    def __init__(self, clock: Clock, on_change: OnChange | None = None) -> None:
        self.clock = clock
        self.on_change = on_change
        self._controls: dict[str, Control] = {}

    async def block(
        self, kind: SubjectKind, value: str, *, reason: str, incident_id: str | None,
        ttl_s: float | None, by: str,
    ) -> Control:
        now = self.clock.now()
        expires = None if ttl_s is None else now + ttl_s
        current = self._controls.get(Control.subject_of(kind, value))
        if current is not None and self._active(current, now):
            # blocking again never shortens a block
            if current.expires_at is None or (expires is not None and current.expires_at > expires):
                expires = current.expires_at
        control = Control(
            subject=Control.subject_of(kind, value), kind=kind, value=value, reason=reason,
            incident_id=incident_id, created_at=now, expires_at=expires, created_by=by,
        )
        await self._set(control)
        return control

    async def unblock(self, subject: str, *, by: str, reason: str) -> bool:
        current = self._controls.get(subject)
        if current is None or _is_pin(subject):
            return False
        was_active = self._active(current, self.clock.now())
        await self._set(current.model_copy(update={
            "active": False, "created_by": by, "reason": reason, "created_at": self.clock.now(),
        }))
        return was_active

    def is_blocked(self, subject: str, now: float) -> bool:
        control = self._controls.get(subject)
        return control is not None and not _is_pin(subject) and self._active(control, now)

    def get(self, subject: str) -> Control | None:
        return self._controls.get(subject)

    def list(self, now: float | None = None) -> list[Control]:
        """The blocks in force at ``now`` (default: the clock's now), by subject."""
        now = self.clock.now() if now is None else now
        return [c for s, c in sorted(self._controls.items()) if not _is_pin(s) and self._active(c, now)]

    # ---- pins of models (the ``models`` control) ------------------------------------------------

    async def pin_model(
        self, model: str, *, use: str, reason: str, incident_id: str | None, ttl_s: float | None,
        by: str, instead_of: str | None = None,
    ) -> Control:
        """Tell applications to request ``use`` instead of ``model``.

        Pinning again to the same version never shortens the pin (a retried or repeated step is
        harmless); pinning to another version replaces it, with the TTL given.
        """
        now = self.clock.now()
        subject = model_subject(model)
        expires = None if ttl_s is None else now + ttl_s
        current = self._controls.get(subject)
        if current is not None and self._active(current, now) and current.use == use:
            if current.expires_at is None or (expires is not None and current.expires_at > expires):
                expires = current.expires_at
            instead_of = instead_of or current.instead_of
        control = Control(
            subject=subject, kind="model", value=model, use=use, instead_of=instead_of, reason=reason,
            incident_id=incident_id, created_at=now, expires_at=expires, created_by=by,
        )
        await self._set(control)
        return control

    async def unpin_model(self, model: str, *, by: str, reason: str) -> bool:
        """Remove ``model``'s pin; ``False`` when it was not pinned (nothing is written then)."""
        subject = model_subject(model)
        current = self._controls.get(subject)
        if current is None or not self._active(current, self.clock.now()):
            return False
        await self._set(current.model_copy(update={
            "active": False, "created_by": by, "reason": reason, "created_at": self.clock.now(),
        }))
        return True

    def pinned(self, model: str, now: float | None = None) -> Control | None:
        """``model``'s pin in force at ``now`` (default: the clock's now), else ``None``."""
        control = self._controls.get(model_subject(model))
        now = self.clock.now() if now is None else now
        return control if control is not None and self._active(control, now) else None

    def pins(self, now: float | None = None) -> list[Control]:
        """The pins in force at ``now`` (default: the clock's now), by model."""
        now = self.clock.now() if now is None else now
        return [c for s, c in sorted(self._controls.items()) if _is_pin(s) and self._active(c, now)]

    def known_models(self) -> set[str]:
        """Every model a pin (in force or not) has named: as requested, as pinned to, as avoided."""
        names: set[str] = set()
        for subject, c in self._controls.items():
            if _is_pin(subject):
                names.update(n for n in (c.value, c.use, c.instead_of) if n)
        return names

    def apply(self, control: Control) -> None:
        """Take a record from the compacted topic (no ``on_change``: it is already published).

        An older change than the one held (this worker's own write, read back late) is ignored: a
        block must not be undone by the record of the unblock before it.
        """
        current = self._controls.get(control.subject)
        if current is not None and control.created_at < current.created_at:
            return
        self._controls[control.subject] = control

    @staticmethod
    def _active(control: Control, now: float) -> bool:
        return control.active and (control.expires_at is None or control.expires_at > now)

    async def _set(self, control: Control) -> None:
        self._controls[control.subject] = control
        if self.on_change is not None:
            await self.on_change(control)
