"""Issue 16, item 4: the `models` control (pins beside blocks), the pin_model / unpin_model actions
through the real engine (idempotent, capped, audited, undoable), the Adopt button, and the library's
webhook example when switched on."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from detectors.finding import Evidence, Finding, Target
from runbooks.actions import ACTION_TYPES
from runbooks.actions.model import PinModel, UnpinModel
from runbooks.actions.slack import buttons
from runbooks.controls import InMemoryControls
from runbooks.engine import Engine
from runbooks.execution import InMemoryOutbox
from runbooks.ports import Ports
from incidents.incident import Incident, IncidentEvent
from runbooks.loader import load_file
from runbooks.prompts import PromptRegistry
from runbooks.schema import Runbook
from runbooks.slack_callbacks import MalformedPayload, parse_slack_action
from runbooks.testing import FakeClock, run_test

LIBRARY = Path(__file__).resolve().parents[3] / "runbooks" / "library"

DETAILS = {
    "cause": "announced", "served_before": ["gpt-4o-2024-05-13", "gpt-4o-2024-08-06"],
    "served_after": {"gpt-4o-2024-11-20": 0.7, "gpt-4o-2024-08-06": 0.3},
    "signals": {"flagged": {"before": 0.01, "after": 0.05, "z": 7.0, "moved": True}},
}


def update_event(incident_id: str = "inc-1", *, model: str | None = "gpt-4o", details: dict | None = None,
                 time: float = 1000.0, served: str | None = "gpt-4o-2024-11-20") -> IncidentEvent:
    finding = Finding(time=time, detector="model_update", kind="model_update",
                      series=f"model={model}/provider=openai", severity="warning", score=0.7,
                      summary=f"{model} is answered by a new model <!channel>",
                      evidence=Evidence(details=DETAILS if details is None else details),
                      target=Target(model=model, provider="openai"),
                      labels={"cause": "announced", **({"served_model": served} if served else {})})
    return IncidentEvent(event="opened", incident=Incident.open_from(finding, incident_id=incident_id), time=time)


def runbook(*steps: dict, cap: int | None = 10) -> Runbook:
    return Runbook.model_validate({"name": "pin", "trigger": {"kind": "model_update"}, "steps": list(steps),
                                   "max_destructive_per_hour": cap})


def engine(rb: Runbook, clock: FakeClock, audit: list | None = None,
           resolved: list | None = None) -> tuple[Engine, InMemoryControls, list]:
    published: list = []

    async def publish(control):
        published.append(control)

    async def resolve_incident(key, by):
        resolved.append((key, by))

    controls = InMemoryControls(clock, on_change=publish)
    ports = Ports(clock=clock, controls=controls, prompts=PromptRegistry(clock),
                  resolve_incident=resolve_incident if resolved is not None else None)
    actions = {"pin_model": PinModel(), "unpin_model": UnpinModel()}
    on_attempt = (lambda execution, attempt: audit.append(attempt)) if audit is not None else None
    return Engine([rb], actions, ports, InMemoryOutbox(), backoff_s=0.0, on_attempt=on_attempt), controls, published


# ---- the control --------------------------------------------------------------------------------

async def test_pins_live_beside_blocks_and_neither_sees_the_other():
    clock = FakeClock(0.0)
    controls = InMemoryControls(clock)
    await controls.block("user", "u1", reason="", incident_id=None, ttl_s=None, by="a")
    pin = await controls.pin_model("gpt-4o", use="gpt-4o-2024-08-06", reason="r", incident_id="inc-1",
                                   ttl_s=None, by="rb", instead_of="gpt-4o-2024-11-20")
    assert (pin.subject, pin.kind, pin.value, pin.use, pin.instead_of) == (
        "model:gpt-4o", "model", "gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20")
    assert [c.subject for c in controls.list()] == ["user:u1"]
    assert [c.subject for c in controls.pins()] == ["model:gpt-4o"]
    assert not controls.is_blocked("model:gpt-4o", 1.0)
    assert await controls.unblock("model:gpt-4o", by="x", reason="wrong route") is False
    assert controls.pinned("gpt-4o").use == "gpt-4o-2024-08-06"  # the blocks API cannot remove a pin
    assert controls.pinned("user:u1") is None and controls.pinned("u1") is None
    assert controls.known_models() == {"gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"}


async def test_pin_ttl_repin_and_unpin():
    clock = FakeClock(0.0)
    controls = InMemoryControls(clock)
    await controls.pin_model("m", use="m-1", reason="", incident_id=None, ttl_s=3600, by="a")
    again = await controls.pin_model("m", use="m-1", reason="", incident_id=None, ttl_s=60, by="b")
    assert again.expires_at == 3600  # pinning again to the same version never shortens the pin
    forever = await controls.pin_model("m", use="m-1", reason="", incident_id=None, ttl_s=None, by="c")
    assert forever.expires_at is None
    other = await controls.pin_model("m", use="m-0", reason="", incident_id=None, ttl_s=60, by="d")
    assert (other.use, other.expires_at) == ("m-0", 60)  # another version replaces it, with its TTL
    clock.t = 61
    assert controls.pinned("m") is None and controls.pins() == []
    assert await controls.unpin_model("m", by="e", reason="expired anyway") is False
    await controls.pin_model("m", use="m-0", reason="", incident_id=None, ttl_s=None, by="f")
    assert await controls.unpin_model("m", by="g", reason="adopted") is True
    assert controls.pinned("m") is None
    assert controls.get("model:m").created_by == "g" and controls.get("model:m").active is False


async def test_every_worker_rebuilds_pins_from_the_records_and_ignores_older_ones():
    clock = FakeClock(0.0)
    published: list = []

    async def publish(control):
        published.append(control)

    controls = InMemoryControls(clock, on_change=publish)
    await controls.pin_model("gpt-4o", use="v1", reason="", incident_id=None, ttl_s=None, by="a")
    clock.t = 10
    await controls.unpin_model("gpt-4o", by="b", reason="")
    clock.t = 20
    await controls.pin_model("gpt-4o", use="v2", reason="", incident_id=None, ttl_s=None, by="c")
    mirror = InMemoryControls(clock)
    for record in published:
        mirror.apply(type(record).model_validate_json(record.model_dump_json()))  # through the topic's JSON
    assert mirror.pinned("gpt-4o").use == "v2"
    mirror.apply(published[1])  # the unpin, read back late: older than the pin held
    assert mirror.pinned("gpt-4o").use == "v2"


# ---- the actions through the engine -------------------------------------------------------------

async def test_pin_model_defaults_pins_back_audits_and_is_idempotent():
    clock, audit = FakeClock(1000.0), []
    eng, controls, published = engine(runbook({"pin_model": {}}), clock, audit)
    event = update_event()
    [execution] = await eng.handle(event)
    assert execution.status == "succeeded"
    step = execution.step("0")
    pin = controls.pinned("gpt-4o")
    # of the versions served before, the one still answering a share of the calls
    assert (pin.use, pin.instead_of, pin.incident_id, pin.created_by) == (
        "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "inc-1", "runbook:pin")
    assert pin.expires_at is None  # until unpinned: an expiring pin brings the regression back
    assert (step.status, step.target, step.detail["use"]) == ("ok", "model:gpt-4o", "gpt-4o-2024-08-06")
    assert [(a.type, a.outcome, a.target) for a in audit] == [("pin_model", "ok", "model:gpt-4o")]
    [again] = await eng.handle(event)  # a redelivered event is the same execution: not run again
    assert again.execution_id == execution.execution_id and len(published) == 1 and len(audit) == 1


async def test_pin_model_parameters_and_unpin():
    clock = FakeClock(1000.0)
    rb = runbook({"pin_model": {"model": "{{ target.model }}", "to": "{{ labels.cause }}-snapshot", "ttl": "2h",
                                "reason": "by hand {{ incident.summary }}"}}, {"unpin_model": {}})
    eng, controls, published = engine(rb, clock)
    [execution] = await eng.handle(update_event())
    assert [s.status for s in execution.steps] == ["ok", "ok"]
    assert execution.step("1").detail == {"target": "model:gpt-4o", "model": "gpt-4o", "was_pinned": True,
                                          "resolved": False}  # no resolve port here (runbooks test)
    first = published[0]
    assert (first.use, first.expires_at) == ("announced-snapshot", 1000.0 + 7200)
    assert first.reason == "by hand gpt-4o is answered by a new model <!channel>"  # plain: stored as text
    assert controls.pinned("gpt-4o") is None and published[-1].active is False


async def test_a_pin_or_an_unpin_resolves_its_model_update_incident():
    """Rolled back (pinned) or adopted (unpinned): the decision the incident waited for."""
    clock, resolved = FakeClock(1000.0), []
    eng, controls, _ = engine(runbook({"pin_model": {}}), clock, resolved=resolved)
    event = update_event()
    [execution] = await eng.handle(event)
    assert resolved == [(event.incident.key, "runbook:pin")] and execution.step("0").detail["resolved"] is True
    eng, controls, _ = engine(runbook({"unpin_model": {}}), clock, resolved=resolved)
    [execution] = await eng.handle(update_event("inc-2", time=2000.0))
    assert len(resolved) == 2 and execution.step("0").detail["resolved"] is True


@pytest.mark.parametrize("step, incident", [
    ({"pin_model": {"model": "gpt-4o-mini", "to": "gpt-4o-mini-2024-07-18"}}, {}),  # another model
    ({"pin_model": {}}, {"kind": "quality"}),  # not a model_update incident
    ({"pin_model": {}}, {"state": "resolved"}),  # already decided
])
async def test_other_pins_resolve_nothing(step, incident):
    clock, resolved = FakeClock(1000.0), []
    rb = Runbook.model_validate({"name": "pin", "trigger": {"on": ["opened", "resolved"]}, "steps": [step]})
    eng, controls, _ = engine(rb, clock, resolved=resolved)
    event = update_event()
    event = event.model_copy(update={"incident": event.incident.model_copy(update=incident)})
    [execution] = await eng.handle(event)
    assert execution.step("0").status == "ok" and execution.step("0").detail["resolved"] is False
    assert resolved == []


async def test_a_pin_or_an_unpin_through_the_api_resolves_the_open_model_update_incidents_of_the_model():
    from types import SimpleNamespace

    from incidents.incident import IncidentChange
    from incidents.view import IncidentView
    from streams.web_state import resolve_model_incidents

    view, commands = IncidentView(), []
    open_one = update_event("inc-1").incident
    superseded = update_event("inc-2", model="gpt-4o-mini").incident
    later = update_event("inc-3", model="gpt-4o-mini").incident.model_copy(update={"state": "resolved"})
    quality = Incident.open_from(Finding(time=1.0, detector="quality_prompt", kind="quality", series="prompt_id=p",
                                         severity="warning", score=2.0, target=Target(model="gpt-4o")), "inc-4")
    for incident in (open_one, superseded, later, quality):
        view.apply_incident(None, IncidentChange("opened", incident, 1000.0).to_json())

    async def send_command(kind, key, **fields):
        commands.append((kind, key, fields["by"]))

    tw = SimpleNamespace(view=view, send_command=send_command)
    assert await resolve_model_incidents(tw, "gpt-4o", "api") == ["inc-1"]
    assert commands == [("resolve", open_one.key, "api")]
    assert await resolve_model_incidents(tw, "gpt-4o-mini", "cli") == []  # its incident is resolved already


@pytest.mark.parametrize("details, model, error", [
    ({"served_before": []}, "gpt-4o", "no served model of gpt-4o before the update is known"),
    ({"served_before": ["gpt-4o"]}, "gpt-4o", "no served model of gpt-4o before the update is known"),
    ({}, "gpt-4o", "set `to:`"),
    (DETAILS, None, "the incident has no target model"),
])
async def test_pin_model_without_a_version_or_a_model_fails_without_retrying(details, model, error):
    clock, audit = FakeClock(1000.0), []
    eng, controls, published = engine(runbook({"pin_model": {}, "retries": 3}), clock, audit)
    [execution] = await eng.handle(update_event(details=details, model=model))
    step = execution.step("0")
    assert step.status == "failed" and error in step.error
    assert step.attempts == 1 and audit[0].retryable is False
    assert published == [] and controls.pins() == []


async def test_pin_to_the_requested_name_itself_is_refused():
    eng, controls, _ = engine(runbook({"pin_model": {"to": "{{ target.model }}"}}), FakeClock(1000.0))
    [execution] = await eng.handle(update_event())
    assert "nothing to pin" in execution.step("0").error and controls.pins() == []


async def test_pin_model_counts_against_the_cap():
    clock = FakeClock(1000.0)
    eng, controls, _ = engine(runbook({"pin_model": {}}, {"unpin_model": {}}, cap=1), clock)
    assert ACTION_TYPES["pin_model"].destructive and not ACTION_TYPES["unpin_model"].destructive
    [first] = await eng.handle(update_event("inc-1"))
    [second] = await eng.handle(update_event("inc-2", model="gpt-4o-mini", time=1001.0))
    assert first.step("0").status == "ok"
    assert second.step("0").status == "suppressed" and "cap reached" in second.step("0").error
    assert second.step("1").status == "ok"  # the undo is not capped


async def test_model_names_with_any_character_are_kept_as_text():
    weird = "acme/{model} 100% <b>"
    eng, controls, published = engine(runbook({"pin_model": {"to": "{{ target.model }}-v1"}}), FakeClock(1000.0))
    await eng.handle(update_event(model=weird))
    assert controls.pinned(weird).use == weird + "-v1" and published[0].subject == "model:" + weird


# ---- Slack: the Adopt button -------------------------------------------------------------------

def test_model_update_incidents_get_the_adopt_button():
    incident = update_event().incident
    elements = buttons(incident, None, {})
    assert [e["action_id"] for e in elements] == ["tracewatch:ack", "tracewatch:adopt_model"]
    adopt = elements[1]
    assert adopt["text"]["text"] == "Adopt new version" and "confirm" in adopt
    assert json.loads(adopt["value"]) == {"action": "adopt_model", "incident_id": "inc-1", "model": "gpt-4o"}
    other = incident.model_copy(update={"kind": "quality"})
    assert [e["action_id"] for e in buttons(other, None, {})] == ["tracewatch:ack"]
    no_model = incident.model_copy(update={"target": Target()})
    assert [e["action_id"] for e in buttons(no_model, ["ack", "adopt_model"], {})] == ["tracewatch:ack"]


SECRET, NOW = "s3cret", 1_700_000_000


def signed(value: dict) -> tuple[dict, bytes]:
    payload = {"type": "block_actions", "user": {"id": "U1", "username": "ana"},
               "actions": [{"action_id": f"tracewatch:{value['action']}", "value": json.dumps(value)}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{NOW}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": sig}, body


def test_the_adopt_press_carries_the_model():
    action = parse_slack_action(*signed({"action": "adopt_model", "incident_id": "inc-1", "model": "gpt-4o"}),
                                SECRET, now=NOW)
    assert (action.action, action.model, action.incident_id) == ("adopt_model", "gpt-4o", "inc-1")
    for bad in ({"action": "adopt_model", "incident_id": "inc-1"},
                {"action": "adopt_model", "incident_id": "inc-1", "model": ""},
                {"action": "adopt_model", "incident_id": "inc-1", "model": ["gpt-4o"]}):
        with pytest.raises(MalformedPayload, match="adopt_model's model"):
            parse_slack_action(*signed(bad), SECRET, now=NOW)


# ---- the library's evaluation webhook, switched on ----------------------------------------------

async def test_the_evaluation_webhook_example_sends_old_and_new_model_when_switched_on(tmp_path):
    text = (LIBRARY / "provider_model_update.yaml").read_text()
    assert text.count('when: "false"') == 1
    (tmp_path / "rb.yaml").write_text(text.replace('when: "false"', 'when: "true"'))
    rb, problems = load_file(tmp_path / "rb.yaml")
    assert not problems, problems
    outcome = await run_test(rb, rb.tests[0])
    webhook = next(c for c in outcome.actions if c["type"] == "webhook")
    assert webhook["url"].startswith("https://api.github.com/repos/")
    assert webhook["secret_headers"] == {"Authorization": "github_eval"}
    # the recorded body is rendered "plain"; the action renders it with the json escape: render it so
    from runbooks.templating import render, template_data
    incident = update_event().incident
    step = next(s for s in rb.steps if s.type == "webhook")
    body = json.loads(render(step.params.body, template_data(incident), "json"))
    assert body == {"ref": "main", "inputs": {
        "requested_model": "gpt-4o", "old_model": "gpt-4o-2024-08-06", "new_model": "gpt-4o-2024-11-20",
        "cause": "announced", "incident": "inc-1"}}
    bare = update_event(details={}, served=None).incident  # nothing named: still valid JSON
    assert json.loads(render(step.params.body, template_data(bare), "json"))["inputs"]["old_model"] == "gpt-4o"


async def test_the_adopt_press_unpins_and_resolves_the_incident():
    from types import SimpleNamespace

    from runbooks.slack_callbacks import SlackAction
    from incidents.incident import IncidentChange
    from incidents.view import IncidentView
    from streams.web_state import act_on_slack

    clock, commands = FakeClock(1000.0), []
    view = IncidentView()
    incident = update_event(model="gpt-4o <!channel>").incident
    view.apply_incident(None, IncidentChange("opened", incident, 1000.0).to_json())

    async def send_command(kind, key, **fields):
        commands.append((kind, key, fields["by"]))

    tw = SimpleNamespace(controls_state=InMemoryControls(clock), view=view, send_command=send_command)
    await tw.controls_state.pin_model("gpt-4o <!channel>", use="v1", reason="", incident_id="inc-1",
                                      ttl_s=None, by="rb")
    press = SlackAction(action="adopt_model", incident_id="inc-1", user="U1", model="gpt-4o <!channel>")
    text = await act_on_slack(tw, press, "slack:ana")
    assert tw.controls_state.pinned("gpt-4o <!channel>") is None
    assert tw.controls_state.get("model:gpt-4o <!channel>").created_by == "slack:ana"
    assert commands == [("resolve", incident.key, "slack:ana")]
    assert text == "`gpt-4o &lt;!channel&gt;` unpinned: the new version is adopted and inc-1 resolved by slack:ana"
    gone = SlackAction(action="adopt_model", incident_id="inc-404", user="U1", model="gpt-4o <!channel>")
    assert await act_on_slack(tw, gone, "slack:ana") == (
        "`gpt-4o &lt;!channel&gt;` was not pinned; no incident inc-404 to resolve (slack:ana)")


def test_the_library_comparison_escapes_what_traces_wrote():
    from runbooks.templating import render, template_data

    rb, problems = load_file(LIBRARY / "provider_model_update.yaml")
    assert not problems, problems
    text = rb.steps[0].params.text
    hostile = {**DETAILS, "served_before": ["<!channel> `x`"], "served_after": {"<https://evil|click>": 1.0},
               "signals": {"flagged": {"before": 0.01, "after": 0.05, "z": 7.0, "moved": True},
                           "{{ 7*7 }}": {"before": "@here", "after": 1, "z": 0, "moved": False}},
               "prompts": [{"prompt": "<!here> {{ 6*6 }}", "before": {"calls": 900, "bad": 9, "bad_rate": 0.01,
                                                                     "score": None},
                            "after": {"calls": 300, "bad": 15, "bad_rate": 0.05, "score": "<@U2>"},
                            "p_value": "<!subteam^S1>", "z": 4.1, "verdict": "worse"}]}
    out = render(text, template_data(update_event(model="m<@U1>", details=hostile).incident), "slack")
    assert "<!channel>" not in out and "&lt;!channel&gt;" in out and "<https" not in out and "<@U1>" not in out
    assert "{{ 7*7 }}" in out and "49" not in out and "@here" not in out
    assert "• flagged: 1.0% → 5.0% *moved* (z 7.0)" in out
    # the per-prompt comparison: the prompt id and every value are trace data, shown as text
    assert "<!here>" not in out and "{{ 6*6 }}" in out and "36" not in out and "<@U2>" not in out
    assert "• `&lt;!here&gt; {{ 6*6 }}`: 1.0% (9/900) → 5.0% (15/300): *worse* (p &lt;!subteam^S1&gt;)" in out
