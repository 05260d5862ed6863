"""Shared fixtures: the real embedded broker on a free loopback port, and real worker processes."""

from __future__ import annotations

import pytest

from streams.broker import EmbeddedBroker
from tests.doubles.fixtures import (  # noqa: F401
    action_settings, pagerduty_double, slack_double, test_ca, worker_env)
from tests.helpers.service import WorkerProcess


@pytest.fixture
def broker(tmp_path):
    """A fresh embedded Kafka-protocol broker (Tansu, memory storage) for one test."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as embedded:
        yield embedded


@pytest.fixture
def start_worker(broker, tmp_path):
    """Start ``tracewatch worker`` processes against the test's broker; all are stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = WorkerProcess(broker.url, tmp_path, env_extra=env)
        started.append(worker)  # before start(): a worker that never gets healthy is stopped too
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
