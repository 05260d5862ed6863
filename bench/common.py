"""What the benchmark sections share: the machine, the broker, payloads, publishing, the worker process.

Every consumer under test runs as its own subprocess so that none shares an interpreter (or a GIL)
with the load generator or with another consumer.

>>> batches = list(chunks(list(range(5)), 2))
>>> batches
[[0, 1], [2, 3], [4]]
>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import httpx
import orjson

from streams.broker import EmbeddedBroker, free_port
from streams.topics import bootstrap_of, ensure_topics

ROOT = Path(__file__).resolve().parent.parent
TRACEWATCH = str(Path(sys.executable).with_name("tracewatch"))
#: A routing key of the right shape (32 characters) for the PagerDuty stand-in; not a real one.
BENCH_ROUTING_KEY = "B3NCHroutingKEYnotREAL0123456789"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": os.getloadavg()}


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (like numpy's default)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc status")


# ---- payloads ------------------------------------------------------------------------------------

#: events per second of event time in the throughput payloads: a busy application stamping its calls
#: as they happen (the scenario generator's own timestamps spread n events over days, so nearly every
#: event would open new per-series buckets — the backfill case, ``live=False``)
LIVE_EVENT_RATE = 20_000.0


def trace_dicts(n: int, seed: int = 3, *, live: bool = True) -> list[dict[str, Any]]:
    """``n`` realistic trace events (several models, features, users, sessions) as wire dicts.

    ``live``: timestamps as an application publishing ``LIVE_EVENT_RATE`` events/s would stamp them,
    ending now; otherwise the generator's own timestamps (a backfill of days of traffic).
    """
    from bench.scenarios import generate

    events: list = []
    days = 0.02
    while len(events) < n:
        events = generate(seed=seed, days=days, rate=max(1.0, n / (days * 86400 * 0.5)), incidents=0).events
        days *= 2
    out = [e.to_json_dict() for e in events[:n]]
    if live:
        start = time.time() - n / LIVE_EVENT_RATE
        for i, d in enumerate(out):
            d["timestamp"] = round(start + i / LIVE_EVENT_RATE, 6)
    return out


def json_messages(n_events: int, batch: int, seed: int = 3, *, live: bool = True) -> list[bytes]:
    """One JSON object per message (``batch == 1``) or JSON arrays of ``batch`` events."""
    events = trace_dicts(n_events, seed, live=live)
    if batch == 1:
        return [orjson.dumps(e) for e in events]
    return [orjson.dumps(part) for part in chunks(events, batch)]


def otlp_messages(n_spans: int, batch: int) -> list[bytes]:
    """OTLP ``ExportTraceServiceRequest`` protobuf batches of ``batch`` GenAI spans."""
    from tests.helpers.otlp_samples import otlp_proto_bytes

    return [otlp_proto_bytes(min(batch, n_spans - i), seed=i) for i in range(0, n_spans, batch)]


# ---- broker --------------------------------------------------------------------------------------

@dataclass
class Broker:
    """An embedded broker with the tracewatch topics; ``publish`` pre-loads messages."""

    partitions: int = 4
    broker: EmbeddedBroker = field(default_factory=EmbeddedBroker)

    def __enter__(self) -> "Broker":
        self.broker.start()
        asyncio.run(ensure_topics(self.broker.url, self.partitions))
        return self

    def __exit__(self, *exc: object) -> None:
        self.broker.stop()

    @property
    def url(self) -> str:
        return self.broker.url

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def publish(self, topic: str, messages: list[bytes]) -> float:
        """Publish and wait for every ack; returns the seconds it took."""
        return asyncio.run(_publish(self.bootstrap, topic, messages))


async def _publish(bootstrap: str, topic: str, messages: list[bytes]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20,
                                max_request_size=8 << 20, acks=1)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for i, value in enumerate(messages):
            pending.append(await producer.send(topic, value, key=str(i).encode()))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


# ---- the PagerDuty stand-in with a throwaway CA ----------------------------------------------------

class PageClock:
    """A PagerDuty stand-in on loopback HTTPS that records when each accepted event arrived."""

    def __init__(self, workdir: Path) -> None:
        import trustme

        from demo.standins import PagerDutyStandin

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.bundle = workdir / "bench-ca.pem"
        ca.cert_pem.write_to_path(str(self.bundle))
        import ssl

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        outer = self

        class Timed(PagerDutyStandin):
            def handle(self, method: str, path: str, headers: dict[str, str], body: bytes):  # noqa: ANN201
                arrived = time.time()
                response = super().handle(method, path, headers, body)
                if response[0] == 202 and path == "/v2/enqueue":
                    try:
                        outer.arrivals.append((arrived, json.loads(body)))
                    except ValueError:
                        pass
                return response

        self.server = Timed(ctx, routing_key=BENCH_ROUTING_KEY)

    def __enter__(self) -> "PageClock":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def env(self) -> dict[str, str]:
        return {"TRACEWATCH_PAGERDUTY_ROUTING_KEY": BENCH_ROUTING_KEY,
                "TRACEWATCH_PAGERDUTY_EVENTS_URL": self.server.url,
                "TRACEWATCH_CA_BUNDLE": str(self.bundle)}


# ---- the tracewatch worker as a subprocess -------------------------------------------------------

class Worker:
    """``tracewatch worker`` against a broker; ``events_ok()`` reads its /metrics."""

    def __init__(self, broker_url: str, workdir: Path, env_extra: dict[str, str] | None = None,
                 prefix: list[str] | None = None) -> None:
        self.port = free_port()
        self.workdir = workdir
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEWATCH_")}
        env.update({"TRACEWATCH_BROKER": broker_url, "TRACEWATCH_WEB_PORT": str(self.port),
                    "TRACEWATCH_DATA_DIR": str(workdir), "PYTHONUNBUFFERED": "1"})
        env.update(env_extra or {})
        self.log_path = workdir / f"worker-{self.port}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*(prefix or []), TRACEWATCH, "worker"], env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=workdir)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5)

    def wait_healthy(self, timeout: float = 90.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"worker not healthy after {timeout}s; see {self.log_path}")

    def metrics(self) -> str:
        return self.client.get("/metrics").text

    def events_ok(self) -> float:
        return metric(self.metrics(), "tracewatch_events_total", 'outcome="ok"')

    def stop(self) -> None:
        try:
            self.client.close()
        finally:
            stop_process(self.proc)
            self._log.close()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_FETCH_WAIT_PATCH = """\
# Written by bench.common.fetch_wait_patch: a what-if, not tracewatch code. Faust's aiokafka driver
# hard-codes fetch_max_wait_ms=1500 for its consumer; this lowers it for every consumer of the process.
import aiokafka

_init = aiokafka.AIOKafkaConsumer.__init__


def _patched(self, *topics, **kw):
    if kw.get("fetch_max_wait_ms", 500) > {ms}:
        kw["fetch_max_wait_ms"] = {ms}
    _init(self, *topics, **kw)


aiokafka.AIOKafkaConsumer.__init__ = _patched
"""


def fetch_wait_patch(ms: int, directory: Path) -> dict[str, str]:
    """Env for a worker whose Kafka consumers wait at most ``ms`` per fetch (a ``sitecustomize`` what-if)."""
    (directory / "sitecustomize.py").write_text(_FETCH_WAIT_PATCH.format(ms=int(ms)))
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(directory), os.environ.get("PYTHONPATH", "")) if p)}


def metric(text: str, name: str, labels: str = "") -> float:
    wanted = f"{name}{{{labels}}}" if labels else name
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(wanted + " ") or (not labels and line.startswith(name + "{")):
            total += float(line.split()[-1])
            found = True
    if not found:
        raise KeyError(wanted)
    return total


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


#: the line a measuring subprocess prints its JSON result after (its other output may be anything)
RESULT_MARK = "BENCH_RESULT "


def _find_all(text: str, needle: str) -> list[int]:
    found, i = [], text.find(needle)
    while i >= 0:
        found.append(i)
        i = text.find(needle, i + 1)
    return found


def run_json(args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m ...`` in a subprocess that prints ``RESULT_MARK`` and one JSON object on stdout."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"{' '.join(args)} timed out after {timeout}s: {err.decode()[-2000:]}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    lines = [text[i + len(RESULT_MARK):].split("\n", 1)[0] for i in _find_all(text, RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return json.loads(lines[-1])


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"tracewatch-bench-{prefix}-"))


def ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 3)


def count_events(raw: bytes, fmt: str) -> int:
    """What the baseline consumers do per message: decode, and count the events in it."""
    if fmt == "otlp":
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        req = ExportTraceServiceRequest()
        req.ParseFromString(raw)
        return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    value = orjson.loads(raw)
    return len(value) if isinstance(value, list) else 1


def bootstrap(broker_url: str) -> str:
    return bootstrap_of(broker_url)


def first(items: Iterable[Any]) -> Any:
    return next(iter(items), None)


@contextmanager
def journal_beside(bootstrap: str, store: Path) -> Iterator[subprocess.Popen]:
    """The journal process as ``tracewatch up`` runs it, beside a bench broker."""
    proc = subprocess.Popen([sys.executable, "-m", "streams.journal", "--store", str(store),
                             "--bootstrap", bootstrap], stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        stop_process(proc, 60)
