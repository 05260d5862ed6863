"""The loopback doubles keep the contracts the actions rely on (checked with a plain HTTP client)."""

from __future__ import annotations

import httpx
import pytest

from tests.doubles.fixtures import TEST_ROUTING_KEY, TEST_SLACK_TOKEN, pagerduty_double, slack_double, test_ca  # noqa: F401

pytestmark = pytest.mark.integration


def _post(double, test_ca, path, **kw) -> httpx.Response:
    with httpx.Client(verify=test_ca.client_context(), timeout=5) as client:
        return client.post(double.url + path, **kw)


TRIGGER = {"routing_key": TEST_ROUTING_KEY, "event_action": "trigger",
           "payload": {"summary": "s", "source": "src", "severity": "warning", "timestamp": "2026-01-01T00:00:00Z"}}


def test_trigger_without_dedup_key_gets_one(pagerduty_double, test_ca) -> None:
    response = _post(pagerduty_double, test_ca, "/v2/enqueue", json=TRIGGER)
    body = response.json()
    assert response.status_code == 202 and body["status"] == "success" and body["message"] == "Event processed"
    assert pagerduty_double.events[0]["dedup_key"] == body["dedup_key"] and len(body["dedup_key"]) == 32


@pytest.mark.parametrize("event, error", [
    ({**TRIGGER, "routing_key": "short"}, "Length of 'routing_key' is incorrect (should be 32 characters)"),
    ({**TRIGGER, "event_action": "page"}, "'event_action' is missing or invalid (trigger, acknowledge, resolve)"),
    ({**TRIGGER, "payload": {"source": "s", "severity": "warning"}}, "'payload.summary' is missing or blank"),
    ({**TRIGGER, "payload": {**TRIGGER["payload"], "summary": "x" * 1025}}, "'payload.summary' is longer than 1024 characters"),
    ({**TRIGGER, "payload": {**TRIGGER["payload"], "severity": "high"}}, "'payload.severity' is missing or invalid (critical, error, warning, info)"),
    ({**TRIGGER, "payload": {**TRIGGER["payload"], "timestamp": "yesterday"}}, "'payload.timestamp' is not a valid ISO 8601 timestamp"),
    ({"routing_key": TEST_ROUTING_KEY, "event_action": "resolve"}, "'dedup_key' is required to resolve"),
])
def test_bad_events_get_400(pagerduty_double, test_ca, event, error) -> None:
    response = _post(pagerduty_double, test_ca, "/v2/enqueue", json=event)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event" and error in response.json()["errors"]
    assert pagerduty_double.events == []


def test_not_json_and_unknown_path(pagerduty_double, test_ca) -> None:
    assert _post(pagerduty_double, test_ca, "/v2/enqueue", content=b"{").status_code == 400
    assert _post(pagerduty_double, test_ca, "/v1/enqueue", json=TRIGGER).status_code == 404


def test_programmed_failures_then_recovery(pagerduty_double, test_ca) -> None:
    pagerduty_double.fail_next(1, 500)
    pagerduty_double.fail_next(1, 429, retry_after=2)
    statuses = [_post(pagerduty_double, test_ca, "/v2/enqueue", json=TRIGGER) for _ in range(3)]
    assert [r.status_code for r in statuses] == [500, 429, 202] and statuses[1].headers["retry-after"] == "2"
    assert len(pagerduty_double.events) == 1


def test_slack_auth_post_update(slack_double, test_ca) -> None:
    def call(method, token=TEST_SLACK_TOKEN, **args):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return _post(slack_double, test_ca, f"/api/{method}", json=args, headers=headers).json()

    assert call("auth.test", token=None) == {"ok": False, "error": "not_authed"}
    assert call("auth.test", token="xoxb-nope")["error"] == "invalid_auth"
    assert call("auth.test")["ok"] is True
    assert call("chat.postMessage", channel="#x")["error"] == "no_text"
    assert call("chat.postMessage", channel="#x", blocks=[{"type": "bogus"}])["error"] == "invalid_blocks"
    posted = call("chat.postMessage", channel="#x", text="hello")
    assert call("chat.update", channel="#x", ts=posted["ts"], text="bye")["ok"] is True
    assert slack_double.by_ts(posted["ts"])["text"] == "bye"
    assert call("chat.update", channel="#x", ts="1.2", text="bye")["error"] == "message_not_found"
