"""Throughput: the tracewatch worker against a raw-consumer ceiling and a bare-Faust floor, same run.

For each payload shape (one JSON event per message, JSON arrays of 100, OTLP protobuf batches of 100
spans) the messages are pre-published on a fresh embedded broker, then consumed, one after another,
each as its own subprocess, by:

(a) ``raw``: an aiokafka consumer (partitions assigned, no group) that decodes with orjson (protobuf for
    OTLP) and counts events — the ceiling;
(b) ``faust``: a bare Faust agent on the same topic doing only that decode — the framework floor;
(c) ``worker``: ``tracewatch worker`` with every detector and runbook on, measured by polling
    ``/metrics`` until ``tracewatch_events_total{outcome="ok"}`` reaches N and then until
    ``tracewatch_consumer_lag`` is 0 on every partition it reads (the series summaries judged too): the
    worker's rate is to that point ("ingest only": to the first).

Start-up is excluded the same way for all three: the clock starts at the first events seen and the
rate is (N − events seen then) / (time to N − that time).

Also here: the detector core alone, ``tracewatch replay`` on a generated JSONL file (start-up
subtracted by timing a 100-event file too).

Run one section alone: ``.venv/bin/python -m bench --only throughput`` (or ``replay``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (RESULT_MARK, Broker, PageClock, Worker, count_events, json_messages, otlp_messages, ratio,
                          run_json, workdir)
from streams.topics import OTLP, TRACES

#: shape name → (topic, message format, events per message)
SHAPES = {"json x1": (TRACES, "json", 1), "json x100": (TRACES, "json", 100), "otlp x100": (OTLP, "otlp", 100)}


def sizes(quick: bool) -> dict[str, int]:
    """Events per shape: enough for a few seconds of the slowest consumer, a few minutes in total."""
    if quick:
        return {"json x1": 4_000, "json x100": 20_000, "otlp x100": 20_000}
    return {"json x1": 20_000, "json x100": 100_000, "otlp x100": 100_000}


# ---- (a) the raw consumer, in its own process ------------------------------------------------------

async def _raw(bootstrap: str, topic: str, expect: int, fmt: str) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    from streams.mirror import assign_from_beginning

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20,
                                fetch_max_bytes=64 << 20)
    await consumer.start()
    try:
        await assign_from_beginning(consumer, topic, timeout=30)
        # No group to join: the clock starts once the partitions are assigned and sought.
        count, t_first, n_first = 0, time.perf_counter(), 0
        while count < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for msgs in batch.values():
                for m in msgs:
                    count += count_events(m.value, fmt)
        t_end = time.perf_counter()
    finally:
        await consumer.stop()
    return _rate(count, n_first, t_first, t_end)


def _rate(count: int, n_first: int, t_first: float | None, t_end: float) -> dict[str, Any]:
    seconds = t_end - (t_first or t_end)
    return {"events": count, "seconds": round(seconds, 3),
            "events_per_s": round((count - n_first) / seconds, 1) if seconds > 0 else None}


# ---- (b) a bare Faust agent, in its own process ------------------------------------------------------

def _faust(broker_url: str, topic_name: str, expect: int, fmt: str) -> None:
    import tempfile

    import faust

    app = faust.App(f"bench-floor-{uuid.uuid4().hex[:8]}", broker=broker_url, store="memory://",
                    datadir=tempfile.mkdtemp(prefix="bench-faust-"), autodiscover=False, web_enabled=False,
                    topic_partitions=4, topic_replication_factor=1, broker_commit_every=1000,
                    broker_commit_interval=0.5, stream_buffer_maxsize=8192, broker_session_timeout=6.0,
                    broker_heartbeat_interval=1.0, broker_rebalance_timeout=4.0, consumer_auto_offset_reset="earliest",
                    logging_config=None)
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    state = {"count": 0, "t_first": None, "n_first": 0}

    @app.agent(topic)
    async def floor(stream):  # noqa: ANN001 - Faust stream; same loop shape as tracewatch's ingest agent
        async for event in stream.events():
            state["count"] += count_events(event.value, fmt)
            if state["t_first"] is None:
                state["t_first"], state["n_first"] = time.perf_counter(), state["count"]
            if state["count"] >= expect:
                result = _rate(state["count"], state["n_first"], state["t_first"], time.perf_counter())
                print(RESULT_MARK + json.dumps(result), flush=True)
                os._exit(0)  # the measurement is done; skip Faust's orderly (slow) shutdown

    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = faust.Worker(app, loglevel=os.environ.get("BENCH_LOGLEVEL", "error"), quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


# ---- (c) the tracewatch worker --------------------------------------------------------------------

def _worker(broker_url: str, expect: int, pages: PageClock, timeout: float) -> dict[str, Any]:
    wd = workdir("worker")
    started = time.monotonic()
    with Worker(broker_url, wd, pages.env()) as worker:
        worker.wait_healthy()
        t_first, n_first, count = None, 0, 0.0
        while count < expect:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"worker read {count:.0f}/{expect} events in {timeout}s; see {worker.log_path}")
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.proc.returncode}; see {worker.log_path}")
            try:
                count = worker.events_ok()
            except Exception:  # noqa: BLE001 - the web server may be busy starting; keep polling
                count = 0.0
            now = time.perf_counter()
            if t_first is None and count > 0:
                t_first, n_first = now, int(count)
            time.sleep(0.05)
        t_end = time.perf_counter()
        text = worker.metrics()
        # Ingest has read every event; the stateful detectors may still be working through the series
        # summaries. Measured too: the rate until nothing is left behind on any topic the worker reads.
        while _lag(text) > 0 and time.monotonic() - started < timeout:
            time.sleep(0.05)
            text = worker.metrics()
        t_drained = time.perf_counter()
    result = _rate(int(count), n_first, t_first, t_end)
    drained = _rate(int(count), n_first, t_first, t_drained)
    result["drained_seconds"], result["drained_events_per_s"] = drained["seconds"], drained["events_per_s"]
    result["startup_s"] = round(time.monotonic() - started - drained["seconds"], 1)
    result["consumer_lag_exposed"] = "tracewatch_consumer_lag" in text
    return result


def _lag(metrics_text: str) -> float:
    """Messages behind on all partitions this worker reads (``tracewatch_consumer_lag``)."""
    return sum(float(line.split()[-1]) for line in metrics_text.splitlines()
               if line.startswith("tracewatch_consumer_lag{"))


def measure_shape(shape: str, n: int, pages: PageClock) -> dict[str, Any]:
    topic, fmt, per = SHAPES[shape]
    messages = otlp_messages(n, per) if fmt == "otlp" else json_messages(n, per)
    out: dict[str, Any] = {"events": n, "messages": len(messages),
                           "bytes_per_event": round(sum(map(len, messages)) / n)}
    with Broker() as broker:
        out["publish_s"] = round(broker.publish(topic, messages), 2)
        timeout = 60 + n / 200
        out["raw"] = run_json(["-m", "bench.throughput", "raw", broker.bootstrap, topic, str(n), fmt], timeout)
        out["faust"] = run_json(["-m", "bench.throughput", "faust", broker.url, topic, str(n), fmt], timeout)
        out["worker"] = _worker(broker.url, n, pages, timeout)
    # the worker's figure: until every detector has judged every event (no lag left on any topic)
    a, b, c = out["raw"]["events_per_s"], out["faust"]["events_per_s"], out["worker"]["drained_events_per_s"]
    out["worker_vs_raw"] = ratio(c, a)
    out["worker_vs_faust"] = ratio(c, b)
    out["faust_vs_raw"] = ratio(b, a)
    return out


def main(quick: bool = False) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with PageClock(workdir("pd")) as pages:
        for shape, n in sizes(quick).items():
            print(f"throughput: {shape}, {n} events ...", file=sys.stderr, flush=True)
            results[shape] = measure_shape(shape, n, pages)
    return results


def profile_worker(n: int = 20_000, shape: str = "json x1") -> str:
    """The whole ``tracewatch worker`` process under pyinstrument while it reads ``n`` pre-published events."""
    import signal

    topic, fmt, per = SHAPES[shape]
    messages = otlp_messages(n, per) if fmt == "otlp" else json_messages(n, per)
    wd = workdir("profile")
    out = wd / "worker.pyisession"
    pyinstrument = str(Path(sys.executable).with_name("pyinstrument"))
    with PageClock(wd) as pages, Broker() as broker:
        broker.publish(topic, messages)
        worker = Worker(broker.url, wd, pages.env(), prefix=[pyinstrument, "-r", "session", "-o", str(out)])
        try:
            worker.wait_healthy()
            deadline = time.monotonic() + 120 + n / 100
            while worker.events_ok() < n and time.monotonic() < deadline:
                time.sleep(0.2)
            worker.proc.send_signal(signal.SIGINT)  # Faust stops cleanly; pyinstrument then writes the report
            worker.proc.wait(60)
        finally:
            worker.stop()
    if not out.exists():
        return f"no profile written; see {worker.log_path}"
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session = Session.load(str(out))
    full = ConsoleRenderer(unicode=False, color=False, show_all=True).render(session)
    total = session.duration or 1.0
    kept = []  # every frame, library ones included, that took at least 1.5 % of the run
    for line in full.splitlines():
        parts = line.lstrip(" |`-").split(" ", 1)
        try:
            seconds = float(parts[0])
        except ValueError:
            continue
        if seconds >= 0.015 * total and "importlib" not in line:
            kept.append(line)
    return (f"the whole worker, {n} events ({shape}); frames >= 1.5 % of {total:.1f} s wall time:\n"
            + "\n".join(kept))


# ---- the detector core alone: tracewatch replay ------------------------------------------------------

def replay(quick: bool = False) -> dict[str, Any]:
    from bench.common import TRACEWATCH
    from bench.scenarios import generate, write_jsonl

    wd = workdir("replay")
    days = 0.5 if quick else 2.0
    scenario = generate(seed=11, days=days, rate=4.0, incidents=1)
    big, small = wd / "events.jsonl", wd / "small.jsonl"
    write_jsonl(scenario, str(big))
    small.write_bytes(b"".join(big.read_bytes().splitlines(keepends=True)[:100]))

    def timed(path) -> float:  # noqa: ANN001
        t = time.perf_counter()
        proc = subprocess.run([TRACEWATCH, "replay", str(path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"tracewatch replay failed: {proc.stderr.decode()[-1000:]}")
        return time.perf_counter() - t

    startup = min(timed(small) for _ in range(2))
    total = timed(big)
    n = len(scenario.events)
    return {"events": n, "seconds": round(total, 2), "startup_s": round(startup, 2),
            "events_per_s": round((n - 100) / max(total - startup, 1e-9), 1),
            "events_per_s_incl_startup": round(n / total, 1)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="throughput consumers (internal: run by python -m bench)")
    ap.add_argument("role", choices=["raw", "faust"])
    ap.add_argument("broker")
    ap.add_argument("topic")
    ap.add_argument("expect", type=int)
    ap.add_argument("fmt", choices=["json", "otlp"])
    a = ap.parse_args()
    if a.role == "raw":
        print(RESULT_MARK + json.dumps(asyncio.run(_raw(a.broker, a.topic, a.expect, a.fmt))), flush=True)
    else:
        _faust(a.broker, a.topic, a.expect, a.fmt)
