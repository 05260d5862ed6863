"""The API for blocks (``/v1/blocks``), model pins (``/v1/models``) and prompts (``/v1/prompts``), and
Slack's button callbacks."""

from __future__ import annotations

import time
from itertools import islice
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import re2
from faust.web import Request, Response

from runbooks.durations import parse_duration
from runbooks.prompts import PromptBackendError, PromptError, PromptRecord
from runbooks.slack_callbacks import SlackAction, SlackCallbackError, parse_slack_action
from runbooks.templating import escape_slack
from streams.web_base import ID, ApiView, BadRequest, authorized, body_of, check_id

if TYPE_CHECKING:
    from streams.app import Tracewatch


def register(tw: "Tracewatch") -> None:
    """The endpoints of blocks, model pins and prompts, and Slack's button callbacks."""
    register_blocks(tw)
    register_models(tw)
    register_prompts(tw)
    register_slack(tw)


def register_blocks(tw: "Tracewatch") -> None:
    app = tw.app

    @app.page("/v1/blocks")
    class Blocks(ApiView):
        async def get(self, request: Request) -> Response:
            return self.json({"blocks": [c.model_dump(mode="json") for c in tw.controls_state.list(time.time())]})

    @app.page("/v1/blocks/check")
    class BlockCheck(ApiView):
        async def get(self, request: Request) -> Response:
            subjects = [f"{kind}:{request.query[field]}" for kind, field in
                        (("user", "user_id"), ("session", "session_id")) if request.query.get(field)]
            if not subjects:
                return self.error(400, "pass user_id and/or session_id, e.g. /v1/blocks/check?user_id=u1")
            now = time.time()
            blocked = [s for s in subjects if tw.controls_state.is_blocked(s, now)]
            detail = {s: tw.controls_state.get(s).model_dump(mode="json") for s in blocked}
            return self.json({"blocked": bool(blocked), "subjects": blocked, "blocks": detail})

    @app.page(f"/v1/blocks/{{subject:{ID}}}")
    class Block(ApiView):
        async def delete(self, request: Request, subject: str) -> Response:
            if not authorized(tw, request):
                return self.refuse()
            if ":" not in subject:
                return self.error(400, "subject is user:<id> or session:<id>")
            body = await body_of(request)
            removed = await tw.controls_state.unblock(subject, by=str(body.get("by") or "api")[:200],
                                                      reason=str(body.get("reason") or "removed via API")[:500])
            if not removed:
                return self.error(404, f"{subject} is not blocked")
            return self.json({"removed": subject})


def register_models(tw: "Tracewatch") -> None:
    """Model pins (the `models` control; runbooks/actions/model.py)."""
    app = tw.app

    @app.page("/v1/models")
    class Models(ApiView):
        async def get(self, request: Request) -> Response:
            return self.json({"models": [c.model_dump(mode="json") for c in tw.controls_state.pins(time.time())]})

    @app.page("/v1/models/check")
    class ModelCheck(ApiView):
        async def get(self, request: Request) -> Response:
            model = request.query.get("model")
            if not model:
                return self.error(400, "pass the model you are about to request, e.g. /v1/models/check?model=gpt-4o")
            pin = tw.controls_state.pinned(model, time.time())
            return self.json({"model": model, "pinned": pin is not None, "use": pin.use if pin else model,
                              "pin": pin.model_dump(mode="json") if pin else None})

        async def delete(self, request: Request) -> Response:  # a model named "check"
            return await unpin(self, request, "check")

    async def unpin(view: ApiView, request: Request, model: str) -> Response:
        if not authorized(tw, request):
            return view.refuse()
        body = await body_of(request)
        by = str(body.get("by") or "api")[:200]
        removed = await tw.controls_state.unpin_model(model, by=by,
                                                      reason=str(body.get("reason") or "unpinned via API")[:500])
        if not removed:
            return view.error(404, f"{model} is not pinned")
        return view.json({"unpinned": model, "resolved": await resolve_model_incidents(tw, model, by)})

    @app.page(f"/v1/models/{{model:{ID}}}")
    class Model(ApiView):
        async def delete(self, request: Request, model: str) -> Response:
            return await unpin(self, request, model)

    @app.page(f"/v1/models/{{model:{ID}}}/pin")
    class ModelPin(ApiView):
        async def post(self, request: Request, model: str) -> Response:
            if not authorized(tw, request):
                return self.refuse()
            check_id("the model", model)
            body = await body_of(request)
            use = body.get("to")
            if not isinstance(use, str) or not use.strip():
                raise BadRequest('"to" (text) is required: the version to request instead, '
                                 'e.g. {"to": "gpt-4o-2024-08-06", "ttl": "2h"}')
            use = use.strip()
            check_id('"to"', use)
            if use == model:
                raise BadRequest(f'"to" is {model} itself: pin it to another version')
            ttl = body.get("ttl")
            if ttl is not None:
                try:
                    ttl = parse_duration(ttl)
                except ValueError as exc:
                    raise BadRequest(f'"ttl": {exc}; or null for until unpinned') from None
                if ttl <= 0:
                    raise BadRequest('"ttl" must be more than 0 (or null for until unpinned)')
            known_from = model_known_from(tw, model)
            if known_from is None:
                return self.error(409, f"{model} has not been seen: no series of this worker, incident or pin "
                                  "names it and the price table does not list it; check the name (it is the "
                                  "model your application requests, e.g. gpt-4o)")
            incident_id = body.get("incident_id")
            by = str(body.get("by") or "api")[:200]
            control = await tw.controls_state.pin_model(
                model, use=use, reason=str(body.get("reason") or "pinned via API")[:500],
                incident_id=incident_id[:200] if isinstance(incident_id, str) and incident_id else None,
                ttl_s=ttl, by=by)
            return self.json({**control.model_dump(mode="json"), "known_from": known_from,
                              "resolved": await resolve_model_incidents(tw, model, by)})


async def resolve_model_incidents(tw: "Tracewatch", model: str, by: str) -> list[str]:
    """A pin (rolled back) or an unpin (adopted) decides the open model_update incidents of ``model``:
    resolve them as the API's resolve does. Returns their ids."""
    decided = [i for i in list(tw.view.by_key.values())
               if i.kind == "model_update" and i.state != "resolved"
               and (i.target.model or i.labels.get("model")) == model]
    for incident in decided:
        await tw.send_command("resolve", incident.key, by=by, time=time.time())
    return [i.id for i in decided]


def register_prompts(tw: "Tracewatch") -> None:
    app = tw.app

    @app.page("/v1/prompts")
    class Prompts(ApiView):
        async def get(self, request: Request) -> Response:
            return self.json({"prompts": [prompt_summary(r) for r in tw.prompt_registry.list()]})

    @app.page(f"/v1/prompts/{{prompt_id:{ID}}}")
    class Prompt(ApiView):
        async def get(self, request: Request, prompt_id: str) -> Response:
            record = tw.prompt_registry.get(prompt_id)
            if record is None:
                return self.error(404, f"no prompt {prompt_id}")
            return self.json(record.model_dump(mode="json"))

    def prompt_change(apply: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> type:
        class Change(ApiView):
            async def post(self, request: Request, prompt_id: str) -> Response:
                if not authorized(tw, request):
                    return self.refuse()
                body = await body_of(request)
                try:
                    result = await apply(prompt_id, body)
                except PromptError as exc:
                    return self.error(409, str(exc))
                except PromptBackendError as exc:
                    return self.error(502, str(exc))
                return self.json(result.model_dump(mode="json"))
        return Change

    async def register_version(prompt_id: str, body: dict[str, Any]) -> Any:
        check_id("the prompt id", prompt_id)
        version = body.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)  # Langfuse versions are numbers
        if not isinstance(version, str) or not version.strip():
            raise PromptError('"version" (text) is required, e.g. {"version": "4", "template": "..."}')
        check_id("the version", version.strip())
        template = body.get("template")
        return await tw.prompt_registry.register(
            prompt_id, version.strip(), by=str(body.get("by") or "api")[:200],
            template=template if isinstance(template, str) else None,
            config=body.get("config") if isinstance(body.get("config"), dict) else None)

    async def rollback(prompt_id: str, body: dict[str, Any]) -> Any:
        return await tw.prompt_registry.rollback(
            prompt_id, by=str(body.get("by") or "api")[:200], reason=str(body.get("reason") or "")[:500],
            label=str(body.get("label") or "production"))

    async def promote(prompt_id: str, body: dict[str, Any]) -> Any:
        version = body.get("version")
        return await tw.prompt_registry.promote(
            prompt_id, version=str(version) if version is not None else None,
            by=str(body.get("by") or "api")[:200], reason=str(body.get("reason") or "")[:500],
            label=str(body.get("label") or "production"))

    app.page(f"/v1/prompts/{{prompt_id:{ID}}}/versions")(prompt_change(register_version))
    app.page(f"/v1/prompts/{{prompt_id:{ID}}}/rollback")(prompt_change(rollback))
    app.page(f"/v1/prompts/{{prompt_id:{ID}}}/promote")(prompt_change(promote))


def register_slack(tw: "Tracewatch") -> None:
    app = tw.app

    @app.page("/slack/actions")
    class SlackActions(ApiView):
        async def post(self, request: Request) -> Response:
            secret = tw.settings.slack_signing_secret
            if secret is None:
                return self.error(503, "TRACEWATCH_SLACK_SIGNING_SECRET is not set; Slack buttons are off")
            body = await request.read()
            try:
                action = parse_slack_action(request.headers, body, secret.get_secret_value())
            except SlackCallbackError as exc:
                return self.error(exc.status_code, str(exc))
            by = f"slack:{action.user_name or action.user}"
            text = await act_on_slack(tw, action, by)
            return self.json({"response_type": "in_channel", "replace_original": False, "text": text})


# a model's value in a series key: "model=gpt-4o" up to the next "/<field>=" (or the end)
_SERIES_MODEL = re2.compile(r"(?:^|[|/])model=(.*?)(?:/[a-z_]+=|@|$)")
MAX_SERIES_SCANNED = 200_000


def models_seen(tw: "Tracewatch") -> dict[str, str]:
    """The model names this worker knows, and from where: its series (this worker's share of the
    series-state table), incidents (target, labels, served models in the evidence) and pins.

    The ingest does not keep a list of the models it saw, so a name only seen by another worker's
    partitions, with no incident, is not here; ``model_known_from`` also accepts the price table's names.
    """
    seen: dict[str, str] = {}
    for name in tw.controls_state.known_models():
        seen.setdefault(name, "pins")
    for incident in list(tw.view.by_id.values()):
        names = [incident.target.model, incident.labels.get("model"), incident.labels.get("served_model")]
        for finding in incident.findings[-3:]:
            details = finding.evidence.details
            before, after = details.get("served_before"), details.get("served_after")
            names += list(before) if isinstance(before, list) else []
            names += list(after) if isinstance(after, dict) else []
        for name in names:
            if isinstance(name, str) and name:
                seen.setdefault(name, "incidents")
    try:
        keys = list(islice(tw.series_state.keys(), MAX_SERIES_SCANNED))
    except Exception:  # noqa: BLE001 - the table is not ready (a rebalance): the other sources answer
        keys = []
    for key in keys:
        text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        match = _SERIES_MODEL.search(text.split("|", 1)[-1] if "|" in text else text)
        if match and match.group(1):
            seen.setdefault(match.group(1), "series")
    return seen


def model_known_from(tw: "Tracewatch", model: str) -> str | None:
    """Where ``model`` is known from (``series``, ``incidents``, ``pins``, ``prices``), ``None`` if nowhere."""
    found = models_seen(tw).get(model)
    if found is not None:
        return found
    if model.strip().lower() in tw.prices.prices:
        return "prices"
    return None


def prompt_summary(record: PromptRecord) -> dict[str, Any]:
    return {"prompt_id": record.prompt_id, "labels": record.labels,
            "versions": [v.version for v in record.versions],
            "last_move": record.history[-1].model_dump(mode="json") if record.history else None}


async def act_on_slack(tw: "Tracewatch", action: SlackAction, by: str) -> str:
    """What a button does; the answer is posted back in the channel."""
    if action.action == "ack":
        incident = tw.view.get(action.incident_id)
        if incident is None:
            return f"no incident {action.incident_id}"
        if (current := tw.view.superseded_by(incident)) is not None:
            return f"{action.incident_id} was superseded by {current}; acknowledge that one"
        await tw.send_command("ack", incident.key, by=by, time=time.time())
        return f"{action.incident_id} acknowledged by {by}"
    if action.action == "unblock" and action.subject:
        removed = await tw.controls_state.unblock(action.subject, by=by, reason="unblocked from Slack")
        return f"{action.subject} unblocked by {by}" if removed else f"{action.subject} was not blocked"
    if action.action == "roll_forward" and action.prompt_id:
        try:
            move = await tw.prompt_registry.promote(action.prompt_id, version=None, by=by,
                                                    reason="rolled forward from Slack",
                                                    incident_id=action.incident_id)
        except (PromptError, PromptBackendError) as exc:
            return f"could not roll {action.prompt_id} forward: {exc}"
        return f"{action.prompt_id}: production is version {move.to_version} again ({by})"
    if action.action == "adopt_model" and action.model:
        # the model and the ids come from trace data: escaped for Slack like every action's text
        unpinned = await tw.controls_state.unpin_model(action.model, by=by, reason="new version adopted from Slack")
        model, incident_id, who = (escape_slack(v) for v in (action.model, action.incident_id, by))
        done = f"`{model}` unpinned" if unpinned else f"`{model}` was not pinned"
        incident = tw.view.get(action.incident_id)
        if incident is None:
            return f"{done}; no incident {incident_id} to resolve ({who})"
        if (current := tw.view.superseded_by(incident)) is not None:
            return f"{done}; {incident_id} was superseded by {escape_slack(current)}, left as it is ({who})"
        if incident.state != "resolved":
            await tw.send_command("resolve", incident.key, by=by, time=time.time())
            return f"{done}: the new version is adopted and {incident_id} resolved by {who}"
        return f"{done}: the new version is adopted ({who}); {incident_id} was already resolved"
    return f"nothing to do for {action.action}"
