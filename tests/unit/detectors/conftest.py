"""Synthetic window streams for every detector kind (seeded)."""

from __future__ import annotations

import math
import random

import pytest

from detectors import KINDS, BucketSummary
from detectors.latency import bin_of


def window_stream(kind: str, seed: int, count: int = 80, start: float = 1_767_225_600.0):
    """Closed windows for one series of ``kind``, with an incident in the last fifth."""
    rng = random.Random(seed)
    w = 60.0
    key = {"budget": "b|user_id=u1", "runaway": "r|session_id=s1", "injection": "i|user_id=u1",
           "quality": "q|prompt_id=p"}.get(kind, f"{kind}|model=m")
    out = []
    for i in range(count):
        t0 = start + i * w
        bad = i > count * 0.8
        n = rng.randint(30, 60)
        s = BucketSummary.make(key, t0, n=n, t_first=t0, t_last=t0 + w - 1,
                               examples=[[1.0, f"t{i}-{j}"] for j in range(3)])
        if kind in ("cost", "budget", "anomaly"):
            s.total = n * rng.uniform(0.9, 1.1) * (6 if bad else 1) * (0.01 if kind != "anomaly" else 1)
        elif kind == "runaway":
            s.total = n * 300.0 * (4 if bad else 1)
            s.n = n * (4 if bad else 1)
        elif kind == "latency":
            ms = 500 * (3 if bad else 1) * rng.uniform(0.9, 1.1)
            s.hist = {bin_of(ms * 0.7): n // 2, bin_of(ms): n - n // 2 - 2, bin_of(ms * 2): 2}
        elif kind == "errors":
            s.bad = rng.randint(0, 1) + (n // 2 if bad else 0)
            s.counts = {"error": s.bad} if s.bad else {}
        elif kind == "quality":
            version = "2" if i > count // 2 else "1"
            s.bad = sum(rng.random() < (0.12 if version == "2" else 0.02) for _ in range(n))
            s.versions = {version: [n, s.bad, t0]}
        elif kind == "model_update":  # a silent update: shorter answers, more flagged calls
            lo = math.log(200 * (0.55 if bad else 1.0) * rng.uniform(0.95, 1.05))
            lt = math.log(5.0 * rng.uniform(0.95, 1.05))
            s.counts = {"o": n, "o1": n * lo, "o2": n * (lo * lo + 0.36), "l": n, "l1": n * lt,
                        "l2": n * (lt * lt + 0.1), "g": rng.randint(0, 1) + (n // 8 if bad else 0)}
            s.versions = {"m-2024-08-06": [n, 0, t0]}
            s.target = {"model": "m"}
        elif kind == "injection":
            s.n = s.bad = 3 if bad else (1 if i % 7 == 0 else 0)
            if not s.n:
                continue
        out.append(s)
    return out


def make_detector(kind: str):
    cls = KINDS[kind]
    series = {"budget": "user_id", "runaway": "session_id", "injection": "user_id",
              "quality": "prompt_id"}.get(kind, "model")
    extra = {"budget": {"limit": 2.0}, "quality": {"min_volume": 300},
             "anomaly": {"field": "latency_ms"}, "model_update": {"window_s": 60.0}}.get(kind, {})
    if kind == "injection":
        extra = {"window_s": 60.0}
    warm = {} if kind in ("budget", "runaway", "injection", "quality") else {"warmup": 10}
    return cls(f"{kind}_test", series, **warm, **extra)


@pytest.fixture(params=sorted(KINDS))
def kind(request):
    return request.param
