"""Prometheus metrics, one registry per app so that tests can run several in one process."""

from __future__ import annotations

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics,
                               generate_latest)

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "tracewatch_events", "Trace events read, by outcome.", ["outcome"], registry=r)
        self.deadletter = Counter(
            "tracewatch_deadletter_reasons", "Dead-lettered records by reason family.", ["reason"],
            registry=r)
        self.cost_unknown = Counter(
            "tracewatch_cost_unknown", "Events whose cost could not be priced (unknown model).",
            registry=r)
        self.findings = Counter(
            "tracewatch_findings", "Findings emitted, by detector.", ["detector"], registry=r)
        self.incidents_open = Gauge(
            "tracewatch_incidents_open", "Incidents currently open or acknowledged.", registry=r)
        self.actions = Counter(
            "tracewatch_actions", "Runbook step attempts, by action and outcome.",
            ["action", "outcome"], registry=r)
        self.consumer_lag = Gauge(
            "tracewatch_consumer_lag", "Messages behind the end of each partition read by this worker.",
            ["topic", "partition"], registry=r)
        self.ingest_seconds = Histogram(
            "tracewatch_ingest_seconds", "Time to decode and judge one message.", registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0))
        for outcome in ("ok", "deadletter"):
            self.events.labels(outcome)

    def render(self) -> bytes:
        return generate_latest(self.registry)
