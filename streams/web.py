"""The HTTP API on Faust's web server (docs/architecture.md): health, metrics, incidents, blocks, prompts.

Reads are answered from this worker's mirrors of the topics, so every worker answers the same. Changes
to incidents are sent as commands to the worker that owns the incident; the call then waits (briefly)
until the change is visible, so that a client that acts and then reads sees its own change.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Callable

from faust.web import Request, Response

from streams.web_base import ID, ApiView, authorized, body_of

if TYPE_CHECKING:
    from streams.app import Tracewatch

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"
VISIBLE_WITHIN_S = 5.0


async def eventually(check: Callable[[], Any], within: float = VISIBLE_WITHIN_S) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(0.05)


def register(tw: "Tracewatch") -> None:
    app = tw.app
    ApiView.tw = tw

    @app.page("/healthz")
    class Health(ApiView):
        async def get(self, request: Request) -> Response:
            ready = tw.is_ready()
            body = {"status": "ok" if ready else "starting", "worker": tw.worker_id}
            return self.json(body, status=200 if ready else 503)

    @app.page("/metrics")
    class Metrics(ApiView):
        async def get(self, request: Request) -> Response:
            await tw.refresh_gauges()
            return self.bytes(tw.metrics.render(), content_type=PROMETHEUS_CONTENT_TYPE)

    @app.page("/v1/incidents")
    class Incidents(ApiView):
        async def get(self, request: Request) -> Response:
            q = request.query
            try:
                limit = int(q.get("limit", "100"))
            except ValueError:
                return self.error(400, "limit must be a whole number")
            state = q.get("state")
            if state not in (None, "open", "acknowledged", "resolved", "active"):
                return self.error(400, f"unknown state {state!r}; allowed: open, acknowledged, resolved, active")
            superseded = q.get("superseded", "false").lower()
            if superseded not in ("true", "false"):
                return self.error(400, f"superseded must be true or false, not {superseded!r}")
            found = tw.view.list(state=state, detector=q.get("detector"), kind=q.get("kind"),
                                 severity=q.get("severity"), limit=limit, superseded=superseded == "true")
            return self.json({"incidents": [summary(i, tw.view.superseded_by(i)) for i in found]})

    @app.page(f"/v1/incidents/{{incident_id:{ID}}}")
    class IncidentDetail(ApiView):
        async def get(self, request: Request, incident_id: str) -> Response:
            incident = tw.view.get(incident_id)
            if incident is None:
                return self.error(404, f"no incident {incident_id}")
            body = incident.model_dump(mode="json")
            body["executions"] = tw.view.executions_for(incident_id)
            body["superseded_by"] = tw.view.superseded_by(incident)  # a later incident of the same key
            return self.json(body)

    def incident_command(kind: str, wanted: Callable[[Any], bool]) -> type[ApiView]:
        class Command(ApiView):
            async def post(self, request: Request, incident_id: str) -> Response:
                if not authorized(tw, request):
                    return self.refuse()
                incident = tw.view.get(incident_id)
                if incident is None:
                    return self.error(404, f"no incident {incident_id}")
                if incident.state == "resolved":
                    return self.error(409, f"incident {incident_id} is already resolved")
                if (current := tw.view.superseded_by(incident)) is not None:
                    return self.error(409, f"incident {incident_id} was superseded by {current}", superseded_by=current)
                body = await body_of(request)
                by = str(body.get("by") or "api")[:200]
                await tw.send_command(kind, incident.key, by=by, time=time.time())
                done = await eventually(lambda: (i := tw.view.get(incident_id)) is not None and wanted(i))
                current = tw.view.get(incident_id)
                return self.json(current.model_dump(mode="json"), status=200 if done else 202)
        return Command

    app.page(f"/v1/incidents/{{incident_id:{ID}}}/ack")(
        incident_command("ack", lambda i: i.state != "open"))
    app.page(f"/v1/incidents/{{incident_id:{ID}}}/resolve")(
        incident_command("resolve", lambda i: i.state == "resolved"))


def summary(incident: Any, superseded_by: str | None = None) -> dict[str, Any]:
    return {"superseded_by": superseded_by,
        "id": incident.id, "key": incident.key, "detector": incident.detector, "kind": incident.kind,
        "series": incident.series, "severity": incident.severity, "state": incident.state,
        "summary": incident.summary, "opened_at": incident.opened_at, "updated_at": incident.updated_at,
        "resolved_at": incident.resolved_at, "finding_count": incident.finding_count,
        "acknowledged_at": incident.acknowledged_at, "acknowledged_by": incident.acknowledged_by,
        "resolved_by": incident.resolved_by,
        "target": incident.target.model_dump(exclude_none=True),
    }
