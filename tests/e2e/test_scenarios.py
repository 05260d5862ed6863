"""End to end on the embedded broker: traffic in, incidents and real actions out.

A real ``tracewatch worker`` process reads the traffic that a synthetic application publishes, and its
runbooks page a loopback PagerDuty stand-in, post to a Slack stand-in (both over HTTPS with a test CA),
block users and sessions and roll a prompt back — checked through the public HTTP API.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from detectors.config import SHIPPED, enable, load_config, to_yaml
from streams.topics import TRACES
from tests.helpers.service import metric_value, wait_for
from tests.helpers.traffic import four_scenarios

pytestmark = pytest.mark.e2e
API_TOKEN = "e2e-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def publish(bootstrap: str, messages: list[bytes]) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10)
        await producer.start()
        try:
            for message in messages:
                await producer.send(TRACES, message)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(go())


@pytest.fixture
def budget_env(tmp_path) -> dict[str, str]:
    """The shipped detectors with the opt-in user budget on: the spender's scenario is a budget story."""
    path = tmp_path / "e2e-detectors.yaml"
    path.write_text(to_yaml(enable(load_config(SHIPPED), "budget_user_daily")))
    return {"TRACEWATCH_DETECTORS": str(path)}


@pytest.fixture
def service(broker, start_worker, worker_env, budget_env):
    return start_worker(TRACEWATCH_API_TOKEN=API_TOKEN, **worker_env, **budget_env)


def incidents(service) -> list[dict]:
    return httpx.get(f"{service.url}/v1/incidents", params={"limit": 1000}, timeout=5).json()["incidents"]


def all_counted(service, total: int) -> bool:
    text = service.metrics()
    return metric_value(text, "tracewatch_events_total", 'outcome="ok"') >= total


def test_four_scenarios_page_post_block_and_roll_back(broker, service, pagerduty_double, slack_double):
    api = httpx.Client(base_url=service.url, timeout=10)
    for version in ("3", "4"):
        assert api.post("/v1/prompts/support-chat/versions", json={"version": version}, headers=AUTH).status_code == 200
    assert api.post("/v1/prompts/support-chat/promote", json={"version": "3"}, headers=AUTH).status_code == 200
    # The application ships version 4 just before the surge in its traffic.
    assert api.post("/v1/prompts/support-chat/promote", json={"version": "4"}, headers=AUTH).status_code == 200

    messages = four_scenarios()
    publish(broker.bootstrap, messages)
    wait_for(lambda: all_counted(service, len(messages)), timeout=180, message="all traffic to be ingested")

    # 1. A user's cost spike: paged, and the user blocked.
    spender = wait_for(lambda: [i for i in incidents(service) if i["target"].get("user_id") == "u-spender"
                                and i["kind"] == "budget"], timeout=60, message="the budget incident")[0]
    wait_for(lambda: spender["id"] in pagerduty_double.alerts(), timeout=30, message="the budget page")
    check = wait_for(lambda: (c := api.get("/v1/blocks/check", params={"user_id": "u-spender"}).json())["blocked"]
                     and c, timeout=30, message="the block (the step after the page)")
    assert check["blocks"]["user:u-spender"]["incident_id"] == spender["id"]

    # 2. A model's latency regression: paged and posted.
    slow = wait_for(lambda: [i for i in incidents(service) if i["kind"] == "latency"], timeout=60,
                    message="the latency incident")
    assert len(slow) == 1 and "claude-3-5-sonnet" in slow[0]["series"]
    wait_for(lambda: slow[0]["id"] in pagerduty_double.alerts(), timeout=30, message="the latency page")
    wait_for(lambda: any(slow[0]["id"] in str(m) for m in slack_double.messages), timeout=30,
             message="the latency Slack post")

    # 3. The hallucination surge after version 4: production rolled back to 3, by the incident.
    quality = wait_for(lambda: [i for i in incidents(service) if i["kind"] == "quality"], timeout=60,
                       message="the quality incident")
    assert quality[0]["target"]["prompt_version"] == "4"
    prompt = wait_for(lambda: (p := api.get("/v1/prompts/support-chat").json())["labels"]["production"] == "3" and p,
                      timeout=30, message="the rollback")
    assert prompt["history"][-1]["kind"] == "rollback"
    assert prompt["history"][-1]["incident_id"] == quality[0]["id"]

    # 4. The injection campaign: the attackers' sessions blocked, security told.
    for n in range(4):
        wait_for(lambda: api.get("/v1/blocks/check", params={"session_id": f"s-attacker-{n}"}).json()["blocked"],
                 timeout=30, message=f"the block of s-attacker-{n}")
    assert any("#sec-llm" in str(m) for m in slack_double.messages)

    # Exactly one page per runbook execution that paged (an escalation may page again under the same
    # dedup key, which PagerDuty folds into the same alert), and only for incidents that exist.
    triggers = Counter(e["dedup_key"] for e in pagerduty_double.events if e["event_action"] == "trigger")
    assert triggers
    for incident_id, count in triggers.items():
        executions = api.get(f"/v1/incidents/{incident_id}").json()["executions"]
        paged = [x for x in executions for step in x["steps"] if step["type"] == "page" and step["status"] == "ok"]
        assert count == len(paged), (incident_id, count, executions)
    # Nobody else was blocked.
    blocked = {b["subject"] for b in api.get("/v1/blocks").json()["blocks"]}
    assert blocked <= {"user:u-spender"} | {f"user:attacker-{n}" for n in range(4)} | {
        f"session:s-attacker-{n}" for n in range(4)}


def test_an_hour_of_clean_traffic_opens_no_incident(broker, service, pagerduty_double):
    messages = four_scenarios(minutes=60, incidents=False, seed=2)
    publish(broker.bootstrap, messages)
    wait_for(lambda: all_counted(service, len(messages)), timeout=180, message="all traffic to be ingested")
    text = service.metrics()
    assert metric_value(text, "tracewatch_events_total", 'outcome="deadletter"') == 0
    assert incidents(service) == []
    assert pagerduty_double.events == []
