"""``block`` / ``unblock``: stop (or let again) a user or a session, with a TTL.

The block is a record on the compacted ``tracewatch.controls`` topic (through ``ports.controls``);
applications ask ``GET /v1/blocks/check`` before calling their model. Blocking the same subject again
is harmless, so a retried or resumed step cannot do damage twice.
"""

from __future__ import annotations

from typing import Literal

from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams
from runbooks.durations import Duration
from runbooks.ports import Control

DEFAULT_REASON = "tracewatch {{ incident.kind }} incident {{ incident.id }}: {{ incident.summary }}"


def _subject_value(template: str | None, target: str, ctx: ActionContext) -> str:
    if template is not None:
        value = ctx.render(template, "plain").strip()
    else:
        value = getattr(ctx.incident.target, f"{target}_id") or ""
    if not value:
        raise ActionError(
            f"the incident has no {target}_id to act on; set `value:` or trigger on incidents with a "
            f"{target} target", retryable=False,
        )
    return value


class BlockParams(StepParams):
    target: Literal["user", "session"] = "user"
    value: str | None = None  # template; default: the incident's target user_id / session_id
    ttl: Duration | None = 3600.0  # null: until someone unblocks
    reason: str = DEFAULT_REASON


class UnblockParams(StepParams):
    target: Literal["user", "session"] = "user"
    value: str | None = None
    reason: str = "tracewatch incident {{ incident.id }} {{ event }}"


class Block(Action):
    type = "block"
    destructive = True
    Params = BlockParams

    async def _run(self, params: BlockParams, ctx: ActionContext) -> ActionResult:  # type: ignore[override]
        value = _subject_value(params.value, params.target, ctx)
        control = await ctx.ports.controls.block(
            params.target, value, reason=ctx.render(params.reason, "plain"),
            incident_id=ctx.incident.id, ttl_s=params.ttl, by=_by(ctx),
        )
        return ActionResult(detail={"target": control.subject, "expires_at": control.expires_at})


class Unblock(Action):
    type = "unblock"
    Params = UnblockParams

    async def _run(self, params: UnblockParams, ctx: ActionContext) -> ActionResult:  # type: ignore[override]
        subject = Control.subject_of(params.target, _subject_value(params.value, params.target, ctx))
        removed = await ctx.ports.controls.unblock(
            subject, by=_by(ctx), reason=ctx.render(params.reason, "plain"),
        )
        return ActionResult(detail={"target": subject, "was_blocked": removed})


def _by(ctx: ActionContext) -> str:
    return f"runbook:{ctx.extra.get('runbook', '?')}"
