"""The console in Chromium: the incidents list with 10,000 incidents, and a day of one-minute points plotted.

``python -m bench.console`` (or ``python -m bench --only console``). The pages are the shipped files
(``streams/console/static``), served with synthetic API answers by a loopback HTTP server, so what is timed
is the browser's work: fetching and parsing the JSON, building the DOM and laying it out (the list), and
uPlot's first draw (the plot) — not a worker's. Each is run ``RUNS`` times in a fresh page; the median and
the worst are reported. The issue's targets: the list in ≤ 1 s, the plot in ≤ 300 ms.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it): without it the section
says it was not measured.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
STATIC = Path(__file__).resolve().parent.parent / "streams" / "console" / "static"
INCIDENTS = 10_000
POINTS = 1440  # a day at one-minute resolution
RUNS = 5
NOW = 1_780_300_800.0


def incidents(n: int) -> list[dict[str, Any]]:
    kinds = ["cost", "latency", "errors", "quality", "budget", "runaway", "injection"]
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        out.append({"superseded_by": None, "id": f"inc-{i:06d}", "key": f"{kind}_x|user_id=u-{i}", "detector": f"{kind}_x",
                    "kind": kind, "series": f"user_id=u-{i}/feature=f{i % 40}", "severity": ("warning", "critical")[i % 2],
                    "state": ("open", "acknowledged")[i % 2], "summary": f"{kind}: 4.2x the usual for user u-{i} <b>x</b>",
                    "opened_at": NOW - i * 7, "updated_at": NOW - i * 7, "resolved_at": None, "finding_count": 1 + i % 5,
                    "acknowledged_at": None if i % 2 == 0 else NOW, "acknowledged_by": None if i % 2 == 0 else "oncall",
                    "resolved_by": None, "target": {"user_id": f"u-{i}", "feature": f"f{i % 40}"}})
    return out


def series(n: int) -> dict[str, Any]:
    t0 = NOW - n * 60
    t = [t0 + 60 * k for k in range(n)]
    base = [100 + 20 * math.sin(k / 90) for k in range(n)]
    observed = [b + (8 * math.sin(k * 1.7)) + (300 if n - 120 < k < n - 100 else 0) for k, b in enumerate(base)]
    return {"incident_id": "inc-000001", "series_key": "latency_x|model=m", "detector": "latency_x", "kind": "latency",
            "window_s": 60.0, "owned_here": True, "opened_at": t[n - 118], "resolved_at": t[n - 95],
            "acknowledged_at": None, "findings": [],
            "points": {"t": t, "observed": observed, "baseline": base, "low": [b - 10 for b in base],
                       "high": [b + 10 for b in base], "threshold": [b * 1.5 for b in base]}}


def _answer(path: str, listing: bytes, plotted: bytes, incident: bytes) -> tuple[bytes, str]:
    """What the worker would answer (the pages from disk, the API from the synthetic data)."""
    content_types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
    body, ctype = None, "application/json"
    if path.startswith("/console/"):
        file = STATIC / path[len("/console/"):]
        body, ctype = file.read_bytes(), content_types.get(file.suffix, "text/plain")
    elif path == "/v1/console":
        body = json.dumps({"version": 1, "may_read": True, "public": True}).encode()
    elif path == "/v1/incidents":
        body = listing
    elif path.endswith("/series"):
        body = plotted
    elif path.startswith("/v1/incidents/"):
        body = incident
    elif path in ("/v1/blocks", "/v1/models"):
        body = json.dumps({"blocks": [], "models": []}).encode()
    else:
        body, ctype = (STATIC / "index.html").read_bytes(), "text/html"
    return body, ctype


class _Server:
    """A loopback HTTP server in a thread: the browser fetches as it would from a worker."""

    def __init__(self, listing: bytes, plotted: bytes, incident: bytes) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body, ctype = _answer(self.path.split("?", 1)[0], listing, plotted, incident)
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _wait(page: Any, expression: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(expression)


def measure() -> dict[str, Any]:
    if not CHROMIUM.exists():
        return {"measured": False, "reason": f"{CHROMIUM} is missing (apt-get install chromium); not measured"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"measured": False, "reason": "the playwright package is missing (pip install -e '.[dev]'); not measured"}
    listing = json.dumps({"incidents": incidents(INCIDENTS)}).encode()
    plotted = json.dumps(series(POINTS)).encode()
    one = incidents(2)[1]
    incident = json.dumps({**one, "labels": {}, "last_finding_at": one["opened_at"], "findings": [],
                           "executions": []}).encode()
    list_build, list_total, plot = [], [], []
    with _Server(listing, plotted, incident) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for _ in range(RUNS):
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(f"{server.url}/incidents?state=all")
                done = _wait(page, "() => window.__tw && window.__tw.lastRender")
                if done["rows"] != INCIDENTS:
                    raise AssertionError(f"rendered {done['rows']} rows, not {INCIDENTS}")
                list_build.append(done["ms"])
                list_total.append(done["at"])
                page.goto(f"{server.url}/incidents/inc-000001")
                plot.append(_wait(page, "() => window.__tw && window.__tw.plotMs"))
                if int(page.get_attribute("#plot", "data-points")) != POINTS:
                    raise AssertionError("the plot did not get a day of points")
                page.close()
            version = browser.version
        finally:
            browser.close()

    def summary(values: list[float]) -> dict[str, float]:
        return {"median_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1)}

    return {"measured": True, "chromium": version, "runs": RUNS,
            "list_10k": {"incidents": INCIDENTS, "dom_build_and_layout": summary(list_build),
                         "navigation_to_rendered": summary(list_total), "target_ms": 1000},
            "plot_day": {"points": POINTS, "first_draw": summary(plot), "target_ms": 300}}


def main(quick: bool = False) -> dict[str, Any]:
    result = measure()
    if not result["measured"]:
        print(f"console: {result['reason']}", file=sys.stderr)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
