"""Blocks on users and sessions, in memory: the ``ControlsPort`` the engine and the API use.

The service rebuilds it from the compacted ``tracewatch.controls`` topic with ``apply()`` and
publishes every change through ``on_change``. A block expires by itself after its TTL.

>>> import asyncio
>>> class Clock:
...     t = 100.0
...     def now(self): return self.t
>>> clock = Clock(); controls = InMemoryControls(clock)
>>> c = asyncio.run(controls.block("user", "u1", reason="spend", incident_id="inc-1", ttl_s=60, by="me"))
>>> c.subject, controls.is_blocked("user:u1", 130.0), controls.is_blocked("user:u1", 161.0)
('user:u1', True, False)
"""

from __future__ import annotations

from typing import Awaitable, Callable

from runbooks.ports import Clock, Control, SubjectKind

OnChange = Callable[[Control], Awaitable[None]]


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
        if current is None:
            return False
        was_active = self._active(current, self.clock.now())
        await self._set(current.model_copy(update={
            "active": False, "created_by": by, "reason": reason, "created_at": self.clock.now(),
        }))
        return was_active

    def is_blocked(self, subject: str, now: float) -> bool:
        control = self._controls.get(subject)
        return control is not None and self._active(control, now)

    def get(self, subject: str) -> Control | None:
        return self._controls.get(subject)

    def list(self, now: float | None = None) -> list[Control]:
        """The blocks in force at ``now`` (default: the clock's now), by subject."""
        now = self.clock.now() if now is None else now
        return [c for _, c in sorted(self._controls.items()) if self._active(c, now)]

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
