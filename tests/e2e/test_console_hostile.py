"""Hostile text in every field the console shows, in Chromium: shown as text, nothing made of it runs.

The pages are the shipped ones; the API answers are chosen by the test (``tests.helpers.console.FakeApi``),
so every field — ids, series, summaries, target, labels, evidence details, example trace ids, runbook
step names, responses and audit errors, block subjects and reasons, pin names, prompt ids, versions and
history, detector names — holds markup, a script, an event handler or a ``javascript:`` URL.
"""

from __future__ import annotations

import pytest

from tests.helpers.console import FakeApi, launch_chromium
from tests.helpers.service import wait_for

pytestmark = pytest.mark.e2e
H1 = '<img src=x onerror="window.__pwned=1">'
H2 = "<script>window.__pwned=2</script>"
H3 = '"><svg onload="window.__pwned=3">'
H4 = "javascript:window.__pwned=4"
T = 1_780_300_800.0
INCIDENT_ID = "inc-" + H3


def incident() -> dict:
    return {
        "id": INCIDENT_ID, "key": f"{H1}|user_id={H1}", "detector": H1, "kind": H2, "series": f"user_id={H1}",
        "severity": "critical", "state": "open", "summary": H2 + " spend 9x", "labels": {H1: H2},
        "target": {"user_id": H1, "session_id": H3, "prompt_id": H4, "model": H2, "app": H1, "feature": H3},
        "opened_at": T, "updated_at": T, "last_finding_at": T, "acknowledged_at": None, "acknowledged_by": None,
        "resolved_at": None, "resolved_by": None, "finding_count": 1, "event_count": 1, "last_change": None,
        "superseded_by": None,
        "findings": [{"time": T, "detector": H1, "kind": H2, "series": f"user_id={H1}", "severity": "critical",
                      "score": 9.0, "summary": H1, "labels": {H3: H4}, "target": {"user_id": H1},
                      "evidence": {"observed": 9.0, "baseline": 1.0, "window_s": 60, "example_trace_ids": [H1, H4],
                                   "details": {H1: H2, "error": H3}}}],
        "executions": [{"execution_id": H1, "runbook": H2, "incident_id": INCIDENT_ID, "incident_key": H1,
                        "event": "opened", "status": H3, "reason": H1, "created_at": T + 1, "updated_at": T + 1,
                        "steps": [{"index": "0", "type": "block", "name": H1, "status": "ok", "attempts": 1,
                                   "target": "user:" + H1, "detail": {H1: H2}, "error": H3}],
                        "audit": [{"step": "0", "type": "block", "attempt": 1, "target": "user:" + H1,
                                   "outcome": "error", "status_code": 500, "duration_ms": 1.5, "error": H1,
                                   "retryable": True, "at": T + 1}]}],
    }


def answers() -> dict:
    inc = incident()
    summary = {k: inc[k] for k in ("id", "key", "detector", "kind", "series", "severity", "state", "summary",
                                    "opened_at", "updated_at", "resolved_at", "finding_count", "acknowledged_at",
                                    "acknowledged_by", "resolved_by", "target", "superseded_by")}
    points = {"t": [T - 60, T, T + 60], "observed": [1, 9, 1], "baseline": [1, 1, 1.1], "low": [0.8, 0.8, 0.9],
              "high": [1.2, 1.2, 1.3], "threshold": [3, 3, 3.2]}
    return {
        "/v1/console": {"version": 1, "may_read": True, "public": True},
        "/v1/incidents": {"incidents": [summary]},
        f"/v1/incidents/{INCIDENT_ID}": inc,
        f"/v1/incidents/{INCIDENT_ID}/series": {"points": points, "window_s": 60, "findings": [],
                                                "opened_at": T, "resolved_at": None},
        f"/v1/blocks/user:{H1}": {"removed": "user:" + H1},
        "/v1/blocks": {"blocks": [{"subject": "user:" + H1, "kind": "user", "value": H1, "reason": H2,
                                   "incident_id": INCIDENT_ID, "created_at": T, "expires_at": None,
                                   "created_by": H3, "active": True}]},
        "/v1/models": {"models": [{"subject": "model:" + H2, "kind": "model", "value": H2, "use": H3, "reason": H1,
                                   "incident_id": H4, "created_at": T, "expires_at": None, "active": True}]},
        "/v1/prompts": {"prompts": [{"prompt_id": H4, "labels": {"production": H1}, "versions": [H1, H2],
                                     "last_move": None}]},
        f"/v1/prompts/{H4}": {"prompt_id": H4, "history": [{"label": "production", "from_version": H1,
                                                             "to_version": H2, "at": T, "by": H3, "reason": H1,
                                                             "incident_id": INCIDENT_ID, "kind": "rollback"}]},
        "/v1/runbooks": {"runbooks": [{"name": H2, "description": H1, "trigger": {"kind": [H1]},
                                       "steps": [{"type": H3, "name": H1, "when": H4, "params": {"text": H2}}],
                                       "last_runs": [{"execution_id": H1, "incident_id": INCIDENT_ID, "event": H1,
                                                      "status": H2, "created_at": T}]}]},
        "/v1/detectors": {"detectors": [{"name": H1, "kind": H2, "series": H3, "window_s": 60, "series_count": 1,
                                         "findings_per_hour": 2.5, "incidents": 1, "open_incidents": 1,
                                         "false_page_rate": None}]},
    }


INERT = """() => {
    const main = document.querySelector('main');
    const made = main.querySelectorAll('img, script, svg, iframe, object, embed').length;
    const handlers = [...main.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length;
    const links = [...main.querySelectorAll('a')].filter((a) => !a.getAttribute('href').startsWith('/')).length;
    return {made, handlers, links, pwned: window.__pwned === undefined ? null : window.__pwned};
}"""


def test_hostile_text_in_every_field_stays_text():
    with FakeApi(answers()) as api:
        for browser in launch_chromium():
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
            pages = {"/incidents": [H1, H2], "/incidents/" + INCIDENT_ID.replace('"', "%22"): [H1, H2, H3, H4],
                     "/blocks": [H1, H2, H3], "/prompts": [H1, H2, H3, H4], "/runbooks": [H1, H2, H3, H4],
                     "/detectors": [H1, H2, H3]}
            for path, texts in pages.items():
                page.goto(api.url + path)
                wait_for(lambda: page.evaluate("() => window.__tw && window.__tw.ready"), timeout=30, interval=0.1,
                         message=f"{path} drawn")
                text = page.inner_text("main")
                for hostile in texts:
                    assert hostile in text, (path, hostile)
                assert page.evaluate(INERT) == {"made": 0, "handlers": 0, "links": 0, "pwned": None}, path
            # A button names the hostile subject in its question and sends it percent-encoded.
            page.goto(api.url + "/incidents/" + INCIDENT_ID.replace('"', "%22"))
            wait_for(lambda: page.evaluate("() => window.__tw && window.__tw.ready"), timeout=30, interval=0.1,
                     message="the incident page")
            page.click("button[data-action=Unblock]")
            page.wait_for_selector("[data-flash]")
            assert dialogs == [f"Unblock user:{H1}?"]
            assert ("DELETE", f"/v1/blocks/user:{H1}") in [(m, p) for m, p, _ in api.calls]
            assert page.evaluate(INERT)["pwned"] is None and errors == []

            # Read-only views closed (no TRACEWATCH_CONSOLE_PUBLIC, no token): nothing is fetched or shown.
            api.answers["/v1/console"] = {"version": 1, "may_read": False, "public": False}
            before = len(api.calls)
            page.goto(api.url + "/incidents")
            page.wait_for_selector("#needs-token")
            assert H1 not in page.inner_text("main")
            assert [p for _, p, _ in api.calls[before:] if p.startswith("/v1/")] == ["/v1/console"]
