"""The API for blocks (``/v1/blocks``) and prompts (``/v1/prompts``), and Slack's button callbacks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from faust.web import Request, Response

from runbooks.prompts import PromptBackendError, PromptError, PromptRecord
from runbooks.slack_callbacks import SlackAction, SlackCallbackError, parse_slack_action
from streams.web import ID, ApiView, authorized, body_of, check_id

if TYPE_CHECKING:
    from streams.app import Tracewatch


def register(tw: "Tracewatch") -> None:
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
    return f"nothing to do for {action.action}"
