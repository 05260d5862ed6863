"""For the console's browser tests: Debian's Chromium driven by Playwright, and a loopback server that
serves the shipped pages with API answers a test chooses (no worker needed)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote

import pytest

from streams.console import SECURITY_HEADERS, STATIC

CHROMIUM = Path("/usr/bin/chromium")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


def launch_chromium() -> Iterator[Any]:
    """A headless Chromium; a missing browser fails the test (it is not a skip that passes)."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class FakeApi:
    """The console's pages from disk, with the console's security headers, and JSON answers from
    ``answers`` (path without query → object); a path not there answers 404 with a JSON reason."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = unquote(self.path.split("?", 1)[0])
                api.calls.append((self.command, path, dict(self.headers)))
                status, ctype, body = 200, "application/json", b""
                if path.startswith("/console/"):
                    file = STATIC / path[len("/console/"):]
                    body, ctype = file.read_bytes(), CONTENT_TYPES.get(file.suffix, "text/plain")
                elif path.startswith("/v1/") or path.startswith("/healthz"):
                    answer: Any = api.answers.get(path)
                    if callable(answer):
                        answer = answer(self.command)
                    if answer is None:
                        status, answer = 404, {"error": f"no answer for {path}"}
                    body = json.dumps(answer).encode()
                else:
                    body, ctype = (STATIC / "index.html").read_bytes(), "text/html"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for name, value in SECURITY_HEADERS.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeApi":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def answer_by_method(**by_method: Any) -> Callable[[str], Any]:
    return lambda method: by_method.get(method)
