"""The prompt registry: versions, labels and the label history a rollback needs (``PromptsPort``).

Each prompt's whole state is one ``PromptRecord``, the value on the compacted ``tracewatch.prompts``
topic (keyed by prompt id): ``apply()`` rebuilds from it, ``on_change`` publishes it. A rollback moves
the label to the version it pointed to before the current one — read from the history, so it skips
versions that never were in production and undoes promotes in order. With ``LangfuseBackend`` the label
also moves in Langfuse (which keeps no history: tracewatch does).

>>> import asyncio
>>> class Clock:
...     def now(self): return 0.0
>>> reg = PromptRegistry(Clock())
>>> async def demo():
...     for v in ("1", "2", "3"):
...         await reg.register("support", v, by="ci")
...     await reg.set_label("support", "1", by="ci", reason="first release")
...     await reg.promote("support", version="3", by="alice", reason="better answers")
...     move = await reg.rollback("support", by="tracewatch", reason="hallucinations", incident_id="inc-9")
...     return move.from_version, move.to_version, reg.label("support")
>>> asyncio.run(demo())
('3', '1', '1')
"""

from __future__ import annotations

import base64
from typing import Awaitable, Callable
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

from runbooks.actions.prompt import PromptBackendError, PromptError
from runbooks.ports import Clock, LabelMove, PromptVersion

MAX_HISTORY = 500

OnChange = Callable[["PromptRecord"], Awaitable[None]]


class PromptRecord(BaseModel):
    prompt_id: str
    versions: list[PromptVersion] = Field(default_factory=list)  # in registration order
    labels: dict[str, str] = Field(default_factory=dict)  # label → version
    history: list[LabelMove] = Field(default_factory=list)  # oldest first
    revision: int = 0  # one more at every change: the topic's mirror never applies an older record


class LangfuseBackend:
    """Moves labels in Langfuse: ``PATCH /api/public/v2/prompts/{name}/versions/{version}``."""

    def __init__(
        self, base_url: str, public_key: str, secret_key: str, *, timeout_s: float = 10.0,
        verify: bool | str = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self.timeout_s = timeout_s
        self.verify = verify

    def __repr__(self) -> str:  # the keys stay out of logs
        return f"LangfuseBackend({self.base_url!r})"

    async def move_label(self, prompt_id: str, version: str, label: str) -> None:
        url = (f"{self.base_url}/api/public/v2/prompts/{quote(prompt_id, safe='')}"
               f"/versions/{quote(version, safe='')}")
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, verify=self.verify) as client:
                response = await client.patch(url, json={"newLabels": [label]}, headers=self._headers)
        except httpx.HTTPError as exc:
            raise PromptBackendError(f"Langfuse unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            retryable = response.status_code == 429 or response.status_code >= 500
            raise PromptBackendError(
                f"Langfuse answered {response.status_code} moving {label!r} of {prompt_id!r} to "
                f"version {version}", status_code=response.status_code, retryable=retryable,
            )


class PromptRegistry:
    def __init__(
        self, clock: Clock, on_change: OnChange | None = None, backend: LangfuseBackend | None = None,
    ) -> None:
        self.clock = clock
        self.on_change = on_change
        self.backend = backend
        self._prompts: dict[str, PromptRecord] = {}

    # ---- reading ----------------------------------------------------------------------------------
    def get(self, prompt_id: str) -> PromptRecord | None:
        return self._prompts.get(prompt_id)

    def list(self) -> list[PromptRecord]:
        return [r for _, r in sorted(self._prompts.items())]

    def label(self, prompt_id: str, label: str = "production") -> str | None:
        record = self._prompts.get(prompt_id)
        return record.labels.get(label) if record else None

    def history(self, prompt_id: str, label: str | None = None) -> list[LabelMove]:
        record = self._prompts.get(prompt_id)
        moves = record.history if record else []
        return [m for m in moves if label is None or m.label == label]

    # ---- writing ----------------------------------------------------------------------------------
    async def register(
        self, prompt_id: str, version: str, *, by: str = "", template: str | None = None,
        config: dict | None = None,
    ) -> PromptVersion:
        record = self._prompts.get(prompt_id) or PromptRecord(prompt_id=prompt_id)
        if any(v.version == version for v in record.versions):
            raise PromptError(f"prompt {prompt_id!r} already has a version {version!r}")
        pv = PromptVersion(prompt_id=prompt_id, version=version, created_at=self.clock.now(),
                           created_by=by, template=template, config=config or {})
        await self._store(record.model_copy(update={"versions": [*record.versions, pv]}))
        return pv

    async def set_label(
        self, prompt_id: str, version: str, *, by: str, reason: str = "", label: str = "production",
        incident_id: str | None = None, kind: str = "set", idempotency_key: str | None = None,
    ) -> LabelMove:
        record = self._require(prompt_id)
        if idempotency_key is not None:
            for move in record.history:
                if move.idempotency_key == idempotency_key:
                    return move  # already done (a retried or resumed step)
        if not any(v.version == version for v in record.versions):
            known = ", ".join(v.version for v in record.versions)
            raise PromptError(f"prompt {prompt_id!r} has no version {version!r} (versions: {known})")
        current = record.labels.get(label)
        if current == version:
            raise PromptError(f"{label!r} of {prompt_id!r} is already version {version!r}")
        if self.backend is not None:
            await self.backend.move_label(prompt_id, version, label)
        move = LabelMove(prompt_id=prompt_id, label=label, from_version=current, to_version=version,
                         at=self.clock.now(), by=by, reason=reason, incident_id=incident_id, kind=kind,
                         idempotency_key=idempotency_key)
        await self._store(record.model_copy(update={
            "labels": {**record.labels, label: version},
            "history": [*record.history, move][-MAX_HISTORY:],
        }))
        return move

    async def rollback(
        self, prompt_id: str, *, by: str, reason: str, incident_id: str | None = None,
        label: str = "production", idempotency_key: str | None = None,
    ) -> LabelMove:
        """Move ``label`` back to the version it pointed to before the current one."""
        record = self._require(prompt_id)
        done = self._done(record, idempotency_key)
        if done is not None:
            return done
        current = record.labels.get(label)
        earlier = [v for v in self.label_stack(prompt_id, label)[:-1] if v != current]
        if current is None or not earlier:
            raise PromptError(f"{label!r} of {prompt_id!r} has no previous version to roll back to")
        return await self.set_label(prompt_id, earlier[-1], by=by, reason=reason, label=label,
                                    incident_id=incident_id, kind="rollback",
                                    idempotency_key=idempotency_key)

    async def promote(
        self, prompt_id: str, *, version: str | None, by: str, reason: str,
        incident_id: str | None = None, label: str = "production", idempotency_key: str | None = None,
    ) -> LabelMove:
        """Move ``label`` forward to ``version`` (default: the latest registered version)."""
        record = self._require(prompt_id)
        done = self._done(record, idempotency_key)
        if done is not None:
            return done
        target = version or record.versions[-1].version
        return await self.set_label(prompt_id, target, by=by, reason=reason, label=label,
                                    incident_id=incident_id, kind="promote",
                                    idempotency_key=idempotency_key)

    def label_stack(self, prompt_id: str, label: str = "production") -> list[str]:
        """The versions ``label`` went through, a rollback undoing the move before it (oldest first)."""
        stack: list[str] = []
        for move in self.history(prompt_id, label):
            if move.kind == "rollback" and stack:
                stack.pop()
                if stack and stack[-1] == move.to_version:
                    continue
            stack.append(move.to_version)
        return stack

    def apply(self, record: PromptRecord) -> None:
        """Take a record from the compacted topic (no ``on_change``: it is already published).

        The mirror reads this worker's own writes back after they were made: an older revision than the
        one held is one of them, arriving late, and must not undo the later change (read-your-writes).
        """
        current = self._prompts.get(record.prompt_id)
        if current is not None and record.revision < current.revision:
            return
        self._prompts[record.prompt_id] = record

    def _require(self, prompt_id: str) -> PromptRecord:
        record = self._prompts.get(prompt_id)
        if record is None or not record.versions:
            raise PromptError(f"unknown prompt {prompt_id!r}; register a version first")
        return record

    @staticmethod
    def _done(record: PromptRecord, idempotency_key: str | None) -> LabelMove | None:
        if idempotency_key is None:
            return None
        return next((m for m in record.history if m.idempotency_key == idempotency_key), None)

    async def _store(self, record: PromptRecord) -> None:
        current = self._prompts.get(record.prompt_id)
        record.revision = (current.revision if current is not None else 0) + 1
        self._prompts[record.prompt_id] = record
        if self.on_change is not None:
            await self.on_change(record)
