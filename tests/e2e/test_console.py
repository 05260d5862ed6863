"""The on-call console in a real Chromium (system package) against a live worker on the embedded broker.

One worker, one browser, one traffic run, checked as an on-call engineer uses the console: incidents
appear live in the list, hostile trace text stays text, the incident page draws the series with the
anomaly marked and the timeline of what was done, and the buttons are refused without the API token and
work with it (checked through the API). Screenshots of every page go to ``TRACEWATCH_SCREENSHOTS``
(default ``.screenshots/`` at the repository root, not committed).
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from detectors.config import SHIPPED, enable, load_config, to_yaml
from tests.e2e.test_scenarios import publish
from tests.helpers.console import launch_chromium
from tests.helpers.service import metric_value, wait_for
from tests.helpers.traffic import BASE, LATENCY, MODELS, event

pytestmark = pytest.mark.e2e
API_TOKEN = "console-e2e-token"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
SCREENSHOTS = Path(os.environ.get("TRACEWATCH_SCREENSHOTS", Path(__file__).resolve().parents[2] / ".screenshots"))


def traffic(minutes: float = 62, rate: float = 2.0) -> list[bytes]:
    """Background traffic with a latency regression of one model (minutes 48–60), and one user, named
    with hostile text, who burns through the daily budget (minutes 40–42)."""
    rng = random.Random(7)
    out: list[tuple[float, bytes]] = []
    t, i = BASE, 0
    while t < BASE + minutes * 60:
        t += rng.expovariate(rate)
        i += 1
        override = {}
        if (t - BASE) / 60 in LATENCY and MODELS[i % len(MODELS)][0] == "claude-3-5-sonnet":
            override["latency_ms"] = round(4400 * rng.lognormvariate(0, 0.2), 1)
        out.append((t, event(rng, t, i, **override)))
    t = BASE + 40 * 60
    while t < BASE + 42 * 60:
        t += 0.5
        i += 1
        out.append((t, event(rng, t, i, user_id=HOSTILE, session_id="s-hostile", model="gpt-4o", provider="openai",
                             cost_usd=0.25, trace_id=f"{HOSTILE}-{i}", input=HOSTILE)))
    out.sort(key=lambda pair: pair[0])
    return [message for _, message in out]


@pytest.fixture
def browser():
    yield from launch_chromium()


@pytest.fixture
def console_service(tmp_path, start_worker, worker_env):
    detectors = tmp_path / "console-detectors.yaml"
    detectors.write_text(to_yaml(enable(load_config(SHIPPED), "budget_user_daily")))
    # resolve_after_s: the incidents stay open after the traffic (in event time) moves on
    return start_worker(TRACEWATCH_API_TOKEN=API_TOKEN, TRACEWATCH_CONSOLE_PUBLIC="true", TRACEWATCH_RESOLVE_AFTER_S="86400",
                        TRACEWATCH_DETECTORS=str(detectors), **worker_env)


def wait_js(page, function: str, timeout: float = 30.0) -> None:
    """``page.wait_for_function`` evaluates its predicate with eval, which the console's CSP refuses (as it
    should); ``evaluate`` is not subject to it. Polls until true; the deadline is only a safety net."""
    wait_for(lambda: page.evaluate(function), timeout=timeout, interval=0.1, message=function)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_console_live_list_plot_timeline_and_buttons(broker, console_service, pagerduty_double, slack_double, browser):
    url = console_service.url
    api = httpx.Client(base_url=url, timeout=10)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))

    response = page.goto(f"{url}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    wait_js(page, "() => window.__tw && window.__tw.ready")
    assert page.locator("#incident-rows .row").count() == 0
    page.evaluate("window.__notReloaded = true")

    messages = traffic()
    with ThreadPoolExecutor(1) as pool:  # off this thread: Playwright's sync API runs an event loop here
        pool.submit(publish, broker.bootstrap, messages).result()
    wait_for(lambda: metric_value(console_service.metrics(), "tracewatch_events_total", 'outcome="ok"') >= len(messages),
             timeout=180, message="all traffic ingested")

    # Live: both incidents show up in the open page, without a reload.
    latency_row = page.locator("#incident-rows .row", has_text="latency")
    latency_row.first.wait_for(timeout=60_000)
    budget_row = page.locator("#incident-rows .row", has_text="budget")
    budget_row.first.wait_for(timeout=60_000)
    assert page.evaluate("window.__notReloaded") is True
    # Hostile text is text: shown literally, no element made of it, nothing ran.
    assert HOSTILE in budget_row.first.inner_text()
    assert page.locator("main img").count() == 0 and page.evaluate("window.__pwned") is None
    shot(page, "incidents")

    latency = next(i for i in api.get("/v1/incidents").json()["incidents"] if i["kind"] == "latency")
    page.goto(f"{url}/incidents/{quote(latency['id'], safe='')}")
    page.wait_for_selector("#plot canvas")
    # The plot: windows of the series as judged, the fired moment marked (a red line on the canvas).
    assert int(page.get_attribute("#plot", "data-points")) >= 3
    assert int(page.get_attribute("#plot", "data-before")) >= 10  # the series before the incident too
    assert "fired" in page.inner_text("#plot-note")
    red = page.evaluate("""() => { const c = document.querySelector('#plot canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let k = 0; k < d.length; k += 4) if (d[k] > 190 && d[k + 1] < 80 && d[k + 2] < 80) n++; return n; }""")
    assert red > 50, "the fired moment is marked on the plot"
    # The timeline: finding → incident → runbook → actions with their audit records.
    page.wait_for_selector("#timeline li[data-kind=runbook] li[data-step=page] li[data-audit=ok]", timeout=60_000)
    for kind in ("events", "finding", "incident"):
        assert page.locator(f"#timeline li[data-kind={kind}]").count() >= 1
    shot(page, "incident-latency")

    # Acknowledge without a token: asked, refused by the worker, the incident unchanged.
    page.click("button[data-action=Acknowledge]")
    page.wait_for_selector("[data-flash=error]")
    assert "unauthorized" in page.inner_text("#flash") and dialogs[-1].startswith("Acknowledge incident")
    assert api.get(f"/v1/incidents/{latency['id']}").json()["state"] == "open"
    # With the token typed in: acknowledged, as the API confirms.
    page.fill("#token", API_TOKEN)
    page.click("#token-save")
    page.click("button[data-action=Acknowledge]")
    page.wait_for_selector("[data-flash=ok]")
    acked = wait_for(lambda: (i := api.get(f"/v1/incidents/{latency['id']}").json())["state"] == "acknowledged" and i,
                     timeout=30, message="the acknowledgement (a command to the incident's owner)")
    assert acked["acknowledged_by"] == "console"
    wait_js(page, "() => document.querySelector('[data-fact=acknowledged]').textContent.includes('console')")

    # The hostile user's budget incident: still text on its page; Unblock lifts the block.
    budget = next(i for i in api.get("/v1/incidents").json()["incidents"] if i["kind"] == "budget")
    page.goto(f"{url}/incidents/{quote(budget['id'], safe='')}")
    page.wait_for_selector("button[data-action=Unblock]", timeout=60_000)
    assert HOSTILE in page.inner_text("main") and page.locator("main img").count() == 0
    shot(page, "incident-budget")
    page.click("button[data-action=Unblock]")
    page.wait_for_selector("[data-flash=ok]")
    assert api.get("/v1/blocks/check", params={"user_id": HOSTILE}).json()["blocked"] is False

    for name in ("blocks", "prompts", "runbooks", "detectors"):
        page.goto(f"{url}/{name}")
        wait_js(page, "() => window.__tw && window.__tw.ready")
        shot(page, name)
        if name == "blocks":  # the unblocked user is gone from the list
            assert page.locator("#blocks tbody tr", has_text=HOSTILE).count() == 0
    assert page.locator("#detectors tr", has_text="latency_p95").count() == 1 or page.locator("#detectors tr").count() > 1
    assert page.evaluate("window.__pwned") is None and errors == []
