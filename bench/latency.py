"""Detection latency: wall-clock time from a spike's first event being published to the incident opening
and to the page arriving at the PagerDuty stand-in.

A ``tracewatch worker`` subprocess runs with every detector (the shipped config with its opt-in limits
switched on) and the shipped runbooks; its PagerDuty is a
loopback HTTPS stand-in (trustme CA) that stamps each accepted event with its arrival time. A producer
in this process publishes background traffic at a fixed rate with current wall-clock timestamps; every
``gap_s`` seconds it injects a cost spike on a fresh user: ``SPIKE_EVENTS`` calls of ``SPIKE_COST`` USD
each, which crosses that user's daily budget (``budget_user_daily``: warning at 80 % of $20) and so opens a
``budget`` incident that the ``cost-spike`` runbook pages for. Spike events carry no feature or session,
so no other series is pushed over a limit.

- publish → incident: the broker timestamp of the first ``opened`` record for that user on
  ``tracewatch.incidents`` minus the time the spike's first event was handed to the producer;
- publish → page: the stand-in's arrival time of the page that names that user, minus the same.

The broker, the worker and the producer share the same 2 cores, so these are upper bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from typing import Any

import orjson

from bench.common import Broker, PageClock, Worker, fetch_wait_patch, journal_beside, metric, percentile, workdir
from detectors.config import SHIPPED, enable, load_config, opt_in, to_yaml
from streams.topics import INCIDENTS, TRACES

SPIKE_EVENTS = 5
SPIKE_COST = 4.0  # USD per call; 4 calls reach the 80 % warning of the $20 daily user budget
MODELS = ("gpt-4o", "claude-sonnet", "gpt-4o-mini")
FEATURES = ("chat", "summarize", "answer", "rerank")


def background(rng: random.Random, i: int, rate: int) -> dict[str, Any]:
    # Sessions scale with the rate: each makes ~3 calls a minute, far below the runaway limit (60), so
    # background traffic opens no incident of its own at any rate.
    return {"trace_id": f"bg-{i}", "timestamp": time.time(), "model": rng.choice(MODELS), "provider": "openai",
            "app": "support", "feature": rng.choice(FEATURES), "user_id": f"u{rng.randrange(400)}",
            "session_id": f"s{rng.randrange(max(2000, rate * 20))}", "input_tokens": rng.randrange(200, 1200),
            "output_tokens": rng.randrange(50, 300), "cost_usd": 0.0004, "latency_ms": rng.uniform(300, 1500)}


def spike(user: str, j: int) -> dict[str, Any]:
    return {"trace_id": f"{user}-{j}", "timestamp": time.time(), "model": "gpt-4o", "provider": "openai",
            "user_id": user, "input_tokens": 90_000, "output_tokens": 4_000, "cost_usd": SPIKE_COST,
            "latency_ms": 2500.0}


async def produce(bootstrap: str, rate: int, batch: int, seconds: float, spikes: int, gap_s: float,
                  tag: str) -> tuple[dict[str, float], int]:
    """Publish ``rate`` events/s in messages of ``batch`` events; returns spike user → first publish time."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks=1)
    await producer.start()
    rng = random.Random(5)
    first_published: dict[str, float] = {}
    queue: list[dict[str, Any]] = []
    i, sent = 0, 0
    interval = batch / rate
    started = time.perf_counter()
    next_spike = 3.0
    try:
        while (elapsed := time.perf_counter() - started) < seconds:
            if len(first_published) < spikes and elapsed >= next_spike:
                user = f"spike-{tag}-{len(first_published):03d}x"  # no id is a prefix of another
                queue.extend(spike(user, j) for j in range(SPIKE_EVENTS))
                first_published[user] = -1.0
                next_spike += gap_s
            events = [background(rng, i + k, rate) for k in range(batch)]
            i += batch
            if queue:  # spike calls replace background calls, so the rate stays fixed
                take = queue[:batch]
                del queue[:batch]
                events[:len(take)] = take
            now = time.time()
            for e in events:
                e["timestamp"] = now
                user = e.get("user_id", "")
                if user in first_published and first_published[user] < 0:
                    first_published[user] = now
            value = orjson.dumps(events if batch > 1 else events[0])
            await producer.send(TRACES, value, key=str(sent).encode())
            sent += len(events)
            # fixed rate: sleep until this message's slot (no catching up in bursts beyond one slot)
            delay = started + (sent / rate) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await producer.flush()
    finally:
        await producer.stop()
    return first_published, sent


async def incident_open_times(bootstrap: str, users: list[str]) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    opened: dict[str, float] = {}
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(INCIDENTS, p) for p in sorted(consumer.partitions_for_topic(INCIDENTS) or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any([await consumer.position(tp) < end[tp] for tp in tps]):
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    record = orjson.loads(m.value)
                    if record.get("change") != "opened":
                        continue
                    series = record.get("incident", {}).get("series", "")
                    for user in users:
                        if series == f"user_id={user}":
                            opened[user] = min(opened.get(user, float("inf")), m.timestamp / 1000.0)
    finally:
        await consumer.stop()
    return opened


def main(quick: bool = False, rate: int = 300, batch: int = 10, fetch_wait_ms: int | None = None,
         journal: bool = False, spikes: int | None = None) -> dict[str, Any]:
    """``fetch_wait_ms``: a what-if that caps every worker consumer's ``fetch_max_wait_ms`` (Faust: 1500).
    ``journal``: the journal of ``tracewatch up`` runs beside the broker (``bench.durability``).
    ``spikes``: how many pages to time (default 12; 5 with ``quick``)."""
    spikes, gap_s = (spikes or (5 if quick else 12)), 2.0
    seconds = 3.0 + spikes * gap_s + 4.0
    tag = f"{int(time.time()) % 100000}"
    with PageClock(workdir("pd")) as pages, Broker() as broker, contextlib.ExitStack() as beside:
        wd = workdir("latency")
        if journal:

            beside.enter_context(journal_beside(broker.bootstrap, wd / "journal.sqlite"))
        env = pages.env() | (fetch_wait_patch(fetch_wait_ms, wd) if fetch_wait_ms else {})
        # every detector: the shipped config with its opt-in limits on (the spikes are budget incidents)
        cfg = load_config(SHIPPED)
        (wd / "detectors.yaml").write_text(to_yaml(enable(cfg, *opt_in(cfg))))
        env["TRACEWATCH_DETECTORS"] = str(wd / "detectors.yaml")
        with Worker(broker.url, wd, env) as worker:
            worker.wait_healthy()
            # warm up: the worker has joined its group and reads before the clock matters
            asyncio.run(produce(broker.bootstrap, rate, batch, 2.0, 0, gap_s, tag + "w"))
            deadline = time.monotonic() + 60
            while worker.events_ok() <= 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            print(f"latency: {rate} events/s in messages of {batch}, {spikes} spikes ...", file=sys.stderr,
                  flush=True)
            first, sent = asyncio.run(produce(broker.bootstrap, rate, batch, seconds, spikes, gap_s, tag))
            users = [u for u, t in first.items() if t > 0]
            wanted = {}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                wanted = {}
                for t, body in list(pages.arrivals):  # the first page that names the user
                    text = orjson.dumps(body).decode()
                    for u in users:
                        if u in text and u not in wanted:
                            wanted[u] = t
                if len(wanted) >= len(users):
                    break
                time.sleep(0.2)
            text = worker.metrics()
            lag = metric(text, "tracewatch_consumer_lag") if "tracewatch_consumer_lag{" in text else None
            read = metric(text, "tracewatch_events_total", 'outcome="ok"')
        opened = asyncio.run(incident_open_times(broker.bootstrap, users))
    page_s = [wanted[u] - first[u] for u in users if u in wanted]
    incident_s = [opened[u] - first[u] for u in users if u in opened]
    return {
        "rate_events_per_s": rate, "events_per_message": batch, "fetch_wait_ms_patch": fetch_wait_ms, "events_sent": sent, "events_read": int(read),
        "spikes": len(users), "incidents_opened": len(incident_s), "pages": len(page_s),
        "consumer_lag_at_end": lag,
        "per_spike": [{"user": u, "incident_s": _r(opened[u] - first[u]) if u in opened else None,
                       "page_s": _r(wanted[u] - first[u]) if u in wanted else None} for u in users],
        "publish_to_incident_s": {"p50": _r(percentile(incident_s, 50)), "p99": _r(percentile(incident_s, 99)),
                                  "max": _r(max(incident_s, default=float("nan")))},
        "publish_to_page_s": {"p50": _r(percentile(page_s, 50)), "p99": _r(percentile(page_s, 99)),
                              "max": _r(max(page_s, default=float("nan")))},
    }


def _r(x: float) -> float | None:
    return None if x != x else round(x, 3)
