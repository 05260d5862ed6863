"""The API against hostile ids and bodies, on a real worker: every id that can be stored is addressable,
every refusal is a 4xx with a JSON reason."""

from __future__ import annotations

import os
import subprocess
import time
from urllib.parse import quote

import httpx
import orjson
import pytest

from runbooks.ports import Control
from streams.topics import CONTROLS
from tests.helpers.service import TRACEWATCH, wait_for
from tests.integration.test_ingest import produce

pytestmark = pytest.mark.integration

TOKEN = {"Authorization": "Bearer t"}
HOSTILE_IDS = ["{x}", "a}b{c", "../../etc/passwd", "a/b", "100%", "sp ace", "ünï{c}ødé", "?q=1#f", "[/x]"]


def seg(value: str) -> str:
    return quote(value, safe="")


@pytest.fixture
def worker(start_worker):
    return start_worker(TRACEWATCH_API_TOKEN="t")


def test_blocks_with_any_stored_subject_can_be_removed_by_the_api_and_the_cli(broker, worker):
    now = time.time()
    subjects = [f"user:{v}" for v in HOSTILE_IDS]
    produce(broker, CONTROLS, *(Control(subject=s, kind="user", value=s[5:], reason="test", created_at=now)
                                .model_dump_json().encode() for s in subjects))
    listed = lambda: {b["subject"] for b in httpx.get(f"{worker.url}/v1/blocks").json()["blocks"]}  # noqa: E731
    wait_for(lambda: listed() >= set(subjects), timeout=30, message="the blocks to be mirrored")

    for subject in subjects[:-1]:
        response = httpx.delete(f"{worker.url}/v1/blocks/{seg(subject)}", headers=TOKEN)
        assert response.status_code == 200, (subject, response.text)
        assert response.json() == {"removed": subject}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRACEWATCH_")},
           "TRACEWATCH_API_TOKEN": "t", "TRACEWATCH_API_URL": worker.url}
    cli = subprocess.run([TRACEWATCH, "blocks", "remove", subjects[-1]], env=env, capture_output=True,
                         text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert f"removed {subjects[-1]}" in cli.stdout  # printed as text, not read as rich markup
    assert listed() == set()


def test_prompt_ids_round_trip_and_control_characters_are_refused(worker):
    for prompt_id in HOSTILE_IDS:
        response = httpx.post(f"{worker.url}/v1/prompts/{seg(prompt_id)}/versions", headers=TOKEN,
                              json={"version": 4, "template": "hi"})
        assert response.status_code == 200, (prompt_id, response.text)
        fetched = wait_for(lambda: (r := httpx.get(f"{worker.url}/v1/prompts/{seg(prompt_id)}")).status_code == 200
                           and r.json(), timeout=10, message=f"prompt {prompt_id!r} to be readable")
        assert fetched["prompt_id"] == prompt_id and [v["version"] for v in fetched["versions"]] == ["4"]

    for prompt_id in ["a\r\nb", "tab\there", "nul\x00", "\x9b"]:
        response = httpx.post(f"{worker.url}/v1/prompts/{seg(prompt_id)}/versions", headers=TOKEN,
                              json={"version": "1"})
        assert response.status_code == 400, response.text
        assert "control characters" in response.json()["error"]
    assert all(p["prompt_id"] in HOSTILE_IDS for p in httpx.get(f"{worker.url}/v1/prompts").json()["prompts"])


@pytest.mark.parametrize("body, reason", [
    (b"[" * 100_000 + b"]" * 100_000, "the body is not valid JSON"),
    (b"{\"by\": ", "the body is not valid JSON"),
    (b"[1, 2]", "the body must be a JSON object"),
    (b"x" * (2 << 20), "the body is larger than"),
])
def test_bad_bodies_are_a_400_with_a_json_reason(worker, body, reason):
    for path in ("/v1/prompts/p/versions", "/v1/incidents/inc-1/ack", "/v1/blocks/user:u1"):
        method = "DELETE" if "blocks" in path else "POST"
        response = httpx.request(method, worker.url + path, headers={**TOKEN, "Content-Type": "application/json"},
                                 content=body, timeout=30)
        if path.startswith("/v1/incidents") and response.status_code == 404:
            continue  # no incident: refused before the body is read, with a JSON reason too
        assert response.status_code == 400, (path, response.status_code, response.text[:200])
        assert orjson.loads(response.content)["error"].startswith(reason)
    assert worker.proc.poll() is None
