"""``rollback_prompt`` / ``promote_prompt``: move a prompt's ``production`` label (``ports.prompts``).

A rollback goes back to the version the label pointed to before (from the label history, not
"version minus one"); a promote moves it forward to a given or the latest version. Both pass the
step's idempotency key, so a resumed execution never rolls back twice.
"""

from __future__ import annotations

from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams
from runbooks.actions.block import _by

DEFAULT_REASON = "tracewatch {{ incident.kind }} incident {{ incident.id }}: {{ incident.summary }}"


class PromptError(Exception):
    """A label move is impossible (unknown prompt or version, nothing to roll back to)."""


class PromptBackendError(Exception):
    """The external registry (Langfuse) refused or failed; ``status_code`` when it answered."""

    def __init__(self, message: str, *, status_code: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


class RollbackParams(StepParams):
    prompt_id: str | None = None  # template; default: the incident's target prompt_id
    label: str = "production"
    reason: str = DEFAULT_REASON


class PromoteParams(StepParams):
    prompt_id: str | None = None
    version: str | None = None  # template; default: the latest registered version
    label: str = "production"
    reason: str = DEFAULT_REASON


def _prompt_id(params: RollbackParams | PromoteParams, ctx: ActionContext) -> str:
    value = (ctx.render(params.prompt_id, "plain").strip() if params.prompt_id is not None
             else ctx.incident.target.prompt_id or "")
    if not value:
        raise ActionError("the incident has no prompt_id; set `prompt_id:` on the step", retryable=False)
    return value


async def _move(call, **kwargs) -> ActionResult:
    try:
        move = await call(**kwargs)
    except PromptError as exc:
        raise ActionError(str(exc), retryable=False) from exc
    except PromptBackendError as exc:
        raise ActionError(str(exc), retryable=exc.retryable, status_code=exc.status_code) from exc
    return ActionResult(detail={
        "target": f"prompt:{move.prompt_id}", "label": move.label,
        "from_version": move.from_version, "to_version": move.to_version,
    })


class RollbackPrompt(Action):
    type = "rollback_prompt"
    destructive = True
    Params = RollbackParams

    async def _run(self, params: RollbackParams, ctx: ActionContext) -> ActionResult:  # type: ignore[override]
        return await _move(
            ctx.ports.prompts.rollback, prompt_id=_prompt_id(params, ctx), by=_by(ctx),
            reason=ctx.render(params.reason, "plain"), incident_id=ctx.incident.id,
            label=params.label, idempotency_key=ctx.idempotency_key,
        )


class PromotePrompt(Action):
    type = "promote_prompt"
    destructive = True  # it changes what production serves, like a rollback
    Params = PromoteParams

    async def _run(self, params: PromoteParams, ctx: ActionContext) -> ActionResult:  # type: ignore[override]
        version = ctx.render(params.version, "plain").strip() if params.version else None
        return await _move(
            ctx.ports.prompts.promote, prompt_id=_prompt_id(params, ctx), version=version or None,
            by=_by(ctx), reason=ctx.render(params.reason, "plain"), incident_id=ctx.incident.id,
            label=params.label, idempotency_key=ctx.idempotency_key,
        )
