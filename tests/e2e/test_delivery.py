"""Delivery under faults, end to end: PagerDuty down while incidents open. The protective steps do not
wait for it, the pages stay pending (visible in /metrics and on the incident) and arrive, once per
execution, when it is back."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from tests.e2e.test_scenarios import API_TOKEN, all_counted, incidents, publish
from tests.e2e.test_scenarios import budget_env  # noqa: F401 - a fixture
from tests.helpers.service import metric_value, wait_for
from tests.helpers.traffic import four_scenarios

pytestmark = pytest.mark.e2e


def pending(worker) -> float:
    return metric_value(worker.metrics(), "tracewatch_actions_pending")


def spender_blocked_while_paging_fails(worker, error_attempts: int) -> dict:
    """The budget incident, its user blocked, and ``error_attempts`` page attempts failed meanwhile."""
    spender = wait_for(lambda: [i for i in incidents(worker) if i["target"].get("user_id") == "u-spender"
                                and i["kind"] == "budget"], timeout=60, message="the budget incident")[0]
    wait_for(lambda: httpx.get(f"{worker.url}/v1/blocks/check", params={"user_id": "u-spender"}).json()["blocked"],
             timeout=30, message="the block, while PagerDuty fails")
    wait_for(lambda: metric_value(worker.metrics(), "tracewatch_actions_total",
                                  'action="page",outcome="error"') >= error_attempts,
             timeout=120, message="page attempts failed during the outage")
    assert pending(worker) >= 1
    return spender


def assert_each_page_once_and_none_given_up(worker, pagerduty_double) -> None:
    wait_for(lambda: pending(worker) == 0, timeout=180, message="every pending notification delivered")
    triggers = Counter(e["dedup_key"] for e in pagerduty_double.events if e["event_action"] == "trigger")
    for incident_id, count in triggers.items():
        executions = httpx.get(f"{worker.url}/v1/incidents/{incident_id}").json()["executions"]
        paged = [x for x in executions for s in x["steps"] if s["type"] == "page" and s["status"] == "ok"]
        assert count == len(paged), (incident_id, count)
    failed = [s for i in incidents(worker)
              for x in httpx.get(f"{worker.url}/v1/incidents/{i['id']}").json()["executions"]
              for s in x["steps"] if s["status"] == "failed" and s["type"] in ("page", "resolve_page", "slack")]
    assert failed == []  # no notification given up: the outage was far shorter than the deadline


def test_pages_survive_a_pagerduty_outage_and_blocks_do_not_wait(broker, start_worker, worker_env, budget_env,
                                                                 pagerduty_double, slack_double):
    pagerduty_double.go_down(500)
    worker = start_worker(TRACEWATCH_API_TOKEN=API_TOKEN, **worker_env, **budget_env)
    messages = four_scenarios()
    publish(broker.bootstrap, messages)
    wait_for(lambda: all_counted(worker, len(messages)), timeout=180, message="all traffic to be ingested")

    # While PagerDuty answers 500: the spender is blocked all the same, and the page is pending.
    # An attempt is several requests (the client retries a 500 itself): wait for the engine's retries.
    spender = spender_blocked_while_paging_fails(worker, error_attempts=3)
    assert metric_value(worker.metrics(), "tracewatch_actions_oldest_pending_seconds") > 0
    steps = [s for x in httpx.get(f"{worker.url}/v1/incidents/{spender['id']}").json()["executions"]
             for s in x["steps"] if s["type"] == "page"]
    assert steps and all(s["status"] in ("queued", "running", "retrying") for s in steps), steps
    assert pagerduty_double.events == []

    pagerduty_double.come_back()
    wait_for(lambda: spender["id"] in pagerduty_double.alerts(), timeout=120, message="the page after the outage")
    assert_each_page_once_and_none_given_up(worker, pagerduty_double)


def test_slack_posts_survive_a_rate_limited_slack_and_blocks_do_not_wait(broker, start_worker, worker_env, budget_env,  # noqa: F811
                                                                          pagerduty_double, slack_double):
    slack_double.go_down(429, retry_after=2)  # Slack answers "ratelimited" with Retry-After for the whole outage
    worker = start_worker(TRACEWATCH_API_TOKEN=API_TOKEN, **worker_env, **budget_env)
    messages = four_scenarios()
    publish(broker.bootstrap, messages)
    wait_for(lambda: all_counted(worker, len(messages)), timeout=180, message="all traffic to be ingested")

    # While Slack refuses: the injection campaign's attackers are blocked all the same, and the posts wait.
    attacks = wait_for(lambda: [i for i in incidents(worker) if i["kind"] == "injection"
                                and i["target"].get("user_id")], timeout=60, message="an injection incident")
    attacker = attacks[0]["target"]["user_id"]
    wait_for(lambda: httpx.get(f"{worker.url}/v1/blocks/check", params={"user_id": attacker}).json()["blocked"],
             timeout=30, message="the attacker's block, while Slack is down")
    wait_for(lambda: metric_value(worker.metrics(), "tracewatch_actions_total", 'action="slack",outcome="error"') >= 2,
             timeout=120, message="Slack posts refused during the outage")
    assert pending(worker) >= 1
    assert slack_double.messages == []

    slack_double.come_back()
    wait_for(lambda: pending(worker) == 0, timeout=180, message="every pending notification delivered")

    def slack_steps() -> list[tuple[str, str]]:
        return [(x["execution_id"], s["status"]) for i in incidents(worker)
                for x in httpx.get(f"{worker.url}/v1/incidents/{i['id']}").json()["executions"]
                for s in x["steps"] if s["type"] == "slack"]

    steps = slack_steps()
    # None given up, none left behind (a step whose `when` was false is skipped, one throttled suppressed).
    assert not [st for st in steps if st[1] in ("failed", "queued", "running", "retrying")], steps
    posted = [st for st in steps if st[1] == "ok"]
    assert posted and len(slack_double.messages) == len(posted)  # each post once, though all were refused first


def test_pages_survive_a_pagerduty_that_stops_answering(broker, start_worker, worker_env, budget_env,  # noqa: F811
                                                        pagerduty_double, slack_double):
    # PagerDuty accepts connections and never answers: each request times out (5 s), none is recorded.
    pagerduty_double.go_silent()
    worker = start_worker(TRACEWATCH_API_TOKEN=API_TOKEN, **worker_env, **budget_env)
    messages = four_scenarios()
    publish(broker.bootstrap, messages)
    wait_for(lambda: all_counted(worker, len(messages)), timeout=180, message="all traffic to be ingested")

    spender = spender_blocked_while_paging_fails(worker, error_attempts=1)
    assert pagerduty_double.events == [] and pagerduty_double.failed_count >= 1

    pagerduty_double.come_back()
    wait_for(lambda: spender["id"] in pagerduty_double.alerts(), timeout=180, message="the page once PagerDuty answers")
    assert_each_page_once_and_none_given_up(worker, pagerduty_double)  # timed out, retried, delivered once
