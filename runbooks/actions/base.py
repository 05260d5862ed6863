"""One interface for every action a runbook step can take.

The base class owns what all actions share — dry-run, timeout, timing and the typed error — and calls
the action's ``_run()``. Each action lives in its own module with a pydantic ``Params`` model (the
step's YAML keys, validated at lint time) and is registered explicitly in ``runbooks/actions/__init__``.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from incidents.incident import Incident, IncidentEvent
from runbooks.templating import Escape, RenderError


class ActionError(Exception):
    """An action failed. ``retryable`` tells the executor whether another attempt may succeed."""

    def __init__(
        self, message: str, *, retryable: bool, status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after


class ActionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["ok", "skipped", "dry_run"] = "ok"
    status_code: int | None = None
    detail: dict[str, Any] = {}  # e.g. PagerDuty dedup_key, Slack channel and ts


class StepParams(BaseModel):
    """Base for every action's ``Params``: unknown keys are errors (they are typos)."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class ActionContext:
    incident: Incident
    event: IncidentEvent
    execution_id: str
    idempotency_key: str  # stable across retries and restarts: "<execution_id>:<step index>"
    render: Callable[[str, Escape], str]  # sandboxed Jinja, data only
    ports: Any  # runbooks.ports' Ports bundle: clock, controls, prompts, pagerduty, slack, http
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Action(ABC):
    type: ClassVar[str]  # the step name in YAML, e.g. "page"
    destructive: ClassVar[bool] = False  # counts against the runbook's cap per hour
    # Delivered by the engine's per-incident queue and retried until the delivery deadline, apart
    # from the protective steps (see runbooks/engine.py).
    notification: ClassVar[bool] = False
    Params: ClassVar[type[StepParams]]
    timeout_s: ClassVar[float] = 10.0

    async def execute(self, params: StepParams, ctx: ActionContext) -> ActionResult:
        if ctx.dry_run:
            return ActionResult(outcome="dry_run")
        started = time.monotonic()
        try:
            return await asyncio.wait_for(self._run(params, ctx), self.timeout_s)
        except asyncio.TimeoutError as exc:
            elapsed = time.monotonic() - started
            raise ActionError(f"{self.type} timed out after {elapsed:.1f}s", retryable=True) from exc
        except RenderError as exc:  # a template over its limits (or broken): the step fails, audited
            raise ActionError(f"{self.type}: {exc}", retryable=False) from None

    @abstractmethod
    async def _run(self, params: StepParams, ctx: ActionContext) -> ActionResult: ...
