"""Memory: resident size of a process holding N tracked series, and the size of their snapshots.

Each size runs in a fresh subprocess (``python -m bench.memory N``). It builds the shipped detector
suite with its opt-in limits (budgets, runaway) switched on, notes its resident size (VmRSS), then
replays events for ``N / 7`` distinct values of every series dimension (user, session, model, feature),
which opens one ``SeriesState`` per (detector, series) — seven per value — each fed four one-minute windows of summaries
(so baselines have learned something and windows have closed). Events are generated lazily, so what
remains is the states. Bytes per series = (RSS after − RSS before) / series; this is an upper bound,
since CPython's allocator keeps some freed memory. Snapshot bytes are ``len(state.snapshot())``, what a
series costs in the ``series-state`` table and its changelog topic.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Iterator

from bench.common import RESULT_MARK, rss_bytes, run_json

T0 = 1_767_225_600.0
WINDOWS = 4
SERIES_PER_VALUE = 7  # budget user, runaway session, cost/latency/errors model, cost/budget feature


def events(values: int) -> Iterator[Any]:
    from traces.events import TraceEvent

    for w in range(WINDOWS):
        for i in range(values):
            t = T0 + w * 60 + (i % 600) * 0.1
            yield TraceEvent.model_construct(
                schema_version=1, trace_id=f"t{w}-{i}", timestamp=datetime.fromtimestamp(t, tz=timezone.utc),
                model=f"m{i}", provider="openai", app="a", feature=f"f{i}", user_id=f"u{i}", session_id=f"s{i}",
                prompt_id=None, prompt_version=None, input_tokens=500 + i % 300, output_tokens=100, cost_usd=0.002,
                latency_ms=800.0 + i % 400, status="ok", error_type=None, scores={}, flags=[], metadata={},
                span_id=None, environment="prod", ttft_ms=None, input=None, output=None)


def measure(n_series: int) -> dict[str, Any]:
    from detectors.config import build_suite, enable, load_config, opt_in
    from detectors.suite import replay

    cfg = load_config()
    suite = build_suite(enable(cfg, *opt_in(cfg)))  # with the opt-in limits: seven series per value
    suite.injection = None  # per-event scanning holds no per-series state; it only costs time here
    gc.collect()
    before = rss_bytes()
    states: dict[str, Any] = {}
    for _ in replay(events(max(1, n_series // SERIES_PER_VALUE)), suite, states=states):
        pass
    gc.collect()
    after = rss_bytes()
    sizes: dict[str, list[int]] = defaultdict(list)
    for st in states.values():
        sizes[st.detector.kind].append(len(st.snapshot()))
    all_sizes = [s for v in sizes.values() for s in v]
    return {"series": len(states), "rss_before_mb": round(before / 2**20, 1), "rss_after_mb": round(after / 2**20, 1),
            "rss_bytes_per_series": round((after - before) / len(states)),
            "snapshot_bytes_per_series": round(statistics.mean(all_sizes)),
            "snapshot_bytes_by_kind": {k: round(statistics.mean(v)) for k, v in sorted(sizes.items())}}


def main(quick: bool = False) -> dict[str, Any]:
    out = {}
    for n in ((10_000, 30_000) if quick else (10_000, 100_000)):
        print(f"memory: {n} series ...", file=sys.stderr, flush=True)
        out[str(n)] = run_json(["-m", "bench.memory", str(n)], timeout=600)
    return out


if __name__ == "__main__":
    print(RESULT_MARK + json.dumps(measure(int(sys.argv[1]))), flush=True)
