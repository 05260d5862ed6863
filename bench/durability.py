"""Durability (``docs/durability.md``): what the journal of ``tracewatch up`` costs.

- throughput: the worker draining JSON arrays of 100, with and without the journal process beside the
  broker (alternated, twice each: the machine is shared and noisy);
- latency: publish → PagerDuty page at the latency bench's rate, with and without the journal;
- restart: ``tracewatch up`` on a state directory holding 100k series snapshots and 10k incidents (each
  with its changelog entry and runbook execution), from start to a healthy API, against an empty one;
- disk: journal bytes per event measured on the throughput run, projected to a day of the latency
  bench's traffic (retention is a day by default), plus the state of the restart run.

    .venv/bin/python -m bench --only durability
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import PageClock, Broker, journal_beside, json_messages, ratio, stop_process, workdir
from streams.broker import free_port
from streams.journal.store import JournalStore, Record
from streams.topics import TRACES, KeyPartitioner

TRACEWATCH = str(Path(sys.executable).with_name("tracewatch"))


def journal_size(store: Path) -> int:
    return sum(p.stat().st_size for p in store.parent.glob(store.name + "*"))


def _drain(n: int, journal: bool, pages: PageClock) -> dict[str, Any]:
    from bench.throughput import _worker

    messages = json_messages(n, 100)
    store = workdir("journal") / "journal.sqlite"
    with Broker() as broker:
        with (journal_beside(broker.bootstrap, store) if journal else _nothing()):
            broker.publish(TRACES, messages)
            published = time.monotonic()
            caught_up: list[float] = []
            if journal:  # how far behind the journal is after the burst, while the worker drains it too
                watcher = threading.Thread(target=_wait_stored, args=(store, len(messages), caught_up), daemon=True)
                watcher.start()
            result = _worker(broker.url, n, pages, 60 + n / 200)
            if journal:
                watcher.join(120)
    behind_s = caught_up[0] - published if caught_up else None
    out = {"events_per_s": result["drained_events_per_s"]}
    if journal:
        out["journal_bytes"] = journal_size(store)
        out["journal_bytes_per_event"] = round(out["journal_bytes"] / n)
        out["journal_behind_after_burst_s"] = round(behind_s, 2) if behind_s is not None else None
        out["burst_bytes"] = sum(map(len, messages))
    return out


def _wait_stored(store: Path, count: int, done: list[float], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _stored(store, TRACES) >= count:
            done.append(time.monotonic())
            return
        time.sleep(0.05)


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _stored(store: Path, topic: str) -> int:
    if not store.exists():
        return 0
    s = JournalStore(store)
    try:
        return s.counts().get(topic, 0)
    finally:
        s.close()


def throughput(quick: bool) -> dict[str, Any]:
    n = 20_000 if quick else 100_000
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    with PageClock(workdir("pd")) as pages:
        for journal in (False, True, False, True):
            print(f"durability: drain {n} events, journal {'on' if journal else 'off'} ...", file=sys.stderr, flush=True)
            runs["on" if journal else "off"].append(_drain(n, journal, pages))
    off = statistics.median(r["events_per_s"] for r in runs["off"])
    on = statistics.median(r["events_per_s"] for r in runs["on"])
    return {"events": n, "off_events_per_s": round(off), "on_events_per_s": round(on), "on_vs_off": ratio(on, off),
            "journal_bytes_per_event": runs["on"][-1]["journal_bytes_per_event"],
            "journal_behind_after_burst_s": max((r["journal_behind_after_burst_s"] or float("inf")) for r in runs["on"]),
            "runs": runs}


def latency(quick: bool) -> dict[str, Any]:
    from bench import latency as lat

    out: dict[str, Any] = {}
    for journal in (False, True):
        print(f"durability: publish → page, journal {'on' if journal else 'off'} ...", file=sys.stderr, flush=True)
        # 40 pages each: with 12, the p99 is the one slowest page and the on/off ratio mostly noise
        r = lat.main(quick, journal=journal, spikes=None if quick else 40)
        out["on" if journal else "off"] = {"p50_s": r["publish_to_page_s"]["p50"], "p99_s": r["publish_to_page_s"]["p99"],
                                           "pages": r["pages"], "spikes": r["spikes"]}
    out["p99_on_vs_off"] = ratio(out["on"]["p99_s"], out["off"]["p99_s"])
    return out


# ---- restart with a large state -----------------------------------------------------------------

def _incident_records(i: int) -> tuple[bytes, bytes, bytes, bytes]:
    """An incident as the incident agent writes it (topic record and table entry) and its execution."""
    from detectors.finding import Evidence, Finding, Target
    from incidents.incident import Incident, IncidentChange

    user = f"u-{i}"
    finding = Finding(time=1_780_000_000.0 + i, detector="budget_user_daily", kind="budget",
                      series=f"user_id={user}", severity="critical", score=0.99, summary=f"{user} over budget",
                      evidence=Evidence(observed=12.0, baseline=10.0, window_s=86400, example_trace_ids=["t-1"]),
                      target=Target(user_id=user))
    incident = Incident.open_from(finding, incident_id=f"inc-bench-{i:06d}")
    from incidents.incident import IncidentEvent
    from runbooks.execution import Attempt, Execution, StepState

    at = finding.time
    execution = Execution(
        execution_id=f"ex-bench-{i:06d}", runbook="cost-spike", incident_id=incident.id,
        incident_key=incident.key, event="opened", status="succeeded", created_at=at, updated_at=at + 1,
        steps=[StepState(index="0", type="page", status="ok", attempts=1, started_at=at, finished_at=at + 1,
                         detail={"dedup_key": incident.id, "event_action": "trigger"}),
               StepState(index="1", type="block", status="ok", attempts=1, target=f"user:{user}",
                         started_at=at + 1, finished_at=at + 1)],
        audit=[Attempt(step="0", type="page", attempt=1, outcome="ok", status_code=202, duration_ms=40.0, at=at),
               Attempt(step="1", type="block", attempt=1, target=f"user:{user}", outcome="ok", duration_ms=2.0,
                       at=at + 1)],
        trigger=IncidentEvent(event="opened", incident=incident, time=at)).model_dump_json().encode()
    return (incident.key.encode(), IncidentChange("opened", incident, finding.time).to_json(),
            orjson.dumps(incident.key), orjson.dumps(incident.model_dump_json())), execution


def build_state(store_path: Path, n_series: int, n_incidents: int, partitions: int = 4) -> int:
    """A journal holding ``n_series`` snapshots and ``n_incidents`` incidents; returns its records."""
    store = JournalStore(store_path)
    part = KeyPartitioner(partitions)
    for name in ("tracewatch.traces", "tracewatch.otlp", "tracewatch.deadletter", "tracewatch.series",
                 "tracewatch.findings", "tracewatch.incidents", "tracewatch.actions"):
        store.add_topic(name, partitions, False)
    for name in ("tracewatch-series-state-changelog", "tracewatch-incidents-changelog"):
        store.add_topic(name, partitions, True)
    for name in ("tracewatch.controls", "tracewatch.prompts"):
        store.add_topic(name, 1, True)
    now = int(time.time() * 1000)
    offsets: dict[tuple[str, int], int] = {}

    def put(batch: dict, topic: str, key: bytes, value: bytes, p: int | None = None) -> None:
        p = part(key) if p is None else p
        o = offsets.get((topic, p), 0)
        offsets[(topic, p)] = o + 1
        batch.setdefault((topic, p), []).append(Record(o, now, key, value))

    total = 0
    for start in range(0, n_series, 10_000):
        batch: dict = {}
        for i in range(start, min(n_series, start + 10_000)):
            key = f"latency_model|user_id=u-{i}".encode()
            put(batch, "tracewatch-series-state-changelog", key, b'{"k":"%s","pad":"%s"}' % (key, b"x" * 240))
        total += store.append(batch)
    batch = {}
    for i in range(n_incidents):
        (key, record, table_key, table_value), execution = _incident_records(i)
        put(batch, "tracewatch.incidents", key, record)
        put(batch, "tracewatch-incidents-changelog", table_key, table_value)
        put(batch, "tracewatch.actions", key, execution)
    total += store.append(batch)
    # The worker that wrote them had handled every incident: its group's positions say so (else the
    # restarted worker would run the runbooks of 10,000 incidents again, which no real restart does).
    store.save_group_offsets({"tracewatch": {tp: end for tp, end in offsets.items() if tp[0] == "tracewatch.incidents"}})
    store.close()
    return total


def _up_until_healthy(state_dir: Path, timeout: float = 300) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEWATCH_")}
    env.update({"TRACEWATCH_STATE_DIR": str(state_dir), "TRACEWATCH_WEB_PORT": str(port),
                "TRACEWATCH_DATA_DIR": str(state_dir.parent)})
    log = state_dir.parent / f"up-{port}.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([TRACEWATCH, "up", "--loglevel", "info"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"up exited with {proc.returncode}; see {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"up not healthy after {timeout}s; see {log}")
        healthy = time.monotonic() - started
        incidents = httpx.get(f"http://127.0.0.1:{port}/v1/incidents", params={"limit": 1}, timeout=30).json()
    finally:
        stop_process(proc, 60)
    restored = re.search(r"restored ([\d,]+) records of \d+ topics in ([\d.]+) s", log.read_text())
    return {"healthy_s": round(healthy, 1), "restore_s": float(restored[2]) if restored else None,
            "records_restored": int(restored[1].replace(",", "")) if restored else None,
            "incidents_listed": len(incidents.get("incidents", []))}


def restart(quick: bool) -> dict[str, Any]:
    n_series, n_incidents = (20_000, 2_000) if quick else (100_000, 10_000)
    empty = _up_until_healthy(workdir("state-empty") / "state")
    state_dir = workdir("state-full") / "state"
    state_dir.mkdir(parents=True)
    print(f"durability: restart with {n_series} series and {n_incidents} incidents ...", file=sys.stderr, flush=True)
    records = build_state(state_dir / "journal.sqlite", n_series, n_incidents)
    full = _up_until_healthy(state_dir)
    return {"series": n_series, "incidents": n_incidents, "records": records,
            "state_bytes": journal_size(state_dir / "journal.sqlite"),
            "empty": empty, "full": full, "added_s": round(full["healthy_s"] - empty["healthy_s"], 1)}


def main(quick: bool = False) -> dict[str, Any]:
    out = {"throughput": throughput(quick), "latency": latency(quick), "restart": restart(quick)}
    per_event = out["throughput"]["journal_bytes_per_event"]
    rate = 300  # the latency bench's default rate: the bench's steady traffic
    out["disk_after_a_day"] = {
        "events_per_s": rate, "journal_bytes_per_event": per_event,
        "traffic_bytes": per_event * rate * 86_400,  # retention: a day (TRACEWATCH_JOURNAL_RETENTION_S)
        "state_bytes_100k_series_10k_incidents": out["restart"]["state_bytes"],
    }
    return out
