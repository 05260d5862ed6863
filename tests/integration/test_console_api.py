"""The console's server side on a real worker: the pages and their security headers, and the console's
read endpoints closed without the API token (``TRACEWATCH_CONSOLE_PUBLIC`` unset), each refusal a 4xx
with a JSON reason."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration
TOKEN = {"Authorization": "Bearer t"}


@pytest.fixture
def worker(start_worker):
    return start_worker(TRACEWATCH_API_TOKEN="t")


def test_pages_assets_and_read_gate(worker):
    api = httpx.Client(base_url=worker.url, timeout=10)
    for path in ("/", "/incidents", "/incidents/inc-%3Cx%3E", "/blocks", "/prompts", "/runbooks", "/detectors"):
        page = api.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert b'<script type="module" src="/console/console.js">' in page.content
    script = api.get("/console/console.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text and "innerHTML" not in api.get("/console/incident.js").text
    assert api.get("/console/uPlot.LICENSE").text.startswith("The MIT License")
    refused = api.get("/console/nope.js")
    assert refused.status_code == 404 and refused.json() == {"error": "no console file nope.js"}
    assert api.get("/console/..%2F__init__.py").status_code == 404  # no route: names are [A-Za-z0-9._-]

    assert api.get("/v1/console").json()["may_read"] is False
    assert api.get("/v1/console", headers=TOKEN).json()["may_read"] is True
    for path in ("/v1/runbooks", "/v1/detectors", "/v1/incidents/inc-x/series"):
        refused = api.get(path)
        assert refused.status_code == 401 and "TRACEWATCH_CONSOLE_PUBLIC" in refused.json()["hint"], path
        assert api.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    runbooks = api.get("/v1/runbooks", headers=TOKEN).json()["runbooks"]
    assert {"cost-spike", "latency-regression"} <= {r["name"] for r in runbooks}
    assert all(r["steps"] and r["last_runs"] == [] for r in runbooks)
    detectors = {d["name"]: d for d in api.get("/v1/detectors", headers=TOKEN).json()["detectors"]}
    assert detectors["latency_model"]["kind"] == "latency" and detectors["latency_model"]["false_page_rate"] is None
    missing = api.get("/v1/incidents/inc-x/series", headers=TOKEN)
    assert missing.status_code == 404 and missing.json() == {"error": "no incident inc-x"}
