"""The HTTP API on Faust's web server (DESIGN.md, "Contracts"): health, metrics, incidents, blocks, prompts."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

if TYPE_CHECKING:
    from streams.app import Tracewatch

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def authorized(tw: "Tracewatch", request: Request) -> bool:
    """Mutating calls need ``Authorization: Bearer <TRACEWATCH_API_TOKEN>``; no token set → refuse all."""
    token = tw.settings.api_token
    if token is None:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


def register(tw: "Tracewatch") -> None:
    app = tw.app

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            body: dict[str, Any] = {"status": "ok" if tw.ready else "starting", "worker": tw.worker_id}
            return self.json(body, status=200 if tw.ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(tw.metrics.render(), content_type=PROMETHEUS_CONTENT_TYPE)
