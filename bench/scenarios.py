"""A labelled, seeded scenario set for the detectors: seasonal daily traffic with injected incidents.

Traffic follows a daily cycle (quiet nights, a morning ramp, a busy afternoon) over several models,
providers, features, prompts, users and sessions, with ordinary noise (lognormal tokens and latency,
rare slow outliers, a background error and hallucination rate). The first day is clean; after it,
incidents of every kind are injected at random times, each labelled with the kinds of finding that
count as catching it and the window in which it happens:

- ``cost``: one model's calls cost ~8x for 10 minutes (prompt bloat);
- ``latency``: one model's latency x3 for 25 minutes (a provider regression);
- ``errors``: one provider fails 35 % of calls for 6 minutes;
- ``quality``: a new prompt version has ~3.5x the bad-call rate until it is rolled back after 90 minutes
  (target: that version);
- ``runaway``: an agent session loops at ~3 requests per second for 5 minutes;
- ``budget``: one user burns through the daily budget in half an hour;
- ``score``: one feature's ``groundedness`` score drops by 0.25 for 20 minutes (``kind: anomaly``);
- ``update_announced``: the provider moves one model to a new snapshot, named in ``response_model``,
  rolled out to all its calls over 10 minutes, for good (``kind: model_update``);
- ``update_silent``: one model's behaviour changes for good with the same served name: answers ~45 %
  shorter and 3x the flagged calls (``kind: model_update``).

Every call names the model that answered (``response_model``, a dated snapshot of its model).

>>> s = generate(seed=1, days=0.05, rate=0.5, incidents=0)
>>> len(s.events) > 300, s.labels
(True, [])
>>> s2 = generate(seed=1, days=0.05, rate=0.5, incidents=0)
>>> [e.trace_id for e in s2.events[:3]] == [e.trace_id for e in s.events[:3]]
True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from traces.events import TraceEvent

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
MODELS = {"gpt-4o": ("openai", 5e-6, 900.0), "claude-sonnet": ("anthropic", 6e-6, 1100.0),
          "gpt-4o-mini": ("openai", 0.4e-6, 500.0)}
FEATURES = [("support", "chat"), ("support", "summarize"), ("search", "answer"), ("search", "rerank")]
PROMPTS = {"chat": "support-chat", "summarize": "support-summary", "answer": "search-answer"}
KINDS = ("cost", "latency", "errors", "quality", "runaway", "budget", "score", "update_announced",
         "update_silent")
#: the snapshot each model is served by until an announced update
SERVED = {"gpt-4o": "gpt-4o-2024-08-06", "claude-sonnet": "claude-sonnet-4-20250514",
          "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
#: an announced update reaches all of a model's calls over this many seconds
ROLLOUT_S = 600.0


@dataclass
class Label:
    kind: str  # what was injected
    start: float
    end: float
    series: str  # the series it affects (informational)
    expect: tuple[str, ...]  # finding kinds that count as catching it
    target: dict[str, str] = field(default_factory=dict)


@dataclass
class Scenario:
    events: list[TraceEvent]
    labels: list[Label]
    seed: int

    def in_label(self, t: float, grace: float = 0.0) -> bool:
        return any(lb.start <= t <= lb.end + grace for lb in self.labels)


def daily_factor(t: float) -> float:
    """Traffic relative to the daily peak: 0.15 at night, ramping up from 07:00 to a 15:00 peak."""
    h = (t % 86400) / 3600
    day = max(0.0, math.sin(math.pi * (h - 7) / 16)) if 7 <= h <= 23 else 0.0
    return 0.15 + 0.85 * day


def _event(rng: random.Random, t: float, i: int, users: int, overrides: dict[str, Any]) -> TraceEvent:
    model = overrides.get("model") or rng.choice(list(MODELS))
    provider, price, latency = MODELS[model]
    app, feature = overrides.get("feature") or rng.choice(FEATURES)
    for key, value, extra in overrides.get("when", ()):  # incidents that hit one model or provider
        if {"model": model, "provider": provider, "feature": feature}[key] == value:
            overrides = {**overrides, **extra}
    user = overrides.get("user_id") or f"u{int(users * rng.random() ** 1.5)}"
    session = overrides.get("session_id") or f"{user}-s{int(t // 1800)}"
    served = SERVED[model]
    if "served_new" in overrides:  # an announced update, rolling out
        new, since = overrides["served_new"]
        if rng.random() < (t - since) / ROLLOUT_S:
            served = new
    inp = int(rng.lognormvariate(6.5, 0.6))
    out = max(1, int(rng.lognormvariate(5.0, 0.7) * overrides.get("out_x", 1.0)))
    cost = (inp + out) * price * overrides.get("cost_x", 1.0)
    lat = rng.lognormvariate(math.log(latency), 0.35) * overrides.get("latency_x", 1.0)
    if rng.random() < 0.004:  # rare slow outliers that must never page on their own
        lat *= 10
    status = "ok"
    if rng.random() < overrides.get("error_p", 0.004):
        status = "timeout" if rng.random() < 0.3 else "error"
    prompt = PROMPTS.get(feature)
    version = overrides.get("versions", {}).get(prompt, "3") if prompt else None
    flags = []
    if prompt and rng.random() < overrides.get("bad_p", {}).get((prompt, version), 0.02) * overrides.get("bad_x", 1.0):
        flags.append("hallucination" if rng.random() < 0.6 else "negative_feedback")
    return TraceEvent.model_construct(
        schema_version=1, trace_id=f"tr-{i:08d}", timestamp=datetime.fromtimestamp(t, tz=timezone.utc),
        model=model, response_model=served, provider=provider, app=app, feature=feature, prompt_id=prompt, prompt_version=version,
        user_id=user, session_id=session, input_tokens=inp, output_tokens=out, cost_usd=round(cost, 8),
        latency_ms=round(lat, 1), status=status, error_type="upstream_500" if status == "error" else None,
        scores={"groundedness": round(min(1.0, max(0.0, rng.gauss(0.85 - overrides.get("score_drop", 0.0),
                                                                   0.06))), 3)}, flags=flags,
        metadata={}, span_id=None, environment="prod", ttft_ms=None, input=None, output=None)


def generate(seed: int = 7, days: float = 3.0, rate: float = 2.0, incidents: int = 2,
             users: int = 400, start: float = START) -> Scenario:
    """``rate`` is events per second at the daily peak; ``incidents`` of each kind after day one."""
    rng = random.Random(seed)
    end = start + days * 86400
    labels: list[Label] = []
    slots = []
    if incidents:
        # one incident every ~2 hours at least, after the first (clean, learning) day
        candidates = list(range(int(start + 86400 + 3600), int(end - 3600), 2 * 3600))
        rng.shuffle(candidates)
        slots = sorted(candidates[: incidents * len(KINDS)])
    plan = [KINDS[i % len(KINDS)] for i in range(len(slots))]
    rng.shuffle(plan)
    versions = {"support-chat": "3", "support-summary": "3", "search-answer": "3"}
    bad_p: dict[tuple[str, str], float] = {}
    newest: dict[str, int] = {}
    windows: list[tuple[float, float, dict[str, Any], str]] = []  # start, end, overrides, kind
    for slot, kind in zip(slots, plan):
        t0 = slot + rng.uniform(0, 1800)
        if kind == "cost":
            model = rng.choice(list(MODELS))
            windows.append((t0, t0 + 600, {"model": model, "cost_x": 8.0, "_share": 0.5}, kind))
            labels.append(Label(kind, t0, t0 + 600, f"model={model}", ("cost", "budget"), {"model": model}))
        elif kind == "latency":
            model = rng.choice(list(MODELS))
            windows.append((t0, t0 + 1500, {"model": model, "latency_x": 3.0, "_match": "model"}, kind))
            labels.append(Label(kind, t0, t0 + 1500, f"model={model}", ("latency",), {"model": model}))
        elif kind == "errors":
            provider = rng.choice(["openai", "anthropic"])
            windows.append((t0, t0 + 360, {"provider": provider, "error_p": 0.35, "_match": "provider"}, kind))
            labels.append(Label(kind, t0, t0 + 360, f"provider={provider}", ("errors",), {"provider": provider}))
        elif kind == "quality":
            prompt = rng.choice(list(versions))
            good = versions[prompt]  # the version in production before the bad one
            newest[prompt] = newest.get(prompt, int(good)) + 1
            new = str(newest[prompt])
            bad_p[(prompt, new)] = 0.07
            # the bad version serves until it is rolled back to the good one 90 minutes later
            windows.append((t0, t0 + 5400, {"_introduce": (prompt, new), "rollback": (prompt, good)}, kind))
            labels.append(Label(kind, t0, t0 + 5400, f"prompt_id={prompt}", ("quality",),
                                {"prompt_id": prompt, "prompt_version": new}))
        elif kind == "score":
            app, feature = rng.choice(FEATURES)
            windows.append((t0, t0 + 1200, {"feature": feature, "score_drop": 0.25, "_match": "feature"}, kind))
            labels.append(Label(kind, t0, t0 + 1200, f"app={app}/feature={feature}", ("anomaly",),
                                {"app": app, "feature": feature}))
        elif kind == "update_announced":  # for good: the window lasts to the end
            model = rng.choice(list(MODELS))
            new = f"{model}-{datetime.fromtimestamp(t0, tz=timezone.utc):%Y-%m-%d}-{int(t0) % 1000:03d}"
            windows.append((t0, end, {"model": model, "served_new": (new, t0), "_match": "model"}, kind))
            labels.append(Label(kind, t0, t0 + 1800, f"model={model}", ("model_update",),
                                {"model": model, "served_model": new}))
        elif kind == "update_silent":
            model = rng.choice(list(MODELS))
            windows.append((t0, end, {"model": model, "out_x": 0.55, "bad_x": 3.0, "_match": "model"}, kind))
            labels.append(Label(kind, t0, t0 + 1800, f"model={model}", ("model_update",), {"model": model}))
        elif kind == "runaway":
            session = f"loop-{int(t0)}"
            windows.append((t0, t0 + 300, {"session_id": session, "user_id": "agent-7", "_loop": 3.0}, kind))
            labels.append(Label(kind, t0, t0 + 300, f"session_id={session}", ("runaway", "cost"),
                                {"session_id": session}))
        elif kind == "budget":
            user = f"burner-{int(t0)}"
            windows.append((t0, t0 + 1800, {"user_id": user, "feature": ("support", "chat"), "model": "gpt-4o",
                                             "cost_x": 6.0, "_loop": 0.5}, kind))
            labels.append(Label(kind, t0, t0 + 1800, f"user_id={user}", ("budget", "runaway", "cost"),
                                {"user_id": user}))

    events: list[TraceEvent] = []
    current = {p: "3" for p in versions}
    base_versions = dict(current)
    t, i = start, 0
    active_versions = dict(base_versions)
    while t < end:
        t += rng.expovariate(rate * daily_factor(t))
        if t >= end:
            break
        ov: dict[str, Any] = {"versions": active_versions, "bad_p": bad_p}
        for w0, w1, o, kind in windows:
            if kind == "quality":
                prompt, new = o["_introduce"]
                if w0 <= t < w1:
                    active_versions[prompt] = new
                elif t >= w1:
                    active_versions[prompt] = o["rollback"][1]
                continue
            if not (w0 <= t < w1) or "_loop" in o:
                continue
            if "_share" in o and rng.random() < o["_share"]:
                ov.update({k: v for k, v in o.items() if not k.startswith("_")})
            elif "_match" in o:
                key = o["_match"]
                ov.setdefault("when", []).append(
                    (key, o[key], {k: v for k, v in o.items() if not k.startswith("_") and k != key}))
        e = _event(rng, t, i, users, ov)
        events.append(e)
        i += 1
    # loops (runaway sessions, budget burners) are their own streams of calls
    for w0, w1, o, kind in windows:
        if "_loop" not in o:
            continue
        lr = random.Random(int(w0))
        t = w0
        while t < w1:
            t += lr.expovariate(o["_loop"])
            if t < w1:
                events.append(_event(lr, t, i, users, {k: v for k, v in o.items() if not k.startswith("_")}))
                i += 1
    events.sort(key=lambda e: (e.timestamp, e.trace_id))
    return Scenario(events=events, labels=labels, seed=seed)


def write_jsonl(scenario: Scenario, path: str) -> None:
    """Write the events as JSONL (the input of ``tracewatch replay``)."""
    import orjson

    with open(path, "wb") as fh:
        for e in scenario.events:
            fh.write(orjson.dumps(e.to_json_dict()) + b"\n")
