"""The demo's synthetic traffic through the demo's detectors — the shipped config with the opt-in user
budget on (``demo.runner.detector_config``) — offline (``tracewatch replay``'s engine):
the clean background finds nothing, and each scenario is found, by the kind its runbook acts on, soon
after it starts. This is what lets ``tracewatch demo`` promise five incidents in a short run."""

from __future__ import annotations

import pytest

from detectors.config import build_suite
from demo.runner import detector_config
from detectors.suite import replay
from demo.traffic import (ATTACKERS, END_MIN, LATENCY_MODEL, SCENARIOS, SERVED, SURGE_PROMPT, UPDATE_MODEL,
                          UPDATE_SERVED, WHALE, SyntheticApp, sim_start)
from traces.events import TraceEvent

START = 1_767_261_600.0  # 2026-01-01T10:00:00Z: the run does not cross midnight


@pytest.fixture(scope="module")
def findings() -> list:
    app = SyntheticApp(start=START, seed=7)
    surge = START + next(s for s in SCENARIOS if s.name == "hallucination_surge").start_s
    update = START + next(s for s in SCENARIOS if s.name == "provider_model_update").start_s
    events, t = [], START
    while t < START + END_MIN * 60:
        t += 15
        # what the demo does: promote v4 when the surge begins; the runbook's rollback (here: 8 min
        # later) moves production back to 3, which the application then serves
        app.production_version = "4" if surge <= t < surge + 480 else "3"
        if t >= update + 720:  # the runbook's pin (here: 12 min later), which the application asks for
            app.pins[UPDATE_MODEL] = SERVED[UPDATE_MODEL]
        events += [TraceEvent.model_validate(e) for e in app.events_until(t)]
    return list(replay(events, build_suite(detector_config())))


def first(findings: list, kinds: tuple[str, ...], where) -> float | None:
    times = [f.time for f in findings if f.kind in kinds and where(f.target)]
    return min(times) - START if times else None


def test_clean_background_finds_nothing(findings: list) -> None:
    before = [f for f in findings if f.time < START + SCENARIOS[0].start_s]
    assert before == []


@pytest.mark.parametrize("name, kinds, where", [
    ("cost_spike", ("budget",), lambda t: t.user_id == WHALE),
    ("latency_regression", ("latency",), lambda t: t.model == LATENCY_MODEL),
    ("hallucination_surge", ("quality",), lambda t: t.prompt_id == SURGE_PROMPT and t.prompt_version == "4"),
    ("injection_campaign", ("injection",), lambda t: t.user_id in ATTACKERS),
    ("provider_model_update", ("model_update",), lambda t: t.model == UPDATE_MODEL),
])
def test_each_scenario_is_found_within_ten_simulated_minutes(findings: list, name: str, kinds, where) -> None:
    scenario = next(s for s in SCENARIOS if s.name == name)
    found_at = first(findings, kinds, where)
    assert found_at is not None, f"{name}: no {kinds} finding"
    assert scenario.start_s <= found_at <= scenario.start_s + 600


def test_the_provider_update_is_announced_once_with_what_the_runbook_pins_back_on(findings: list) -> None:
    (f,) = [f for f in findings if f.kind == "model_update"]
    details = f.evidence.details
    assert f.target.model == UPDATE_MODEL and f.labels["served_model"] == UPDATE_SERVED
    assert details["cause"] == "announced" and details["served_before"] == [SERVED[UPDATE_MODEL]]
    flagged = details["signals"]["flagged"]  # provider_model_update.yaml's pin-back condition
    assert flagged["after"] > 1.5 * flagged["before"] + 0.01
    assert details["signals"]["output_tokens"]["after"] < 0.8 * details["signals"]["output_tokens"]["before"]
    worse = [row["prompt"] for row in details["prompts"] if row["verdict"] == "worse"]
    assert worse, details["prompts"]


def test_every_attacker_is_found(findings: list) -> None:
    users = {f.target.user_id for f in findings if f.kind == "injection"}
    assert set(ATTACKERS) <= users


def test_the_run_is_in_the_past_and_avoids_crossing_utc_midnight() -> None:
    noon = START - START % 86400 + 43200
    assert sim_start(noon, 5400) == noon - 5400
    early = START - START % 86400 + 1800  # 00:30: the run would cross midnight
    moved = sim_start(early, 5400)
    assert moved + 5400 <= early and (moved % 86400) + 5400 < 86400
