"""Real processes for integration tests: a tracewatch worker started as ``tracewatch worker``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

from streams.broker import free_port
from streams.mirror import assign_from_beginning
from streams.topics import bootstrap_of

TRACEWATCH = str(Path(sys.executable).with_name("tracewatch"))


@dataclass
class WorkerProcess:
    broker_url: str
    workdir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 60.0) -> "WorkerProcess":
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEWATCH_")}
        env.update({
            "TRACEWATCH_BROKER": self.broker_url,
            "TRACEWATCH_WEB_PORT": str(self.port),
            "TRACEWATCH_DATA_DIR": str(self.workdir),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.env_extra)
        self.log = open(self.workdir / f"worker-{self.port}.log", "ab")
        self.proc = subprocess.Popen([TRACEWATCH, "worker", "--loglevel", "info"], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=self.workdir)
        self.wait_healthy(wait)
        return self

    def wait_healthy(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; log:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker not healthy after {wait}s; log:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        self.log.flush()
        text = (self.workdir / f"worker-{self.port}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def metric_value(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus text, e.g. ``metric_value(t, "tracewatch_events_total", 'outcome="ok"')``."""
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    raise KeyError(wanted)


def consumer_lags(text: str, topics: tuple[str, ...] | None = None) -> dict[str, float]:
    """``tracewatch_consumer_lag`` in Prometheus text: each partition's sample (its labels) → the messages
    its agent has not finished; only those of ``topics`` if given."""
    lags = {}
    for line in text.splitlines():
        if line.startswith("tracewatch_consumer_lag{"):
            sample, value = line.rsplit(" ", 1)
            if topics is None or any(f'topic="{t}"' in sample for t in topics):
                lags[sample] = float(value)
    return lags


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last error on timeout
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}; last: {last!r}")


async def _read_topic(bootstrap: str, topic: str, idle: float) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = await assign_from_beginning(consumer, topic, timeout=idle)
        end = await consumer.end_offsets(tps)
        records = []
        deadline = time.monotonic() + idle
        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                records.extend(msgs)
        return records
    finally:
        await consumer.stop()


def read_topic(broker_url: str, topic: str, timeout: float = 20.0) -> list:
    """Every record currently in ``topic`` (all partitions), read with a plain aiokafka consumer."""
    return asyncio.run(_read_topic(bootstrap_of(broker_url), topic, timeout))
