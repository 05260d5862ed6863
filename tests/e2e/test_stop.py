"""Stopping a worker: gracefully with a broker, within TRACEWATCH_STOP_TIMEOUT_S without one."""

from __future__ import annotations

import signal

import pytest

from streams.broker import EmbeddedBroker
from tests.e2e.test_scenarios import publish
from tests.helpers.service import WorkerProcess, metric_value, wait_for
from tests.helpers.traffic import four_scenarios

pytestmark = pytest.mark.e2e


def test_sigterm_stops_a_worker_cleanly(broker, start_worker):
    worker = start_worker()
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(60) == 0


def test_a_worker_whose_broker_is_gone_still_stops_after_the_stop_timeout(tmp_path):
    gone = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    worker = WorkerProcess(gone.url, tmp_path, env_extra={"TRACEWATCH_STOP_TIMEOUT_S": "3"})
    try:
        worker.start()
        messages = four_scenarios(minutes=2, seed=5, incidents=False)
        publish(gone.bootstrap, messages)
        wait_for(lambda: metric_value(worker.metrics(), "tracewatch_events_total", 'outcome="ok"') > 0,
                 timeout=60, message="some traffic ingested")
        gone.stop()
        worker.proc.send_signal(signal.SIGTERM)
        # Without the deadline Faust's graceful stop waits a minute or more for the broker.
        assert worker.proc.wait(50) == 1
        assert "did not stop within 3 s" in worker.tail(200)
    finally:
        worker.kill()
        gone.stop()
