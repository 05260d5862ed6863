"""``pin_model`` / ``unpin_model``: request a known-good model version instead of a changed one.

When a provider updates the model behind a name (``gpt-4o`` answered by a new snapshot), a
``pin_model`` step tells applications to request the version served before the update: a record on the
compacted ``tracewatch.controls`` topic keyed ``model:<requested name>`` (through ``ports.controls``),
which every worker mirrors; applications ask ``GET /v1/models/check?model=<name>`` (or read the topic)
and request ``use`` instead. ``unpin_model`` (or ``tracewatch models unpin``, or the Slack button
"Adopt new version") removes the pin. Pinning again to the same version is harmless, so a retried or
resumed step cannot do damage twice.

A pin rolls the update back and an unpin adopts it: either is the decision a ``model_update`` incident
waits for, so the step resolves the incident it runs for when that incident is about the model it
pinned or unpinned (``ports.resolve_incident``: the same resolve command as the API's
``POST /v1/incidents/{id}/resolve``, by ``runbook:<name>``). The API, the CLI and the Slack button do
the same for the open model_update incidents of the model (``streams/web_state.py``).

Defaults come from the incident: the model is its target's ``model`` (the requested name), the version
is the served model seen before the update, from the ``model_update`` finding's evidence
(``details.served_before``; of several, the one still answering the largest share of calls, then the
last by name — dated snapshots sort by date).
"""

from __future__ import annotations

from typing import Any

from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams
from runbooks.controls import model_subject
from runbooks.durations import Duration

DEFAULT_REASON = "tracewatch {{ incident.kind }} incident {{ incident.id }}: {{ incident.summary }}"
MAX_NAME_CHARS = 1000


def _checked(what: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise ActionError(f"{what} is empty", retryable=False)
    if len(value) > MAX_NAME_CHARS or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise ActionError(f"{what} must be at most {MAX_NAME_CHARS} characters without control characters",
                          retryable=False)
    return value


def _model(template: str | None, ctx: ActionContext) -> str:
    if template is not None:
        return _checked("`model:`", ctx.render(template, "plain"))
    incident = ctx.incident
    value = incident.target.model or incident.labels.get("model")
    if not value:
        raise ActionError("the incident has no target model to act on; set `model:` or trigger on "
                          "incidents with a model target (kind: model_update)", retryable=False)
    return _checked("the incident's model", value)


def _details(ctx: ActionContext) -> dict[str, Any]:
    """The evidence details of the latest finding that names served models."""
    for finding in reversed(ctx.incident.findings):
        details = finding.evidence.details
        if isinstance(details, dict) and "served_before" in details:
            return details
    return {}


def version_before(details: dict[str, Any], model: str) -> str | None:
    """The served model to go back to: of ``served_before`` (not the requested name itself), the one
    with the largest share in ``served_after``, then the last by name.

    >>> version_before({"served_before": ["gpt-4o-2024-05-13", "gpt-4o-2024-08-06"],
    ...                 "served_after": {"gpt-4o-2024-11-20": 0.7, "gpt-4o-2024-05-13": 0.3}}, "gpt-4o")
    'gpt-4o-2024-05-13'
    >>> version_before({"served_before": ["gpt-4o-2024-05-13", "gpt-4o-2024-08-06"]}, "gpt-4o")
    'gpt-4o-2024-08-06'
    >>> version_before({"served_before": ["gpt-4o"]}, "gpt-4o") is None
    True
    """
    before = details.get("served_before")
    if not isinstance(before, list):
        return None
    after = details.get("served_after") if isinstance(details.get("served_after"), dict) else {}
    names = sorted({str(n) for n in before if isinstance(n, str) and n.strip() and n != model})
    if not names:
        return None

    def share(name: str) -> float:
        value = after.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

    return max(reversed(names), key=share)  # the largest share; among equals, the last by name


def version_after(details: dict[str, Any], ctx: ActionContext) -> str | None:
    """The new served model being avoided: the finding's ``served_model`` label, else the served
    model with the largest share after the update that was not served before."""
    for finding in reversed(ctx.incident.findings):
        name = finding.labels.get("served_model")
        if name:
            return name
    after = details.get("served_after") if isinstance(details.get("served_after"), dict) else {}
    before = set(details.get("served_before") or [])
    fresh = [(v, n) for n, v in after.items() if n not in before and isinstance(v, (int, float))]
    return max(fresh)[1] if fresh else None


class PinModelParams(StepParams):
    model: str | None = None  # template; default: the incident's target model (the requested name)
    to: str | None = None  # template; default: the served model seen before the update
    ttl: Duration | None = None  # default: until unpinned (an expiring pin brings the regression back)
    reason: str = DEFAULT_REASON


class UnpinModelParams(StepParams):
    model: str | None = None
    reason: str = "tracewatch incident {{ incident.id }} {{ event }}"


class PinModel(Action):
    type = "pin_model"
    destructive = True
    Params = PinModelParams

    async def _run(self, params: PinModelParams, ctx: ActionContext) -> ActionResult:  # type: ignore[override]
        model = _model(params.model, ctx)
        details = _details(ctx)
        if params.to is not None:
            use = _checked("`to:`", ctx.render(params.to, "plain"))
        else:
            found = version_before(details, model)
            if found is None:
                raise ActionError(
                    f"no served model of {model} before the update is known (the finding's "
                    "evidence.details.served_before); set `to:`", retryable=False)
            use = _checked("the served model before the update", found)
        if use == model:
            raise ActionError(f"nothing to pin: `to` is the requested model {model} itself", retryable=False)
        control = await ctx.ports.controls.pin_model(
            model, use=use, reason=ctx.render(params.reason, "plain"), incident_id=ctx.incident.id,
            ttl_s=params.ttl, by=_by(ctx), instead_of=version_after(details, ctx),
        )
        return ActionResult(detail={"target": control.subject, "model": model, "use": control.use,
                                    "instead_of": control.instead_of, "expires_at": control.expires_at,
                                    "resolved": await _resolve(ctx, model)})


class UnpinModel(Action):
    type = "unpin_model"
    Params = UnpinModelParams

    async def _run(self, params: UnpinModelParams, ctx: ActionContext) -> ActionResult:  # type: ignore[override]
        model = _model(params.model, ctx)
        removed = await ctx.ports.controls.unpin_model(model, by=_by(ctx), reason=ctx.render(params.reason, "plain"))
        return ActionResult(detail={"target": model_subject(model), "model": model, "was_pinned": removed,
                                    "resolved": await _resolve(ctx, model)})


async def _resolve(ctx: ActionContext, model: str) -> bool:
    """Resolve the step's incident when it is the model_update incident of ``model`` and still open."""
    incident, resolve = ctx.incident, ctx.ports.resolve_incident
    if (resolve is None or incident.kind != "model_update" or incident.state == "resolved"
            or (incident.target.model or incident.labels.get("model")) != model):
        return False
    await resolve(incident.key, _by(ctx))
    return True


def _by(ctx: ActionContext) -> str:
    return f"runbook:{ctx.extra.get('runbook', '?')}"
