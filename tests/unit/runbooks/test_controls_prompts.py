"""Blocks with TTL, the prompt registry's history-based rollback, and the Langfuse backend double."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runbooks.actions.prompt import PromptBackendError, PromptError
from runbooks.controls import InMemoryControls
from runbooks.prompts import LangfuseBackend, PromptRecord, PromptRegistry
from runbooks.testing import FakeClock


async def test_block_expires_and_rebuilds_from_records():
    clock, published = FakeClock(0.0), []

    async def publish(control):
        published.append(control)

    controls = InMemoryControls(clock, on_change=publish)
    await controls.block("user", "u1", reason="r", incident_id="i", ttl_s=60, by="rb")
    await controls.block("session", "s1", reason="r", incident_id="i", ttl_s=None, by="rb")
    assert [c.subject for c in controls.list()] == ["session:s1", "user:u1"]
    clock.t = 61
    assert not controls.is_blocked("user:u1", clock.now()) and controls.is_blocked("session:s1", 61)
    assert await controls.unblock("session:s1", by="alice", reason="false positive") is True
    assert controls.list() == []
    rebuilt = InMemoryControls(clock)
    for control in published:
        rebuilt.apply(control)
    assert rebuilt.list() == [] and rebuilt.get("session:s1").created_by == "alice"


async def test_blocking_again_never_shortens():
    clock = FakeClock(0.0)
    controls = InMemoryControls(clock)
    await controls.block("user", "u1", reason="", incident_id=None, ttl_s=3600, by="a")
    again = await controls.block("user", "u1", reason="", incident_id=None, ttl_s=60, by="b")
    assert again.expires_at == 3600


async def registry_with(history, clock=None, **kw):
    reg = PromptRegistry(clock or FakeClock(0.0), **kw)
    for v in ("1", "2", "3", "4"):
        await reg.register("support", v)
    for v in history:
        await reg.set_label("support", v, by="ci")
    return reg


async def test_rollback_uses_history_not_version_minus_one():
    reg = await registry_with(["1", "4"])
    move = await reg.rollback("support", by="tracewatch", reason="hallucinations", incident_id="inc-1")
    assert (move.from_version, move.to_version, move.kind, move.by) == ("4", "1", "rollback", "tracewatch")
    with pytest.raises(PromptError, match="no previous version"):
        await reg.rollback("support", by="t", reason="again")


async def test_rollbacks_undo_promotes_in_order_and_promote_goes_to_latest():
    reg = await registry_with(["1", "2", "3"])
    assert (await reg.rollback("support", by="t", reason="")).to_version == "2"
    assert (await reg.rollback("support", by="t", reason="")).to_version == "1"
    promoted = await reg.promote("support", version=None, by="alice", reason="fixed")
    assert (promoted.from_version, promoted.to_version, promoted.kind) == ("1", "4", "promote")
    assert [m.to_version for m in reg.history("support")] == ["1", "2", "3", "2", "1", "4"]


async def test_rollback_with_the_same_idempotency_key_happens_once():
    reg = await registry_with(["1", "2", "3"])
    first = await reg.rollback("support", by="t", reason="", idempotency_key="ex-1:0")
    second = await reg.rollback("support", by="t", reason="", idempotency_key="ex-1:0")
    assert first == second and reg.label("support") == "2"


async def test_registry_rebuilds_from_published_records():
    published: list[PromptRecord] = []

    async def publish(record):
        published.append(record)

    reg = await registry_with(["1", "3"], on_change=publish)
    rebuilt = PromptRegistry(FakeClock(0.0))
    for record in published:
        rebuilt.apply(PromptRecord.model_validate_json(record.model_dump_json()))
    assert (await rebuilt.rollback("support", by="t", reason="")).to_version == "1"


class LangfuseDouble(BaseHTTPRequestHandler):
    calls: list = []
    status = 200

    def do_PATCH(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.path, self.headers["Authorization"], body))
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def langfuse():
    LangfuseDouble.calls, LangfuseDouble.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), LangfuseDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_langfuse_backend_moves_the_label_and_tracewatch_keeps_history(langfuse):
    backend = LangfuseBackend(langfuse, "pk-lf-1", "sk-lf-secret")
    reg = await registry_with([], backend=backend)
    await reg.set_label("support", "1", by="ci")
    await reg.set_label("support", "2", by="ci")
    move = await reg.rollback("support", by="tracewatch", reason="bad")
    auth = "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-secret").decode()
    assert LangfuseDouble.calls[-1] == (
        "/api/public/v2/prompts/support/versions/1", auth, {"newLabels": ["production"]})
    assert move.to_version == "1" and "sk-lf" not in repr(backend)


async def test_langfuse_errors_leave_the_label_alone(langfuse):
    reg = await registry_with(["1", "2"], backend=None)
    reg.backend = LangfuseBackend(langfuse, "pk", "sk")
    LangfuseDouble.status = 503
    with pytest.raises(PromptBackendError) as info:
        await reg.rollback("support", by="t", reason="")
    assert info.value.status_code == 503 and info.value.retryable
    assert reg.label("support") == "2"


async def test_a_late_record_of_an_earlier_change_does_not_undo_a_later_one(clock):
    published = []

    async def publish(record):
        published.append(record.model_copy(deep=True))

    prompts = PromptRegistry(clock, on_change=publish)
    await prompts.register("p", "3", by="api")
    await prompts.register("p", "4", by="api")
    prompts.apply(published[0])  # the mirror reads the first write back after the second was made
    assert [v.version for v in prompts.get("p").versions] == ["3", "4"]
    await prompts.promote("p", version="4", by="api", reason="")  # the caller's own write is visible
    assert prompts.label("p") == "4"

    changes = []

    async def publish_control(control):
        changes.append(control)

    controls = InMemoryControls(clock, on_change=publish_control)
    await controls.block("user", "u1", reason="r", incident_id=None, ttl_s=None, by="x")
    clock.t += 1
    await controls.unblock("user:u1", by="x", reason="r")
    clock.t += 1
    await controls.block("user", "u1", reason="again", incident_id=None, ttl_s=None, by="x")
    controls.apply(changes[1])  # the unblock, read back late
    assert controls.is_blocked("user:u1", clock.now())
