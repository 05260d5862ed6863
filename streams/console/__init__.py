"""The on-call console (``GET /``): static pages served by the worker's own web server, and the read
endpoints only the console needs (``docs/console.md``).

The pages are vendored files in ``static/`` (no build step, no CDN). Every console response carries a
strict Content-Security-Policy: scripts and styles only from this server, no inline script, no frames,
no form posts — trace text is attacker-controlled, and the pages show it with ``textContent`` only.

Reads of the console's own endpoints need the API token unless ``TRACEWATCH_CONSOLE_PUBLIC=true``;
changes always need it (``Authorization: Bearer``, typed by the user, never a cookie: CSRF-safe).
"""

from __future__ import annotations

import logging
import time
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from faust.web import Request, Response

from streams.web_base import ID, ApiView, authorized

if TYPE_CHECKING:
    from streams.app import Tracewatch

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript",
                 ".css": "text/css", ".LICENSE": "text/plain"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}
#: the console's routes: each answers with the same page, which draws the view its path names
PAGES = ("/", "/incidents", f"/incidents/{{incident_id:{ID}}}", "/blocks", "/prompts", "/runbooks", "/detectors")
#: marks a request one worker passed to the series' owner; the owner answers it from what it has
ROUTED_HEADER = "X-Tracewatch-Routed"
ROUTE_TIMEOUT = aiohttp.ClientTimeout(total=5)
MAX_SERIES_COUNTED = 200_000
MAX_RUNS_SHOWN = 5
STARTED_AT = time.time()  # findings per hour are counted since this process started


def may_read(tw: "Tracewatch", request: Request) -> bool:
    return tw.settings.console_public or authorized(tw, request)


class ConsoleView(ApiView):
    def refuse_read(self) -> Response:
        return self.error(401, "unauthorized", hint="type the API token in the console (or set "
                          "TRACEWATCH_CONSOLE_PUBLIC=true on the workers to open read-only views without it)")


def register(tw: "Tracewatch") -> None:
    app = tw.app
    page = (STATIC / "index.html").read_bytes()
    assets = {p.name: (p.read_bytes(), CONTENT_TYPES.get(p.suffix, "application/octet-stream"))
              for p in STATIC.iterdir() if p.is_file()}

    class Page(ConsoleView):
        async def get(self, request: Request, **_: str) -> Response:
            return self.bytes(page, content_type=CONTENT_TYPES[".html"], headers=dict(SECURITY_HEADERS))

    for path in PAGES:
        app.page(path, name=f"console{path}")(type(f"ConsolePage{len(path)}", (Page,), {}))

    @app.page("/console/{name:[A-Za-z0-9._-]+}")
    class Asset(ConsoleView):
        async def get(self, request: Request, name: str) -> Response:
            found = assets.get(name)
            if found is None:
                return self.error(404, f"no console file {name}")
            return self.bytes(found[0], content_type=found[1], headers=dict(SECURITY_HEADERS))

    @app.page("/v1/console")
    class Console(ConsoleView):
        async def get(self, request: Request) -> Response:
            """What the console polls: a number that changes when any incident or execution does."""
            return self.json({"version": tw.view.version, "public": tw.settings.console_public,
                              "token_required": True, "token_set": tw.settings.api_token is not None,
                              "may_read": may_read(tw, request), "time": time.time()})

    @app.page(f"/v1/incidents/{{incident_id:{ID}}}/series")
    class IncidentSeries(ConsoleView):
        async def get(self, request: Request, incident_id: str) -> Response:
            if not may_read(tw, request):
                return self.refuse_read()
            incident = tw.view.get(incident_id)
            if incident is None:
                return self.error(404, f"no incident {incident_id}")
            answer = series_of(tw, incident)
            if answer["owned_here"] or request.headers.get(ROUTED_HEADER):
                return self.json(answer)
            routed = await from_owner(tw, incident.key, request)  # the worker that judges the series
            if routed is None:
                return self.json(answer)  # (no owner known or reachable: the findings' evidence answers)
            return self.bytes(routed, content_type="application/json")

    @app.page("/v1/runbooks")
    class Runbooks(ConsoleView):
        async def get(self, request: Request) -> Response:
            if not may_read(tw, request):
                return self.refuse_read()
            return self.json({"runbooks": runbooks_of(tw)})

    @app.page("/v1/detectors")
    class Detectors(ConsoleView):
        async def get(self, request: Request) -> Response:
            if not may_read(tw, request):
                return self.refuse_read()
            return self.json({"detectors": detectors_of(tw)})


async def from_owner(tw: "Tracewatch", series_key: str, request: Request) -> bytes | None:
    """The series answer of the worker that owns ``series_key``'s partition of the series-state table
    (its history lives there, in memory), or None. One hop only (``ROUTED_HEADER``): two workers that
    disagree about the owner during a rebalance cannot send a request back and forth."""
    app = tw.app
    try:
        owner = app.router.key_store(tw.series_state.name, series_key.encode())
    except Exception:  # noqa: BLE001 - no assignment yet (KeyError), or a rebalance in progress
        return None
    me = app.conf.canonical_url
    if not owner.host or (owner.host, owner.port) == (me.host, me.port):
        return None
    headers = {ROUTED_HEADER: "1"}
    if "Authorization" in request.headers:
        headers["Authorization"] = request.headers["Authorization"]
    try:
        async with app.http_client.get(request.url.with_scheme(owner.scheme or "http").with_host(owner.host)
                                       .with_port(owner.port), headers=headers, timeout=ROUTE_TIMEOUT) as reply:
            return await reply.read() if reply.status == 200 else None
    except Exception:  # noqa: BLE001 - the owner is gone or slow: answer with what this worker has
        log.info("series history of %s: the owner %s did not answer", series_key[:80], owner)
        return None


def series_of(tw: "Tracewatch", incident: Any) -> dict[str, Any]:
    """The history of the incident's series (this worker's, if it judges that series), and the findings'
    evidence, which every worker has."""
    state = getattr(tw, "series_states", {}).get(incident.key)
    if state is None:
        try:
            blob = tw.series_state.get(incident.key.encode())
        except Exception:  # noqa: BLE001 - the table is not ready (a rebalance): the findings answer
            blob = None
        state = tw.suite.load_series(incident.key, blob)[0] if blob else None  # unreadable: no points
    history = state.history.to_dict() if state is not None and state.history is not None else None
    detector = tw.suite.detectors.get(incident.detector)
    return {"incident_id": incident.id, "series_key": incident.key, "detector": incident.detector,
            "kind": incident.kind, "window_s": detector.window_s if detector is not None else None,
            "points": history, "owned_here": state is not None,
            "opened_at": incident.opened_at, "resolved_at": incident.resolved_at,
            "acknowledged_at": incident.acknowledged_at,
            "findings": [{"time": f.time, "severity": f.severity, "observed": f.evidence.observed,
                          "baseline": f.evidence.baseline, "alarm_at": f.evidence.details.get("alarm_at")}
                         for f in incident.findings]}


def runbooks_of(tw: "Tracewatch") -> list[dict[str, Any]]:
    engine = getattr(tw, "engine", None)
    runs: dict[str, list[dict[str, Any]]] = {}
    for record in reversed(list(tw.view.executions.values())):
        name = record.get("runbook")
        if name and len(runs.setdefault(name, [])) < MAX_RUNS_SHOWN:
            runs[name].append({k: record.get(k) for k in
                               ("execution_id", "incident_id", "event", "status", "reason", "created_at")})
    out = []
    for rb in engine.runbooks if engine is not None else []:
        out.append({"name": rb.name, "description": rb.description, "owner": rb.owner,
                    "trigger": rb.trigger.model_dump(mode="json", exclude_none=True),
                    "steps": [{"type": s.type, "name": s.name, "when": str(s.when) if s.when else None,
                               "params": s.params.model_dump(mode="json", exclude_none=True)
                               if hasattr(s.params, "model_dump") else s.params} for s in rb.steps],
                    "max_destructive_per_hour": rb.max_destructive_per_hour,
                    "last_runs": runs.get(rb.name, [])})
    return out


def detectors_of(tw: "Tracewatch") -> list[dict[str, Any]]:
    """Per configured detector: the series this worker tracks (its share of the series table), findings
    per hour since this process started, its incidents; the false-page rate is ``None``: nobody records
    yet whether a page was false."""
    counts: dict[str, int] = {}
    try:
        for key in islice(tw.series_state.keys(), MAX_SERIES_COUNTED):
            text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
            name = text.split("|", 1)[0]
            counts[name] = counts.get(name, 0) + 1
    except Exception:  # noqa: BLE001 - the table is not ready: counts unknown
        counts = {}
    hours = max((time.time() - STARTED_AT) / 3600.0, 1e-9)
    findings = {s.labels["detector"]: s.value for m in tw.metrics.findings.collect() for s in m.samples
                if s.name.endswith("_total")}
    incidents: dict[str, list[Any]] = {}
    for incident in tw.view.by_id.values():
        incidents.setdefault(incident.detector, []).append(incident)
    out = []
    for name, d in tw.suite.detectors.items():
        mine = incidents.get(name, [])
        out.append({"name": name, "kind": d.kind, "series": d.series, "window_s": d.window_s,
                    "series_count": counts.get(name, 0), "findings_per_hour": round(findings.get(name, 0.0) / hours, 2),
                    "incidents": len(mine), "open_incidents": sum(1 for i in mine if i.state != "resolved"),
                    "false_page_rate": None})
    injection = tw.suite.injection
    if injection is not None:  # judged per event, not per series
        name = getattr(injection, "name", "prompt_injection")
        mine = incidents.get(name, [])
        out.append({"name": name, "kind": "injection (per event)", "series": None, "window_s": None,
                    "series_count": None, "findings_per_hour": round(findings.get(name, 0.0) / hours, 2),
                    "incidents": len(mine), "open_incidents": sum(1 for i in mine if i.state != "resolved"),
                    "false_page_rate": None})
    return out
