"""Issue 16: the model_update detector finds announced and silent provider model updates, once each, and
stays quiet on clean traffic, on noisy traffic (outliers, an outage burst, a latency regression alone) and
on a gradual drift."""

from __future__ import annotations

import math
import pickle
import random
from datetime import datetime, timezone
from typing import Callable

import orjson
import pytest

from detectors import DetectorSuite, ModelUpdate, replay
from detectors.config import SHIPPED, lint_text, load_config
from traces.events import TraceEvent

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0


def traffic(hours: float, *, rate: float = 1.0, seed: int = 1, served: Callable[[float, float], str] | None = None,
            out_x: Callable[[float], float] = lambda t: 1.0, bad_p: Callable[[float], float] = lambda t: 0.02,
            error_p: Callable[[float], float] = lambda t: 0.005,
            latency_x: Callable[[float], float] = lambda t: 1.0, prompts: tuple[str, ...] = (),
            bad_of: Callable[[float, str, str], float] | None = None) -> list[TraceEvent]:
    """One model's calls (Poisson, ``rate`` per second, with a daily swing), each signal a function of
    the hours since the start (``served`` also of a uniform draw). With ``prompts``, each call is of one
    of them at random, and ``bad_of(h, served, prompt)`` gives its chance of being flagged."""
    rng = random.Random(seed)
    out, t, i = [], T0, 0
    served = served or (lambda h, u: "gpt-4o-2024-08-06")
    while True:
        h = (t - T0) / HOUR
        t += rng.expovariate(rate * (1.0 + 0.4 * math.sin(2 * math.pi * h / 24)))
        if t >= T0 + hours * HOUR:
            return out
        h = (t - T0) / HOUR
        tokens = max(1, int(rng.lognormvariate(5.3, 0.7) * out_x(h)))
        latency = rng.lognormvariate(math.log(900.0), 0.35) * (tokens / 200) ** 0.3 * latency_x(h)
        if rng.random() < 0.004:
            latency *= 10  # rare slow outliers
        status = "error" if rng.random() < error_p(h) else "ok"
        answered = served(h, rng.random())
        prompt = rng.choice(prompts) if prompts else None
        p_bad = bad_of(h, answered, prompt) if bad_of is not None else bad_p(h)
        flags = ["hallucination"] if rng.random() < p_bad else []
        out.append(TraceEvent.model_construct(
            trace_id=f"t{i}", timestamp=datetime.fromtimestamp(t, tz=timezone.utc), model="gpt-4o",
            prompt_id=prompt,
            response_model=answered, provider="openai", output_tokens=tokens, input_tokens=500,
            latency_ms=round(latency, 1), status=status, flags=flags,
            scores={"groundedness": min(1.0, max(0.0, rng.gauss(0.85, 0.05)))}))
        i += 1


def findings(events: list[TraceEvent], **params) -> list:
    suite = DetectorSuite([ModelUpdate("model_update", "model/provider?", **params)], bucket_s=5, lateness_s=5)
    return list(replay(events, suite))


def test_an_announced_update_is_found_once_with_the_served_models_before_and_after():
    def served(h: float, u: float) -> str:  # rolled out over ten minutes from hour 4
        return "gpt-4o-2024-11-20" if h > 4 and u < (h - 4) * 6 else "gpt-4o-2024-08-06"
    (f,) = findings(traffic(7, served=served))
    assert f.kind == "model_update" and f.labels["cause"] == "announced"
    assert 4 * HOUR < f.time - T0 < 4.5 * HOUR
    assert f.labels["served_model"] == "gpt-4o-2024-11-20"
    assert f.evidence.details["served_before"] == ["gpt-4o-2024-08-06"]
    assert f.evidence.details["served_after"]["gpt-4o-2024-11-20"] >= 0.2
    assert (f.target.model, f.target.provider) == ("gpt-4o", "openai")
    assert "gpt-4o is answered by a new model: gpt-4o-2024-11-20" in f.summary


def test_a_silent_update_is_found_once_with_figures_per_signal():
    after = 4.0
    (f,) = findings(traffic(8, out_x=lambda h: 0.55 if h > after else 1.0,
                            bad_p=lambda h: 0.06 if h > after else 0.02))
    assert f.labels["cause"] == "silent" and f.evidence.details["cause"] == "silent"
    assert after * HOUR < f.time - T0 < (after + 0.5) * HOUR  # within half an hour
    signals = f.evidence.details["signals"]
    moved = {name for name, figure in signals.items() if figure["moved"]}
    assert {"output_tokens", "flagged"} <= moved  # (latency per token too: the answers are shorter)
    assert signals["output_tokens"]["after"] < 0.7 * signals["output_tokens"]["before"]
    assert signals["flagged"]["after"] > 2 * signals["flagged"]["before"]
    assert not signals["failed"]["moved"] and not signals["score"]["moved"]
    assert "behaves differently on 3 signals at once: output tokens 2" in f.summary


def rolled_out(h: float, u: float) -> str:  # a new snapshot rolled out over ten minutes from hour 4
    return "gpt-4o-2024-11-20" if h > 4 and u < (h - 4) * 6 else "gpt-4o-2024-08-06"


def test_an_announced_update_compares_old_and_new_per_prompt_with_its_confidence():
    """The new snapshot hallucinates four times as often on `support` and as often on `search`."""
    def bad_of(h: float, served: str, prompt: str) -> float:
        return 0.08 if served == "gpt-4o-2024-11-20" and prompt == "support" else 0.02
    (f,) = findings(traffic(7, served=rolled_out, prompts=("support", "search"), bad_of=bad_of))
    rows = {row["prompt"]: row for row in f.evidence.details["prompts"]}
    assert set(rows) == {"support", "search"}
    support, search = rows["support"], rows["search"]
    assert support["verdict"] == "worse" and support["p_value"] < 1e-3 and support["z"] > 3
    assert support["after"]["bad_rate"] > 2.5 * support["before"]["bad_rate"]
    assert support["after"]["calls"] >= 30 and support["before"]["calls"] > support["after"]["calls"]
    assert 0.8 < support["before"]["score"] < 0.9  # the mean eval score of the calls
    assert search["verdict"] == "same" and search["p_value"] > 0.01


def test_an_announced_canary_is_judged_on_its_own_calls_against_the_old_ones_in_the_same_minutes():
    """A new snapshot answers a fifth of the calls from hour 4 and flags a quarter of them; an hour-long
    surge of flags on `support` (both snapshots) just before raises the reference. All calls together
    barely move; the new snapshot's calls against the old ones' in the same span show it."""
    def canary(h: float, u: float) -> str:
        return "gpt-4o-2024-11-20" if h > 4 and u < 0.2 else "gpt-4o-2024-08-06"

    def bad_of(h: float, served: str, prompt: str) -> float:
        if served == "gpt-4o-2024-11-20":
            return 0.25
        return 0.2 if prompt == "support" and 2.5 < h < 3.8 else 0.02
    (f,) = findings(traffic(6, rate=3.0, served=canary, prompts=("support", "search"), bad_of=bad_of))
    details = f.evidence.details
    assert details["cause"] == "announced"
    compare = details["served_compare"]
    assert compare["verdict"] == "worse" and compare["z"] > 3
    assert compare["before"]["bad_rate"] < 0.04 < 0.2 < compare["after"]["bad_rate"]
    assert compare["after"]["calls"] < compare["before"]["calls"]  # a canary: fewer new calls than old


def test_an_announced_canary_of_an_app_without_prompt_ids_is_judged_on_its_own_calls_too():
    """Apps that send no prompt_id get the same comparison: their calls are one unnamed prompt, compared
    old against new in ``served_compare`` and not listed as a prompt row."""
    def canary(h: float, u: float) -> str:
        return "gpt-4o-2024-11-20" if h > 4 and u < 0.2 else "gpt-4o-2024-08-06"

    (f,) = findings(traffic(6, rate=3.0, served=canary,
                            bad_of=lambda h, served, prompt: 0.25 if served == "gpt-4o-2024-11-20" else 0.02))
    details = f.evidence.details
    assert details["cause"] == "announced" and details["prompts"] == []
    compare = details["served_compare"]
    assert compare["verdict"] == "worse" and compare["z"] > 3
    assert compare["before"]["bad_rate"] < 0.04 < 0.2 < compare["after"]["bad_rate"]
    assert compare["after"]["calls"] < compare["before"]["calls"]


def test_a_new_served_model_as_good_as_the_old_one_is_judged_the_same_without_prompt_ids():
    def canary(h: float, u: float) -> str:
        return "gpt-4o-2024-11-20" if h > 4 and u < 0.3 else "gpt-4o-2024-08-06"

    (f,) = findings(traffic(6, rate=3.0, served=canary))
    assert f.evidence.details["served_compare"]["verdict"] == "same"


def test_a_silent_update_compares_each_prompt_before_and_after():
    after = 4.0
    (f,) = findings(traffic(8, out_x=lambda h: 0.55 if h > after else 1.0, prompts=("support", "search"),
                            bad_of=lambda h, served, prompt: 0.08 if h > after else 0.02))
    rows = f.evidence.details["prompts"]
    assert "served_compare" not in f.evidence.details  # no new served model to compare
    assert {r["prompt"] for r in rows} == {"support", "search"}
    assert all(r["verdict"] == "worse" and r["after"]["bad_rate"] > r["before"]["bad_rate"] for r in rows)


def test_an_update_without_prompts_compares_none():
    (f,) = findings(traffic(7, served=rolled_out))
    assert f.evidence.details["prompts"] == []


def test_clean_traffic_is_quiet():
    assert findings(traffic(10, seed=3)) == []


def test_noisy_traffic_is_not_an_update():
    """Outliers, a six-minute outage (errors and slow calls at once), a 25-minute latency regression alone,
    a week-day's volume swing and a canary that never reaches a fifth of the calls."""
    def window(start: float, minutes: float, inside: float, outside: float = 1.0) -> Callable[[float], float]:
        return lambda h: inside if start <= h < start + minutes / 60 else outside

    outage = window(5.0, 6, 0.35, 0.005)
    events = traffic(
        10, seed=4, error_p=outage,
        latency_x=lambda h: window(5.0, 6, 4.0)(h) * window(8.0, 25, 3.0)(h),
        served=lambda h, u: "gpt-4o-canary" if 9 < h < 10 and u < 0.1 else "gpt-4o-2024-08-06")
    assert findings(events) == []


def test_a_gradual_drift_is_not_an_update():
    """Answers 40 % shorter and twice the flagged calls, but spread over two days."""
    events = traffic(48, rate=0.25, seed=5, out_x=lambda h: 1.0 - 0.4 * h / 48, bad_p=lambda h: 0.02 + 0.02 * h / 48)
    assert findings(events) == []


def test_a_rollback_to_an_established_model_is_not_news():
    def served(h: float, u: float) -> str:
        return "gpt-4o-2024-11-20" if 4 < h < 6 else "gpt-4o-2024-08-06"
    found = findings(traffic(9, served=served))
    assert [f.labels["served_model"] for f in found] == ["gpt-4o-2024-11-20"]


def test_state_stays_small_with_hostile_served_names():
    d = ModelUpdate("model_update", "model/provider?")
    suite = DetectorSuite([d], bucket_s=5)
    states: dict = {}
    events = traffic(3, served=lambda h, u: f"{'x' * 500}-{int(u * 97)}")
    list(replay(events, suite, states=states))
    (state,) = states.values()
    assert len(state.snapshot()) <= 2048
    assert len(state.detector._served) <= d.max_models
    assert pickle.loads(pickle.dumps(state.detector)) == state.detector
    assert suite.restore_series(state.snapshot()) == state
    assert orjson.loads(state.snapshot())["s"]["_ring"]


def test_state_stays_small_with_hostile_prompt_and_served_names():
    """Every call of another long served name and another long prompt: bounded per prompt and per bucket."""
    d = ModelUpdate("model_update", "model/provider?")
    suite = DetectorSuite([d], bucket_s=5)
    states: dict = {}
    prompts = tuple(f"{i:03d}-{'p' * 500}" for i in range(200))
    events = traffic(3, served=lambda h, u: f"{int(u * 997)}-{'x' * 500}", prompts=prompts)
    list(replay(events, suite, states=states))
    (state,) = states.values()
    assert len(state.snapshot()) <= 2048
    assert len(state.detector._pnames) <= 3 and all(len(name) <= 32 for name in state.detector._pnames)
    assert suite.restore_series(state.snapshot()) == state


def test_a_snapshot_from_before_the_prompt_comparison_loads():
    d = ModelUpdate("model_update", "model", warmup=4, recent_windows=2)
    old = {"_windows": 5, "_last_fire": -1e18, "_ref": [], "_settle": 0, "_served": {"m1": 0.0},
           "_ring": [[[10] + [0] * 11, {"m1": 10}], [[10] + [0] * 11, {"m1": 10}]]}
    d.load_state(old)
    assert d._pnames == [] and d._compare_prompts(False) == []
    from detectors.base import BucketSummary
    d.update(BucketSummary.make("model_update|model=m", 0.0, n=10, t_last=299.0, versions={"m1": [10, 0, 0.0]}))
    assert len(d._ring) == 2


def test_config_lint_and_shipped_defaults():
    errors = lint_text("detectors:\n  - name: mu\n    kind: model_update\n    share: 1.5\n    min_signals: 0\n",
                       "d.yaml")
    assert errors == ["d.yaml:4: detectors[0].share: must be a share of calls above 0 and at most 1, got 1.5",
                      "d.yaml:5: detectors[0].min_signals: must be greater than 0, got 0"]
    (spec,) = [d for d in load_config(SHIPPED).detectors if d["kind"] == "model_update"]
    assert spec.get("enabled", True) and spec["series"] == "model/provider?"


@pytest.mark.parametrize("kind", ["model_update"])
def test_runbooks_can_trigger_on_the_kind(kind):
    from runbooks.schema import KINDS

    assert kind in KINDS


def test_a_finding_opens_an_incident_of_its_kind():
    from incidents.book import IncidentBook, IncidentPolicy

    (f,) = findings(traffic(6, served=lambda h, u: "gpt-4o-2024-11-20" if h > 4 and u < (h - 4) * 6
                            else "gpt-4o-2024-08-06"))
    (opened,) = IncidentBook({}, IncidentPolicy(resolve_after_s=60)).on_finding(f)
    assert (opened.event, opened.incident.kind, opened.incident.detector) == ("opened", "model_update", "model_update")
