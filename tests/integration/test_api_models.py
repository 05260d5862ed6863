"""Model pins (issue 16, item 4) on a real worker: a pin published on tracewatch.controls (as a runbook on
any worker would) reaches GET /v1/models/check; the API and the CLI pin and unpin; a model never seen is
refused; every refusal is a 4xx with a JSON reason; any model name is addressable."""

from __future__ import annotations

import os
import subprocess
import time
from urllib.parse import quote

import httpx
import orjson
import pytest

from runbooks.ports import Control
from streams.topics import CONTROLS, TRACES
from tests.helpers.service import TRACEWATCH, wait_for
from tests.integration.test_ingest import produce

pytestmark = pytest.mark.integration

TOKEN = {"Authorization": "Bearer t"}
HOSTILE = ["acme/{model}", "100% <b>", "sp ace?q=1#f", "check"]


def seg(value: str) -> str:
    return quote(value, safe="")


def pin_record(model: str, use: str, at: float, **extra) -> bytes:
    return Control(subject=f"model:{model}", kind="model", value=model, use=use, reason="quality regressed",
                   incident_id="inc-1", created_at=at, created_by="runbook:provider-model-update",
                   **extra).model_dump_json().encode()


def check(worker, model: str) -> dict:
    response = httpx.get(f"{worker.url}/v1/models/check", params={"model": model})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def worker(start_worker):
    return start_worker(TRACEWATCH_API_TOKEN="t")


def test_a_published_pin_reaches_the_check_and_is_undone_by_the_api(broker, worker):
    now = time.time()
    produce(broker, CONTROLS, pin_record("gpt-4o", "gpt-4o-2024-08-06", now, instead_of="gpt-4o-2024-11-20"),
            *(pin_record(m, m + "-v1", now) for m in HOSTILE))
    wait_for(lambda: check(worker, "gpt-4o")["pinned"], timeout=30, message="the pin to be mirrored")
    body = check(worker, "gpt-4o")
    assert (body["model"], body["use"], body["pin"]["instead_of"], body["pin"]["incident_id"]) == (
        "gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "inc-1")
    assert check(worker, "gpt-4o-mini") == {"model": "gpt-4o-mini", "pinned": False, "use": "gpt-4o-mini", "pin": None}
    wait_for(lambda: all(check(worker, m)["pinned"] for m in HOSTILE), timeout=30, message="every pin mirrored")
    listed = {m["value"] for m in httpx.get(f"{worker.url}/v1/models").json()["models"]}
    assert listed == {"gpt-4o", *HOSTILE}
    assert httpx.get(f"{worker.url}/v1/blocks").json()["blocks"] == []  # pins are not blocks
    assert httpx.delete(f"{worker.url}/v1/blocks/{seg('model:gpt-4o')}", headers=TOKEN).status_code == 404

    assert httpx.delete(f"{worker.url}/v1/models/gpt-4o").status_code == 401
    for model in ["gpt-4o", *HOSTILE]:
        response = httpx.request("DELETE", f"{worker.url}/v1/models/{seg(model)}", headers=TOKEN, json={"by": "ana"})
        assert response.status_code == 200, (model, response.text)
        assert response.json() == {"unpinned": model, "resolved": []}  # no incident to decide
    again = httpx.delete(f"{worker.url}/v1/models/gpt-4o", headers=TOKEN)
    assert again.status_code == 404 and again.json()["error"] == "gpt-4o is not pinned"
    assert check(worker, "gpt-4o")["pinned"] is False

    # an older record read back late (the pin before the unpin) does not undo the unpin
    produce(broker, CONTROLS, pin_record("gpt-4o", "gpt-4o-2024-08-06", now - 60))
    time.sleep(2)
    assert check(worker, "gpt-4o")["pinned"] is False


def test_pin_through_the_api_and_the_cli_and_refusals(broker, worker):
    url = worker.url
    assert httpx.get(f"{url}/v1/models/check").status_code == 400
    pin = lambda model, body, headers=TOKEN: httpx.post(f"{url}/v1/models/{seg(model)}/pin",  # noqa: E731
                                                         json=body, headers=headers)
    assert pin("gpt-4o", {"to": "gpt-4o-2024-08-06"}, headers={}).status_code == 401
    for body, reason in [({}, '"to" (text) is required'), ({"to": " "}, '"to" (text) is required'),
                         ({"to": "gpt-4o"}, '"to" is gpt-4o itself'),
                         ({"to": "x", "ttl": "soon"}, '"ttl": expected a duration'),
                         ({"to": "x", "ttl": 0}, '"ttl" must be more than 0'),
                         ({"to": "a\nb"}, '"to" must not contain control characters')]:
        response = pin("gpt-4o", body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"].startswith(reason), (body, response.json())
    never = pin("gtp-4o", {"to": "gpt-4o-2024-08-06"})
    assert never.status_code == 409 and "gtp-4o has not been seen" in never.json()["error"]

    # known from the price table
    done = pin("gpt-4o", {"to": "gpt-4o-2024-08-06", "ttl": "2h", "reason": "evaluation failed"})
    assert done.status_code == 200, done.text
    record = done.json()
    assert (record["use"], record["known_from"], record["created_by"], record["reason"]) == (
        "gpt-4o-2024-08-06", "prices", "api", "evaluation failed")
    assert 7100 < record["expires_at"] - time.time() <= 7200
    wait_for(lambda: check(worker, "gpt-4o")["use"] == "gpt-4o-2024-08-06", timeout=10, message="the pin")

    # known from traffic: a model no price names, once the worker holds a series of it
    event = {"trace_id": "t", "timestamp": time.time(), "model": "acme-llm-7", "provider": "acme",
             "input_tokens": 10, "output_tokens": 5, "latency_ms": 100.0, "user_id": "u1"}
    produce(broker, TRACES, *(orjson.dumps({**event, "trace_id": f"t{i}"}) for i in range(20)))
    seen = wait_for(lambda: (r := pin("acme-llm-7", {"to": "acme-llm-6"})).status_code == 200 and r.json(),
                    timeout=60, message="the model's series to be known")
    assert seen["known_from"] == "series"

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRACEWATCH_")},
           "TRACEWATCH_API_TOKEN": "t", "TRACEWATCH_API_URL": url, "COLUMNS": "250"}
    cli = lambda *args: subprocess.run([TRACEWATCH, "models", *args], env=env, capture_output=True,  # noqa: E731
                                       text=True, timeout=60)
    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {m["value"] for m in orjson.loads(listed.stdout)["models"]} == {"gpt-4o", "acme-llm-7"}
    pinned = cli("pin", "gpt-4o-mini", "--to", "gpt-4o-mini-2024-07-18", "--reason", "[red]x[/red]")
    assert pinned.returncode == 0, pinned.stderr
    assert "pinned gpt-4o-mini to gpt-4o-mini-2024-07-18 until unpinned" in pinned.stdout
    refused = cli("pin", "gtp-4o", "--to", "x")
    assert refused.returncode == 1 and "has not been seen" in refused.stderr + refused.stdout
    unpinned = cli("unpin", "gpt-4o")
    assert unpinned.returncode == 0 and "unpinned gpt-4o" in unpinned.stdout, unpinned.stderr
    table = cli("list")
    assert table.returncode == 0 and "gpt-4o-mini-2024-07-18" in table.stdout and "[red]x" in table.stdout
    assert cli("unpin", "gpt-4o").returncode == 1  # not pinned any more: a 404, said so
    assert check(worker, "gpt-4o")["pinned"] is False and check(worker, "gpt-4o-mini")["pinned"] is True


def produce_keyed(broker, topic: str, key: bytes, value: bytes) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(send())


def test_the_library_runbook_pins_back_on_a_regressing_update_and_the_adopt_button_undoes_it(broker, start_worker):
    """A model_update finding → incident → provider-model-update runbook → pin_model → /v1/models/check;
    which resolves the incident (rolled back); then Slack's "Adopt new version" press unpins."""
    import hashlib
    import hmac
    import json
    from urllib.parse import urlencode

    from detectors.finding import Evidence, Finding, Target
    from streams.topics import FINDINGS

    worker = start_worker(TRACEWATCH_API_TOKEN="t", TRACEWATCH_SLACK_SIGNING_SECRET="s3cret")
    finding = Finding(
        time=time.time(), detector="model_update", kind="model_update", series="model=gpt-4o/provider=openai",
        severity="warning", score=0.7, summary="gpt-4o is answered by a new model: gpt-4o-2024-11-20",
        target=Target(model="gpt-4o", provider="openai"),
        labels={"cause": "announced", "served_model": "gpt-4o-2024-11-20"},
        evidence=Evidence(details={
            "cause": "announced", "served_before": ["gpt-4o-2024-08-06"],
            "served_after": {"gpt-4o-2024-11-20": 0.7, "gpt-4o-2024-08-06": 0.3},
            "signals": {"flagged": {"before": 0.012, "after": 0.048, "z": 7.4, "moved": True}}}))
    produce_keyed(broker, FINDINGS, finding.incident_key.encode(),
                  orjson.dumps({"type": "finding", "finding": finding.model_dump(mode="json")}))
    wait_for(lambda: check(worker, "gpt-4o")["pinned"], timeout=60, message="the runbook to pin gpt-4o")
    pin = check(worker, "gpt-4o")["pin"]
    assert (pin["use"], pin["instead_of"], pin["created_by"]) == (
        "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "runbook:provider-model-update")
    incident_id = pin["incident_id"]

    def pin_step():
        incident = httpx.get(f"{worker.url}/v1/incidents/{incident_id}").json()
        steps = [s for x in incident.get("executions", []) for s in x["steps"] if s["type"] == "pin_model"]
        return steps and steps[0]["status"] == "ok" and steps[0]

    step = wait_for(pin_step, timeout=30, message="the pin step in the incident's executions")
    assert step["target"] == "model:gpt-4o" and step["detail"]["use"] == "gpt-4o-2024-08-06"
    assert step["detail"]["resolved"] is True  # rolled back: the decision the incident waited for
    resolved = wait_for(lambda: (i := httpx.get(f"{worker.url}/v1/incidents/{incident_id}").json())["state"]
                        == "resolved" and i, timeout=30, message="the pin to resolve the incident")
    assert resolved["resolved_by"] == "runbook:provider-model-update"

    value = json.dumps({"action": "adopt_model", "incident_id": incident_id, "model": "gpt-4o"})
    payload = {"type": "block_actions", "user": {"id": "U1", "username": "ana"},
               "actions": [{"action_id": "tracewatch:adopt_model", "value": value}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(b"s3cret", f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    response = httpx.post(f"{worker.url}/slack/actions", content=body, headers={
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig,
        "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert response.json()["text"] == f"`gpt-4o` unpinned: the new version is adopted (slack:ana); {incident_id} was already resolved"
    assert check(worker, "gpt-4o")["pinned"] is False
