"""Issue 10: on a real labelled series (NAB ``realTraffic/speed_7578``: road speeds, MIT), the generic
``anomaly`` detector at its shipped defaults decides the same in a live worker, over Kafka, as in
``tracewatch replay`` — the path ``bench.nab`` scores. What NAB measures is what a deployment gets."""

from __future__ import annotations

import orjson
import pytest

from bench import nab
from streams.records import read_findings_value
from streams.topics import FINDINGS
from tests.e2e.test_scenarios import all_counted, publish
from tests.helpers.service import read_topic, wait_for

pytestmark = pytest.mark.e2e

def decisions(findings) -> list[tuple]:
    return sorted((f.detector, f.series, f.time, f.severity, round(f.score, 6)) for f in findings)


def test_a_live_worker_finds_on_a_nab_series_what_replay_finds(broker, start_worker):
    try:
        (series,) = nab.load_corpus(names=["realTraffic/speed_7578.csv"])
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    config = nab.SHIPPED_CONFIG  # one anomaly detector on the row's value, every other setting its shipped default
    expected = nab.findings_for(series, config)
    # The worker closes a window when later events pass it; replay also flushes what is open at the end.
    last = max(series.timestamps)
    expected = [f for f in expected if f.time < last - 3600]
    assert len(expected) >= 3  # the series has findings to compare

    worker = start_worker(TRACEWATCH_DETECTORS=str(config))
    messages = [orjson.dumps(event) for event in nab.event_dicts(series)]
    publish(broker.bootstrap, messages)
    wait_for(lambda: all_counted(worker, len(messages)), timeout=180, message="all rows to be ingested")

    def found() -> list:
        seen = [read_findings_value(r.key, r.value) for r in read_topic(broker.url, FINDINGS, timeout=10)]
        got = [f for f in seen if getattr(f, "detector", None) == "nab_value" and f.time < last - 3600]
        assert decisions(got) == decisions(expected)
        return got

    wait_for(found, timeout=120, message="the worker's findings to be replay's")
