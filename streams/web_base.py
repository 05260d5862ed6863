"""What every API view shares: the base view (JSON errors, 401 with a hint), the bearer-token check and
the request helpers (a JSON body, an id a caller names)."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web as aiohttp_web
from faust.web import Request, Response, View

if TYPE_CHECKING:
    from streams.app import Tracewatch

log = logging.getLogger("streams.web")  # the API's log keeps its name


def authorized(tw: "Tracewatch", request: Request) -> bool:
    """Mutating calls need ``Authorization: Bearer <TRACEWATCH_API_TOKEN>``; no token set → refuse all."""
    token = tw.settings.api_token
    if token is None:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.get_secret_value().encode())


# An id in a path may hold any character but "/" (send it percent-encoded: %2F, %7B…); aiohttp's
# default segment pattern also refuses "{" and "}", which left such ids unaddressable.
ID = "[^/]+"


class BadRequest(Exception):
    """A request the API refuses with 400 and this reason."""


async def body_of(request: Request) -> dict[str, Any]:
    """The JSON object sent ({} for no body); ``BadRequest`` says what is wrong with any other body."""
    if not request.can_read_body:
        return {}
    try:
        raw = await request.read()
    except aiohttp_web.HTTPRequestEntityTooLarge as exc:
        raise BadRequest(f"the body is larger than the API accepts ({exc.text})") from None
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)  # depth-limited (1024): a deeply nested body is an error, not a crash
    except (orjson.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def check_id(what: str, value: str) -> None:
    """Ids a caller names: any text but control characters (they cannot be shown or logged safely)."""
    if not value or len(value) > 1000:
        raise BadRequest(f"{what} must be 1 to 1000 characters")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise BadRequest(f"{what} must not contain control characters (such as newlines or tabs)")


class ApiView(View):
    tw: "Tracewatch"

    async def dispatch(self, request: Any) -> Any:
        # Every refusal is a 4xx with a JSON reason, whichever handler raised it.
        try:
            return await super().dispatch(request)
        except BadRequest as exc:
            return self.error(400, str(exc))
        except Exception:  # noqa: BLE001 - a bug answers with JSON too; the worker goes on
            log.exception("%s %s failed", request.method, request.path)
            return self.error(500, "internal error; the worker log has the details")

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return self.json({"error": message, **extra}, status=status)

    def refuse(self) -> Response:
        hint = ("set TRACEWATCH_API_TOKEN on the workers and send Authorization: Bearer <token>"
                if self.tw.settings.api_token is None else "send Authorization: Bearer <token>")
        return self.error(401, "unauthorized", hint=hint)
