"""Loopback stand-ins for PagerDuty's Events API v2 and the Slack Web API.

Used by the integration and end-to-end tests (``tests/doubles``) and by ``tracewatch demo``, which has
no real PagerDuty or Slack to talk to. Each runs an HTTP(S) server on ``127.0.0.1`` (port 0: the OS
picks) in a background thread, so synchronous and asynchronous clients both work, records what it
accepted, and can be told to fail the next N requests (429 with ``Retry-After``, 500, …) or to stop
answering altogether.

TLS: pass a server ``ssl.SSLContext`` (the tests make one with ``trustme``; the client trusts the CA
via ``TRACEWATCH_CA_BUNDLE``). The ``pagerduty`` client refuses anything but ``https://``.

>>> pd = PagerDutyStandin().start()  # plain HTTP here only to keep the example short
>>> import json, urllib.request
>>> body = {"routing_key": "k" * 32, "event_action": "trigger", "dedup_key": "inc-1",
...         "payload": {"summary": "cost spike", "source": "tracewatch", "severity": "critical"}}
>>> req = urllib.request.Request(pd.url + "/v2/enqueue", json.dumps(body).encode(), method="POST")
>>> with urllib.request.urlopen(req) as r:
...     r.status, json.loads(r.read())["dedup_key"]
(202, 'inc-1')
>>> [e["dedup_key"] for e in pd.events]
['inc-1']
>>> pd.stop()
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs

PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_MAX_BYTES = 512 * 1024
SLACK_BLOCK_TYPES = {"section", "context", "actions", "divider", "header", "image", "rich_text", "input",
                     "file", "video", "markdown"}

Response = tuple[int, dict[str, str], dict[str, Any]]


NO_ANSWER = 0  # the "status" of a silent outage: the request is held, then dropped unanswered


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LoopbackServer:
    """A JSON HTTP(S) server in a background thread; subclasses implement ``handle``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.request_count = 0
        self._failures: deque[tuple[int, float | None]] = deque()
        self._outage: tuple[int, float | None] | None = None  # every request fails with this while set
        self.failed_count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "LoopbackServer":
        handler = _make_handler(self)
        server = _Server((self.host, self.port), handler)
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.come_back()  # let requests held by a silent outage go
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    # -- programmable failures ---------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        """The next ``count`` requests are answered with ``status`` (and ``Retry-After`` if given)."""
        with self.lock:
            self._failures.extend([(status, retry_after)] * count)

    def go_down(self, status: int = 500, retry_after: float | None = None) -> None:
        """An outage: every request is answered with ``status`` until ``come_back()``."""
        with self.lock:
            self._outage = (status, retry_after)

    def go_silent(self) -> None:
        """An outage with no answer at all: every request is held unanswered until ``come_back()`` (the
        client times out meanwhile), then the connection is closed without a response."""
        with self.lock:
            self._outage = (NO_ANSWER, None)

    def come_back(self) -> None:
        with self.changed:
            self._outage = None
            self.changed.notify_all()

    def pending_failures(self) -> int:
        with self.lock:
            return len(self._failures)

    def _next_failure(self) -> tuple[int, float | None] | None:
        with self.lock:
            self.request_count += 1
            failure = self._failures.popleft() if self._failures else self._outage
            self.failed_count += failure is not None
            return failure

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` (called under the lock) is true; False on timeout."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def failure_response(self, status: int, retry_after: float | None) -> Response:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return status, headers, {"error": f"status {status}"}

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        raise NotImplementedError


def _make_handler(owner: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            failure = owner._next_failure()
            if failure is not None and failure[0] == NO_ANSWER:
                owner.wait_until(lambda: owner._outage is None, timeout=600)
                self.close_connection = True
                return
            if failure is not None:
                status, extra, payload = owner.failure_response(*failure)
            else:
                status, extra, payload = owner.handle(self.command, self.path, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # quiet: request lines would only clutter test output

    return Handler


class PagerDutyStandin(LoopbackServer):
    """PagerDuty Events API v2: ``POST /v2/enqueue`` (and ``/v2/change/enqueue``).

    Accepted events are in ``events`` (routing keys included: this is a test double), rejected ones in
    ``rejected`` with their errors. ``routing_key`` set: other keys are refused like an unknown
    integration (400).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None, routing_key: str | None = None,
                 **kw: Any) -> None:
        super().__init__(ssl_context, **kw)
        self.routing_key = routing_key
        self.events: list[dict[str, Any]] = []
        self.change_events: list[dict[str, Any]] = []
        self.rejected: list[tuple[Any, list[str]]] = []

    def failure_response(self, status: int, retry_after: float | None) -> Response:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        if status == 429:
            return status, headers, {"status": "throttle event",
                                     "message": "Requests for this service are arriving too quickly. "
                                                "Please retry later."}
        return status, headers, {"status": "error", "message": "Internal server error"}

    def alerts(self) -> dict[str, str]:
        """dedup_key → the state PagerDuty would show (triggered / acknowledged / resolved)."""
        state: dict[str, str] = {}
        with self.lock:
            for event in self.events:
                state[event["dedup_key"]] = {"trigger": "triggered", "acknowledge": "acknowledged",
                                             "resolve": "resolved"}[event["event_action"]]
        return state

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if method != "POST" or path not in ("/v2/enqueue", "/v2/change/enqueue"):
            return 404, {}, {"status": "not found", "message": f"{method} {path} is not an Events API path"}
        errors: list[str] = []
        event: Any = None
        if len(body) > PD_MAX_BYTES:
            errors.append("Event object is too large (at most 512 KB)")
        else:
            try:
                event = json.loads(body)
            except ValueError:
                errors.append("Event object is not valid JSON")
        if not errors:
            errors = (validate_change_event if path == "/v2/change/enqueue" else validate_event)(
                event, self.routing_key)
        if errors:
            with self.changed:
                self.rejected.append((event, errors))
                self.changed.notify_all()
            return 400, {}, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        if path == "/v2/change/enqueue":
            with self.changed:
                self.change_events.append(event)
                self.changed.notify_all()
            return 202, {}, {"status": "success", "message": "Change event processed"}
        event.setdefault("dedup_key", uuid.uuid4().hex)
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()
        return 202, {}, {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}


def _check_routing_key(event: dict[str, Any], expected: str | None, errors: list[str]) -> None:
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    elif len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    elif expected is not None and key != expected:
        errors.append("'routing_key' is invalid")


def _check_timestamp(value: Any, errors: list[str], where: str) -> None:
    if value is None:
        return
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"'{where}' is not a valid ISO 8601 timestamp")


def _check_links(event: dict[str, Any], errors: list[str]) -> None:
    links = event.get("links", [])
    if not isinstance(links, list) or not all(isinstance(x, dict) and isinstance(x.get("href"), str)
                                              for x in links):
        errors.append("'links' must be a list of objects with an 'href'")


def validate_event(event: Any, routing_key: str | None = None) -> list[str]:
    """The Events API v2 contract for ``/v2/enqueue``; an empty list means valid.

    >>> validate_event({"routing_key": "short", "event_action": "trigger", "payload": {}})
    ["Length of 'routing_key' is incorrect (should be 32 characters)", "'payload.summary' is missing or blank", "'payload.source' is missing or blank", "'payload.severity' is missing or invalid (critical, error, warning, info)"]
    """
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors: list[str] = []
    _check_routing_key(event, routing_key, errors)
    action = event.get("event_action")
    if action not in PD_ACTIONS:
        errors.append("'event_action' is missing or invalid (trigger, acknowledge, resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or not dedup_key or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a non-empty string of at most 255 characters")
    if action in ("acknowledge", "resolve") and dedup_key is None:
        errors.append(f"'dedup_key' is required to {action}")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
            source = payload.get("source")
            if not isinstance(source, str) or not source.strip():
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append("'payload.severity' is missing or invalid (critical, error, warning, info)")
            _check_timestamp(payload.get("timestamp"), errors, "payload.timestamp")
            for key in ("component", "group", "class"):
                if key in payload and not isinstance(payload[key], str):
                    errors.append(f"'payload.{key}' must be a string")
            if "custom_details" in payload and not isinstance(payload["custom_details"], (dict, str)):
                errors.append("'payload.custom_details' must be an object")
        _check_links(event, errors)
    return errors


def validate_change_event(event: Any, routing_key: str | None = None) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors: list[str] = []
    _check_routing_key(event, routing_key, errors)
    payload = event.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("summary"), str) or not payload["summary"]:
        errors.append("'payload.summary' is missing or blank")
    elif len(payload["summary"]) > 1024:
        errors.append("'payload.summary' is longer than 1024 characters")
    else:
        _check_timestamp(payload.get("timestamp"), errors, "payload.timestamp")
    _check_links(event, errors)
    return errors


class SlackStandin(LoopbackServer):
    """Slack Web API: ``auth.test``, ``chat.postMessage``, ``chat.update`` under ``/api/``.

    ``api_url`` is what ``TRACEWATCH_SLACK_API_URL`` should be. Requests need ``Authorization: Bearer
    <token>``; ``rate_limit_next(n, retry_after)`` answers the next ``n`` calls with 429. Posted
    messages are in ``messages`` (updated in place by ``chat.update``), keyed by ``ts`` in ``by_ts``.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None, token: str = "xoxb-test-token",
                 **kw: Any) -> None:
        super().__init__(ssl_context, **kw)
        self.token = token
        self.messages: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self._ts = int(time.time())
        self._seq = 0

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def rate_limit_next(self, count: int, retry_after: float = 1) -> None:
        self.fail_next(count, 429, retry_after)

    def failure_response(self, status: int, retry_after: float | None) -> Response:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return status, headers, {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}

    def by_ts(self, ts: str) -> dict[str, Any] | None:
        with self.lock:
            return next((m for m in self.messages if m["ts"] == ts), None)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        name = path.split("?", 1)[0].removeprefix("/api/")
        with self.lock:
            self.calls.append(name)
        auth = headers.get("authorization", "")
        args = _slack_args(headers, body)
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else args.get("token")
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if token != self.token:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        if name == "auth.test":
            return 200, {}, {"ok": True, "url": self.url + "/", "team": "tracewatch-test", "user": "tracewatch",
                             "team_id": "T0TEST", "user_id": "U0TEST", "bot_id": "B0TEST"}
        if name == "chat.postMessage":
            return self._post(args)
        if name == "chat.update":
            return self._update(args)
        return 200, {}, {"ok": False, "error": "unknown_method"}

    def _post(self, args: dict[str, Any]) -> Response:
        channel = args.get("channel")
        if not isinstance(channel, str) or not channel.strip():
            return 200, {}, {"ok": False, "error": "channel_not_found"}
        problems = _check_message(args)
        if problems is not None:
            return 200, {}, problems
        with self.changed:
            self._seq += 1
            ts = f"{self._ts}.{self._seq:06d}"
            message = {"channel": channel, "ts": ts, "text": args.get("text"), "blocks": args.get("blocks"),
                       "metadata": args.get("metadata"), "args": args}
            self.messages.append(message)
            self.changed.notify_all()
        return 200, {}, {"ok": True, "channel": channel, "ts": ts,
                         "message": {"text": args.get("text"), "ts": ts, "blocks": args.get("blocks")}}

    def _update(self, args: dict[str, Any]) -> Response:
        ts = args.get("ts")
        problems = _check_message(args)
        if problems is not None:
            return 200, {}, problems
        with self.changed:
            message = next((m for m in self.messages if m["ts"] == ts and m["channel"] == args.get("channel")),
                           None)
            if message is None:
                return 200, {}, {"ok": False, "error": "message_not_found"}
            for key in ("text", "blocks", "metadata"):
                if args.get(key) is not None:
                    message[key] = args[key]
            self.updates.append(args)
            self.changed.notify_all()
        return 200, {}, {"ok": True, "channel": args.get("channel"), "ts": ts, "text": args.get("text")}


def _slack_args(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    args: dict[str, Any] = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    for key in ("blocks", "metadata"):
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                pass
    return args


def _check_message(args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's own limits on a message: an error answer, or None when it would be accepted."""
    text, blocks = args.get("text"), args.get("blocks")
    if not text and not blocks:
        return {"ok": False, "error": "no_text"}
    if isinstance(text, str) and len(text) > 40_000:
        return {"ok": False, "error": "msg_too_long"}
    if blocks is not None:
        problems = _block_problems(blocks)
        if problems:
            return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": problems}}
    metadata = args.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str)
                                 or not isinstance(metadata.get("event_payload"), dict)):
        return {"ok": False, "error": "invalid_metadata_format"}
    return None


def _block_problems(blocks: Any) -> list[str]:
    if not isinstance(blocks, list) or len(blocks) > 50:
        return ["blocks must be a list of at most 50 blocks"]
    problems: list[str] = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") not in SLACK_BLOCK_TYPES:
            problems.append(f"[{i}] unknown block type")
            continue
        text = block.get("text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > 3000:
            problems.append(f"[{i}].text longer than 3000 characters")
        fields = block.get("fields", [])
        if len(fields) > 10 or any(len(str(f.get("text", ""))) > 2000 for f in fields):
            problems.append(f"[{i}].fields: at most 10, each at most 2000 characters")
        for j, element in enumerate(block.get("elements", []) if block.get("type") == "actions" else []):
            if element.get("type") == "button":
                label = element.get("text", {}).get("text", "")
                if not label or len(label) > 75 or len(str(element.get("value", ""))) > 2000 \
                        or len(str(element.get("action_id", ""))) > 255:
                    problems.append(f"[{i}].elements[{j}]: invalid button")
    return problems
