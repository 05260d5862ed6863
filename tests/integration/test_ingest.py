"""Ingest on the real embedded broker, through the real CLI and a real worker process."""

from __future__ import annotations

import subprocess

import orjson
import pytest

from traces.decode import decode_otlp
from streams.topics import DEADLETTER, OTLP, SERIES, TRACES
from tests.helpers.otlp_samples import otlp_json_bytes, otlp_proto_bytes
from tests.helpers.service import TRACEWATCH, metric_value, read_topic, wait_for

pytestmark = pytest.mark.integration

GOOD = {"trace_id": "t", "timestamp": 1_700_000_000, "model": "gpt-4o", "input_tokens": 120,
        "output_tokens": 40, "latency_ms": 850.0, "user_id": "u1", "app": "support"}

# Each malformed family: (name, the line's bytes). At least eight different ways to be wrong.
MALFORMED = [
    ("not json", b"this is not json"),
    ("truncated json", b'{"trace_id": "t", "timestamp": 17000'),
    ("invalid utf-8", b'{"trace_id": "\xff\xfe", "timestamp": 1, "model": "m"}'),
    ("missing model", orjson.dumps({"trace_id": "t", "timestamp": 1_700_000_000})),
    ("missing trace_id", orjson.dumps({"timestamp": 1_700_000_000, "model": "m"})),
    ("missing timestamp", orjson.dumps({"trace_id": "t", "model": "m"})),
    ("latency not a number", orjson.dumps({**GOOD, "latency_ms": "fast"})),
    ("negative tokens", orjson.dumps({**GOOD, "input_tokens": -5})),
    ("bad timestamp", orjson.dumps({**GOOD, "timestamp": "yesterday"})),
    ("unknown status", orjson.dumps({**GOOD, "status": "exploded"})),
    ("top level not an object", b"42"),
    ("NaN literal", b'{"trace_id": "t", "timestamp": 1, "model": "m", "latency_ms": NaN}'),
    ("oversized", orjson.dumps({**GOOD, "input": "x" * 70_000})),
]


def write_traffic(path, total=1000, bad=50):
    lines, expected_bad = [], 0
    bad_every = total // bad
    for i in range(total):
        if i % bad_every == bad_every - 1 and expected_bad < bad:
            lines.append(MALFORMED[expected_bad % len(MALFORMED)][1])
            expected_bad += 1
        else:
            lines.append(orjson.dumps({**GOOD, "trace_id": f"t{i}", "timestamp": 1_700_000_000 + i}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return total - expected_bad, expected_bad


def counted(worker, total: int, timeout: float) -> tuple[float, float]:
    """Wait until the worker has counted ``total`` events; then (ok, dead-lettered)."""
    def outcomes() -> tuple[float, float]:
        metrics = worker.metrics()
        return (metric_value(metrics, "tracewatch_events_total", 'outcome="ok"'),
                metric_value(metrics, "tracewatch_events_total", 'outcome="deadletter"'))

    wait_for(lambda: sum(outcomes()) >= total, timeout=timeout, message=f"all {total} events to be counted")
    return outcomes()


def test_publish_counts_ok_and_deadletters_each_bad_line_with_a_reason(broker, start_worker, tmp_path):
    worker = start_worker(TRACEWATCH_MAX_MESSAGE_BYTES="65536")
    traffic = tmp_path / "traffic.jsonl"
    ok, bad = write_traffic(traffic)
    assert (ok, bad) == (950, 50)

    result = subprocess.run([TRACEWATCH, "publish", str(traffic), "--broker", broker.url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "published 1000 message(s)" in result.stdout
    assert "traffic.jsonl:20: not valid JSON" in result.stderr  # named by line, and not stopped

    assert counted(worker, 1000, timeout=90) == (950, 50)

    dead = read_topic(broker.url, DEADLETTER)
    assert len(dead) == 50
    malformed = sorted(line for line in traffic.read_bytes().split(b"\n") if line in dict(MALFORMED).values())
    assert sorted(record.value for record in dead) == malformed  # the original bytes, untouched
    reasons = set()
    for record in dead:
        headers = dict(record.headers)
        assert headers["tracewatch.topic"] == b"tracewatch.traces"
        assert int(headers["tracewatch.offset"]) >= 0 and int(headers["tracewatch.partition"]) >= 0
        reason = headers["tracewatch.reason"].decode()
        assert reason.strip()
        reasons.add(reason.split(":")[0])
    assert len(reasons) >= 8, reasons


# Series by the ids, so that what ingest sends on shows how it read them (the shipped config may change).
NUMERIC_IDS_DETECTORS = """
bucket_s: 5
injection: {enabled: false}
detectors:
  - {name: spend_user, kind: budget, series: user_id, period: day, limit: 1000.0}
  - {name: cost_version, kind: cost, series: prompt_id@prompt_version, window_s: 60}
"""


def produce(broker, topic: str, *values: bytes) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=8 << 20)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(topic, value)
        finally:
            await producer.stop()

    asyncio.run(send())


def test_numeric_ids_are_read_as_text_not_dead_lettered(broker, start_worker, tmp_path):
    # Langfuse prompt versions are integers and database user ids numbers: apps send them as such.
    detectors = tmp_path / "detectors.yaml"
    detectors.write_text(NUMERIC_IDS_DETECTORS)
    worker = start_worker(TRACEWATCH_DETECTORS=str(detectors))
    numeric = {**GOOD, "prompt_id": "answer", "prompt_version": 4, "user_id": 12345, "cost_usd": 0.5}
    produce(broker, TRACES, orjson.dumps(numeric), orjson.dumps([{**numeric, "trace_id": "t2"}, GOOD]))

    assert counted(worker, 3, timeout=60) == (3, 0)
    assert read_topic(broker.url, DEADLETTER, timeout=5) == []

    def series_keys() -> set[str]:
        return {summary["k"] for record in read_topic(broker.url, SERIES, timeout=5)
                for summary in orjson.loads(record.value)}

    keys = wait_for(lambda: (k := series_keys()) >= {"spend_user|user_id=12345",
                                                     "cost_version|prompt_id=answer@4"} and k,
                    timeout=30, message="the series of the numeric ids to be sent on")
    assert "spend_user|user_id=u1" in keys  # (the all-text event beside them, as before)
    assert not any("4.0" in key or "12345.0" in key for key in keys)


def test_otlp_proto_and_json_batches_are_split_and_mapped(broker, start_worker):
    worker = start_worker()
    proto, as_json = otlp_proto_bytes(100, seed=3), otlp_json_bytes(100, seed=4)
    expected = decode_otlp(proto, "otlp_proto").events + decode_otlp(as_json, "otlp_json").events
    assert len(expected) == 200 and all(e.model and e.latency_ms for e in expected)

    import asyncio

    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=8 << 20)
        await producer.start()
        try:
            await producer.send_and_wait(OTLP, proto)
            await producer.send_and_wait(OTLP, as_json)
        finally:
            await producer.stop()

    asyncio.run(send())
    wait_for(lambda: metric_value(worker.metrics(), "tracewatch_events_total", 'outcome="ok"') >= 200,
             timeout=60, message="200 spans to be counted")
    metrics = worker.metrics()
    assert metric_value(metrics, "tracewatch_events_total", 'outcome="ok"') == 200
    assert metric_value(metrics, "tracewatch_events_total", 'outcome="deadletter"') == 0
    assert metric_value(metrics, "tracewatch_tokens_total", 'direction="input"') == sum(e.input_tokens for e in expected)
    assert metric_value(metrics, "tracewatch_tokens_total", 'direction="output"') == sum(e.output_tokens for e in expected)
    assert metric_value(metrics, "tracewatch_llm_latency_seconds_count") == 200
    assert metric_value(metrics, "tracewatch_llm_latency_seconds_sum") == pytest.approx(
        sum(e.latency_ms for e in expected) / 1000)


def test_oversized_messages_get_a_dead_letter_record_that_fits(broker, start_worker):
    # Kafka's default limit is about 1 MB a record: a dead-letter record with the whole original would be
    # refused, and the message lost. Each gets a record with its start, its size and its digest instead.
    import hashlib

    worker = start_worker()
    near_limit = b"{" + b"x" * 950_000  # under the decoder's 1 MiB limit, over what a record may carry
    oversized = [b"[" + b"0," * (n // 2) + b"0]" for n in (1_050_000, 1_100_000, 5_000_000)]
    produce(broker, TRACES, near_limit, *oversized, orjson.dumps(GOOD))

    assert counted(worker, 5, timeout=90) == (1, 4)
    dead = sorted(read_topic(broker.url, DEADLETTER), key=lambda r: int(dict(r.headers)["tracewatch.size"]))
    assert len(dead) == 4
    for record, original in zip(dead, [near_limit, *oversized]):
        headers = dict(record.headers)
        assert headers["tracewatch.truncated"] == b"true"
        assert int(headers["tracewatch.size"]) == len(original)
        assert headers["tracewatch.sha256"].decode() == hashlib.sha256(original).hexdigest()
        assert original.startswith(record.value) and 0 < len(record.value) <= 64 * 1024
    reasons = [dict(r.headers)["tracewatch.reason"].decode() for r in dead]
    assert reasons[0].startswith("not valid JSON")
    assert all(r.startswith("message is ") and "the limit is 1,048,576 bytes" in r for r in reasons[1:]), reasons
    assert worker.proc.poll() is None  # the same process throughout


BUDGET_DETECTORS = """
bucket_s: 5
injection: {enabled: false}
detectors:
  - {name: spend_user, kind: budget, series: user_id, period: day, limit: 20.0}
"""


def test_a_far_future_event_is_dead_lettered_and_does_not_blind_the_series(broker, start_worker, tmp_path):
    import time

    detectors = tmp_path / "detectors.yaml"
    detectors.write_text(BUDGET_DETECTORS)
    worker = start_worker(TRACEWATCH_DETECTORS=str(detectors))
    now = time.time()
    future = {**GOOD, "trace_id": "clock", "user_id": "u9", "timestamp": "2999-01-01T00:00:00Z", "cost_usd": 1.0}
    spend = [{**GOOD, "trace_id": f"s{i}", "user_id": "u9", "timestamp": now + i, "cost_usd": 3.0}
             for i in range(10)]  # $30 against a $20 daily budget, on time
    produce(broker, TRACES, orjson.dumps(future), *(orjson.dumps(e) for e in spend))

    assert counted(worker, 11, timeout=60) == (10, 1)
    [record] = read_topic(broker.url, DEADLETTER)
    assert record.value == orjson.dumps(future)
    reason = dict(record.headers)["tracewatch.reason"].decode()
    assert reason.startswith("'timestamp': 2999-01-01T00:00:00+00:00 is ") and "future_tolerance_s" in reason

    def budget_findings() -> list:
        return [f for r in read_topic(broker.url, "tracewatch.findings", timeout=5)
                if (f := orjson.loads(r.value).get("finding") or {}).get("detector") == "spend_user"]

    found = wait_for(budget_findings, timeout=60, message="the $30 overspend to be found")
    assert any("u9" in orjson.dumps(f).decode() for f in found)
