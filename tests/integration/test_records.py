"""Internal topics carry typed records (streams/records.py): a value that does not read as its topic's
record is dead-lettered with the reason, and the agent goes on with the next one."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from detectors.finding import Finding
from streams.records import finding_value
from streams.topics import DEADLETTER, FINDINGS
from tests.helpers.service import read_topic, wait_for

pytestmark = pytest.mark.integration


def produce_keyed(broker, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for key, value in records:  # one partition: the agent sees them in this order
                await producer.send_and_wait(topic, value, key=key, partition=0)
        finally:
            await producer.stop()

    asyncio.run(send())


def test_an_unreadable_findings_record_is_dead_lettered_and_the_next_finding_opens_its_incident(broker, start_worker):
    worker = start_worker()
    finding = Finding(time=1_780_300_800.0, detector="cost_spike", kind="cost", series="model=m",
                      severity="critical", score=5.0, summary="5x the usual")
    key = finding.incident_key.encode()
    produce_keyed(broker, FINDINGS, [(key, b'{"type": "pause", "time": 1}'), (key, b"not json"),
                                     (None, finding_value(finding)), (key, finding_value(finding))])

    def reasons() -> list[str]:
        return [dict(r.headers)["tracewatch.reason"].decode() for r in read_topic(broker.url, DEADLETTER, timeout=5)
                if dict(r.headers).get("tracewatch.topic") == FINDINGS.encode()]

    found = wait_for(lambda: len(r := reasons()) == 3 and r, timeout=60, message="three dead-letter records")
    assert all(reason.startswith("not a tracewatch.findings record: ") for reason in found)
    for why in ("'pause'", "JSON", "no key"):  # (dead letters of different keys may be read in any order)
        assert sum(why in reason for reason in found) == 1, (why, found)

    def opened() -> list[dict]:
        return [i for i in httpx.get(f"{worker.url}/v1/incidents", timeout=5).json()["incidents"]
                if i["key"] == finding.incident_key]

    incident = wait_for(opened, timeout=60, message="the incident of the readable finding")[0]
    assert (incident["severity"], incident["state"]) == ("critical", "open")
