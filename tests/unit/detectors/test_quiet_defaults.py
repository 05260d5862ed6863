"""Issue 10: the shipped detector config pages nothing on a healthy app, small or large.

A false page is as bad as a missed one. This replays hours of clean, seeded traffic — as
``tracewatch replay`` does: ``load_config()`` of the shipped file, ``build_suite``, ``replay`` — and
expects no finding at all:

- a small app (~1 event/s) over 6 hours of event time, and a large one (~200 events/s) over 2 hours;
- a daily cycle (quiet at 03:00, busiest at 15:00; the runs start at 06:00, so traffic ramps up ~2x);
- heavy-tailed users: call counts Zipf-distributed over the users (the top 1 % of the large app's users
  make half its calls), and a Pareto context-size factor per user (a few users send long documents on
  every call, up to 120k tokens); sessions of 30 minutes, plus long-lived
  integration sessions that call all day (the large app's faster than 60 calls a minute);
- four models from two providers, four features of two apps, three prompts (one rolls out a new version
  of equal quality halfway), lognormal tokens and latency, ~1 % errors and timeouts, hallucination
  flags at a steady 1-1.5 % and some negative feedback.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from detectors.config import SHIPPED, build_suite, load_config
from detectors.suite import replay
from streams.cli import app as cli
from traces.events import TraceEvent

T0 = 1_767_592_800.0  # 2026-01-05T06:00:00Z, a Monday morning
HOUR = 3600.0
# model: (provider, USD per input token, USD per output token, median latency ms)
MODELS = {
    "gpt-4o": ("openai", 2.5e-6, 10e-6, 1400.0),
    "gpt-4o-mini": ("openai", 0.15e-6, 0.6e-6, 700.0),
    "claude-sonnet": ("anthropic", 3e-6, 15e-6, 1800.0),
    "claude-haiku": ("anthropic", 0.8e-6, 4e-6, 600.0),
}
# (app, feature, prompt id or None, share of calls, models and their shares, hallucination rate)
FEATURES = [
    ("support", "chat", "support-chat", 0.45, {"gpt-4o": 0.6, "claude-sonnet": 0.4}, 0.015),
    ("support", "summarize", "support-summary", 0.20, {"gpt-4o-mini": 0.7, "claude-haiku": 0.3}, 0.01),
    ("search", "answer", "search-answer", 0.25, {"claude-sonnet": 0.5, "gpt-4o-mini": 0.5}, 0.012),
    ("search", "rerank", None, 0.10, {"gpt-4o-mini": 1.0}, 0.0),
]
QUESTIONS = [
    "How do I reset my password?", "Summarise this ticket for the on-call engineer.",
    "What is the refund policy for annual plans?", "Find the docs about SSO with Okta.",
    "Why was my card declined?", "Translate the release notes into German.",
    "Can you explain the difference between the Pro and Team plans?", "Draft a reply to this customer.",
    "Which regions is the service available in?", "What changed in the last release?",
]


def daily(t: float) -> float:
    """Traffic relative to the daily mean: 0.55 at 03:00 UTC, 1.45 at 15:00."""
    return 1.0 - 0.45 * math.cos(2 * math.pi * ((t % 86400) / HOUR - 3) / 24)


@dataclass(frozen=True)
class Shape:
    name: str
    rate: float  # events per second at the daily mean
    hours: float
    users: int
    integrations: tuple[float, ...]  # calls per second of each long-lived integration session
    seed: int


SMALL = Shape("small", 1.0, 6.0, 400, (0.05,), seed=11)
LARGE = Shape("large", 200.0, 2.0, 40_000, (1.5, 2.5), seed=12)


_DEFAULTS = {name: f.get_default(call_default_factory=True) for name, f in TraceEvent.model_fields.items()
             if not f.is_required()}
_SET = object.__setattr__


def event(fields: dict, fields_set: set) -> TraceEvent:
    """``TraceEvent.model_construct(**fields)`` in a fraction of the time (a million events are made here,
    all setting the same ``fields_set``); ``test_fast_events_are_trace_events`` checks it is the same."""
    e = object.__new__(TraceEvent)
    _SET(e, "__dict__", {**_DEFAULTS, **fields})
    _SET(e, "__pydantic_fields_set__", fields_set)
    _SET(e, "__pydantic_extra__", None)
    _SET(e, "__pydantic_private__", None)
    return e


def generate(shape: Shape) -> list[TraceEvent]:
    """Clean traffic of ``shape``, sorted by event time (seeded: the same list every time). The random
    draws are vectorised (numpy, river's dependency): a million events are made in seconds."""
    rng = np.random.default_rng(shape.seed)
    end = T0 + shape.hours * HOUR
    # arrivals: a Poisson process at the daily cycle's rate (a homogeneous one at the peak, thinned)
    peak = max(daily(T0 + k * 60) for k in range(int(shape.hours * 60) + 1))
    t = np.sort(rng.uniform(T0, end, rng.poisson(shape.rate * peak * (end - T0))))
    t = t[rng.random(t.size) < np.array([daily(x) for x in t[::60].tolist()]).repeat(60)[:t.size] / peak]
    # Zipf-Mandelbrot call counts: the top user makes ~4 % of the small app's calls, ~2 % of the large one's
    weights = 1.0 / (np.arange(shape.users) + 6.0)
    user = np.searchsorted(np.cumsum(weights) / weights.sum(), rng.random(t.size), side="right")
    user = np.minimum(user, shape.users - 1)
    feature = np.searchsorted(np.cumsum([f[3] for f in FEATURES]), rng.random(t.size), side="right")
    # long-lived integration sessions: one each, all day long, on the summarize feature
    extra = [T0 + rng.uniform(0, 60) + np.cumsum(rng.exponential(1 / every, int(every * (end - T0) * 1.2)))
             for every in shape.integrations]
    extra = [x[x < end] for x in extra]
    t = np.concatenate([t, *extra])
    user = np.concatenate([user, *[np.full(x.size, -1 - k) for k, x in enumerate(extra)]])
    feature = np.concatenate([feature, *[np.full(x.size, 1) for x in extra]])
    order = np.argsort(t, kind="stable")
    t, user, feature = t[order], user[order], feature[order]
    n = t.size
    context = np.minimum(rng.pareto(1.6, shape.users) + 1.0, 30.0)  # per-user long documents
    ctx = np.where(user >= 0, context[np.maximum(user, 0)], 1.0)
    inp = np.minimum((rng.lognormal(6.8, 0.8, n) * ctx).astype(int), 120_000)  # median ~900 tokens
    outp = np.minimum(rng.lognormal(5.5, 0.6, n).astype(int), 4000)  # median ~250 tokens
    names = list(MODELS)
    model = np.empty(n, dtype=int)
    u_model = rng.random(n)
    for fi, f in enumerate(FEATURES):
        mask = feature == fi
        cum = np.cumsum(list(f[4].values()))
        model[mask] = [names.index(m) for m in f[4]][0] if len(f[4]) == 1 else np.array(
            [names.index(m) for m in f[4]])[np.searchsorted(cum / cum[-1], u_model[mask], side="right")]
    median = np.array([MODELS[m][3] for m in names])[model]
    latency = median * rng.lognormal(0.0, 0.35, n) * (np.maximum(outp, 1) / 250) ** 0.4
    u = rng.random(n)
    bad_p = np.array([f[5] for f in FEATURES])[feature]
    error, timeout = u < 0.007, (u >= 0.007) & (u < 0.01)
    latency = np.where(error, latency * 0.2, np.where(timeout, 30_000.0, latency))
    outp = np.where(u < 0.01, 0, outp)
    price_in = np.array([MODELS[m][1] for m in names])[model]
    price_out = np.array([MODELS[m][2] for m in names])[model]
    cost = np.round(inp * price_in + outp * price_out, 6)
    question = rng.integers(0, len(QUESTIONS), n)
    rollout = T0 + shape.hours * HOUR / 2  # support-chat v7 -> v8, as good as v7
    utc = timezone.utc
    users = [f"u-{i}" for i in range(shape.users)]
    fields_set = {"trace_id", "timestamp", "model", "provider", "app", "environment", "feature", "prompt_id",
                  "prompt_version", "user_id", "session_id", "input_tokens", "output_tokens", "cost_usd",
                  "latency_ms", "status", "error_type", "input", "flags"}
    out = []
    fromtimestamp = datetime.fromtimestamp
    for i, (ti, ui, fi, mi, ii, oi, li, ci, qi, ri, bi) in enumerate(zip(
            t.tolist(), user.tolist(), feature.tolist(), model.tolist(), inp.tolist(), outp.tolist(),
            np.round(latency, 1).tolist(), cost.tolist(), question.tolist(), u.tolist(), bad_p.tolist())):
        app, feature_name, prompt = FEATURES[fi][:3]
        if ui >= 0:
            uid = users[ui]
            session = f"{uid}-s{int(ti // 1800)}"
        else:
            uid = f"svc-sync-{-1 - ui}"
            session = f"{uid}-session"
        status, error_type, flags = "ok", None, []
        if ri < 0.007:
            status, error_type = "error", ("rate_limit", "upstream_500")[ri < 0.0035]
        elif ri < 0.01:
            status, error_type = "timeout", "deadline"
        elif ri < 0.01 + bi:
            flags = ["hallucination"]
        elif ri < 0.015 + bi:
            flags = ["negative_feedback"]
        model_name = names[mi]
        out.append(event({
            "trace_id": f"{shape.name}-{i}", "timestamp": fromtimestamp(ti, tz=utc), "model": model_name,
            "provider": MODELS[model_name][0], "app": app, "environment": "prod", "feature": feature_name,
            "prompt_id": prompt,
            "prompt_version": None if prompt is None else ("8" if prompt == "support-chat" and ti >= rollout else "7"),
            "user_id": uid, "session_id": session, "input_tokens": ii, "output_tokens": oi, "cost_usd": ci,
            "latency_ms": li, "status": status, "error_type": error_type, "input": QUESTIONS[qi], "flags": flags},
            fields_set))
    return out


def shipped_findings(events: list[TraceEvent]) -> list:
    """What ``tracewatch replay`` does with the shipped config (``streams/cli/replay.py``)."""
    return list(replay(events, build_suite(load_config(SHIPPED))))


def describe(findings: list) -> str:
    counts = Counter(f.detector for f in findings)
    return f"{dict(counts)}\n" + "\n".join(
        f"{f.detector} {f.series} {datetime.fromtimestamp(f.time, timezone.utc):%H:%M:%S} {f.severity}: "
        f"{f.summary}" for f in findings[:12])


@pytest.fixture(scope="module")
def small() -> list[TraceEvent]:
    return generate(SMALL)


@pytest.fixture(scope="module")
def small_findings(small) -> list:
    return shipped_findings(small)


@pytest.fixture(scope="module")
def small_cli(small, tmp_path_factory):
    """``tracewatch replay`` of the small app's traces (as JSONL) with the shipped config."""
    path = tmp_path_factory.mktemp("quiet") / "traces.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e.model_dump(mode="json", exclude_defaults=True)) for e in small))
    return CliRunner().invoke(cli, ["replay", str(path)], env={"TRACEWATCH_DETECTORS": ""})


def test_fast_events_are_trace_events(small):
    for e in small[:50]:
        assert TraceEvent.model_validate(e.model_dump()) == e
        constructed = TraceEvent.model_construct(**e.model_dump(exclude_unset=True))
        assert e == constructed and e.model_fields_set == constructed.model_fields_set


def test_the_clean_traffic_is_what_it_claims(small):
    hours = (small[-1].epoch - small[0].epoch) / HOUR
    assert hours > 5.9 and 0.8 < len(small) / (hours * HOUR) < 1.4
    calls = Counter(e.user_id for e in small)
    spend: Counter = Counter()
    for e in small:
        spend[e.user_id] += e.cost_usd
    ranked = sorted(spend.values(), reverse=True)
    assert ranked[0] > 20 * ranked[len(ranked) // 2]  # heavy users
    assert calls.most_common(1)[0][1] > 0.03 * len(small)
    failed = sum(e.status != "ok" for e in small) / len(small)
    flagged = sum("hallucination" in e.flags for e in small) / len(small)
    assert 0.005 < failed < 0.015 and 0.005 < flagged < 0.02
    assert {e.prompt_version for e in small if e.prompt_id == "support-chat"} == {"7", "8"}
    assert max(e.input_tokens for e in small) == 120_000
    assert sum(e.session_id == "svc-sync-0-session" for e in small) > 0.04 * 6 * HOUR


def test_a_small_healthy_app_pages_nothing(small_findings):
    assert small_findings == [], describe(small_findings)


def test_a_large_healthy_app_pages_nothing():
    events = generate(LARGE)
    assert len(events) > 1_000_000 and len({e.session_id for e in events}) > 10_000
    per_s = len(events) / (LARGE.hours * HOUR)
    assert 150 < per_s < 250
    findings = shipped_findings(events)
    assert findings == [], describe(findings)


def test_tracewatch_replay_gives_the_in_process_findings(small, small_findings, small_cli):
    assert small_cli.exit_code == 0, small_cli.output
    assert f"events: {len(small)}" in small_cli.stderr and "bad lines: 0" in small_cli.stderr
    printed = [orjson.loads(line) for line in small_cli.stdout.splitlines()]
    assert [(f["detector"], f["series"], f["time"]) for f in printed] == [
        (f.detector, f.series, f.time) for f in small_findings]


def test_tracewatch_replay_on_the_small_app_finds_nothing(small_cli):
    assert "findings: 0" in small_cli.stderr, small_cli.stderr


def test_the_shipped_limits_are_opt_in_and_one_call_turns_them_on(tmp_path):
    from detectors.config import build_detectors, enable, lint_text, opt_in, to_yaml

    cfg = load_config(SHIPPED)
    limits = ["budget_user_daily", "budget_feature_hourly", "runaway_session"]
    assert opt_in(cfg) == limits
    built = {d.name for d in build_detectors(cfg)}
    assert not built & set(limits) and {"cost_spike_model", "latency_model", "quality_prompt"} <= built
    on = enable(cfg, "budget_user_daily")
    assert opt_in(on) == limits[1:] and opt_in(cfg) == limits  # a copy: the loaded config is unchanged
    path = tmp_path / "d.yaml"
    path.write_text(to_yaml(on))
    assert "budget_user_daily" in {d.name for d in build_detectors(load_config(path))}
    with pytest.raises(KeyError, match="budget_daily"):
        enable(cfg, "budget_daily")
    assert lint_text("detectors:\n  - {name: b, kind: budget, enabled: maybe}\n", "d.yaml") == [
        "d.yaml:2: detectors[0].enabled: expected true or false, got text"]
