"""Prometheus metrics, one registry per app so that tests can run several in one process."""

from __future__ import annotations

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics,
                               generate_latest)

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()
PUBLISH_EVERY = 1000  # messages between two bulk updates when nobody scrapes


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "tracewatch_events", "Trace events read, by outcome.", ["outcome"], registry=r)
        self.deadletter = Counter(
            "tracewatch_deadletter_reasons", "Dead-lettered records by reason family.", ["reason"],
            registry=r)
        self.deadletter_failed = Counter(
            "tracewatch_deadletter_failed", "Bad records the dead-letter topic refused even as a 1 kB prefix.",
            registry=r)
        self.cost_unknown = Counter(
            "tracewatch_cost_unknown", "Events whose cost could not be priced (unknown model).",
            registry=r)
        self.tokens = Counter(
            "tracewatch_tokens", "Tokens reported by ok events.", ["direction"], registry=r)
        self.cost_usd = Counter(
            "tracewatch_cost_usd", "Spend of ok events in USD (reported or priced).", registry=r)
        self.llm_latency = Histogram(
            "tracewatch_llm_latency_seconds", "Model-call latency reported by ok events.", registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64))
        self.series_dropped = Counter(
            "tracewatch_series_summaries_dropped", "Bucket summaries that could not be sent on.", registry=r)
        # Crash recovery (docs/exactly-once.md): what was recognised as already counted and not counted again.
        self.series_refolds_skipped = Counter(
            "tracewatch_series_summaries_skipped",
            "Bucket summaries read again after a crash that their series' snapshot already counted.", registry=r)
        self.series_snapshots_dropped = Counter(
            "tracewatch_series_snapshots_dropped",
            "Series snapshots this version could not read (logged with the reason); those series relearn.",
            registry=r)
        self.events_refolds_skipped = Counter(
            "tracewatch_events_recounted_skipped",
            "Events read again after a crash whose summaries had already been sent on (every series).",
            registry=r)
        self.findings = Counter(
            "tracewatch_findings", "Findings emitted, by detector.", ["detector"], registry=r)
        self.incidents_open = Gauge(
            "tracewatch_incidents_open", "Incidents currently open or acknowledged.", registry=r)
        self.actions = Counter(
            "tracewatch_actions", "Runbook step attempts, by action and outcome.",
            ["action", "outcome"], registry=r)
        self.actions_pending = Gauge(
            "tracewatch_actions_pending", "Notifications (pages, Slack posts, webhooks) not delivered yet.",
            registry=r)
        self.actions_oldest_pending = Gauge(
            "tracewatch_actions_oldest_pending_seconds",
            "Age of the oldest notification not delivered yet (0 when none is pending).", registry=r)
        self.deliveries_failed = Counter(
            "tracewatch_deliveries_failed", "Notifications given up on (a permanent error, or the deadline).",
            ["action"], registry=r)
        self.consumer_lag = Gauge(
            "tracewatch_consumer_lag",
            "Messages of each partition read by this worker that its agent has not finished yet.",
            ["topic", "partition"], registry=r)
        self.ingest_seconds = Histogram(
            "tracewatch_ingest_seconds", "Time to decode and judge one message.", registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0))
        for outcome in ("ok", "deadletter"):
            self.events.labels(outcome)
        for direction in ("input", "output"):
            self.tokens.labels(direction)

        self._ok = self.events.labels("ok")
        self._input_tokens, self._output_tokens = self.tokens.labels("input"), self.tokens.labels("output")
        # Per-message figures are summed here and handed to prometheus-client (a lock per call) in bulk,
        # on each scrape or every PUBLISH_EVERY messages.
        self._n_ok = self._n_input = self._n_output = 0
        self._cost = 0.0
        self._latencies: list[float] = []
        self._ingest_times: list[float] = []

    def observe_message(self, events, seconds: float) -> None:  # noqa: ANN001 - TraceEvents of one message
        """Count one decoded message: its ok events and the time it took to decode and judge."""
        self._ingest_times.append(seconds)
        if events:
            self._n_ok += len(events)
            self._n_input += sum(e.input_tokens or 0 for e in events)
            self._n_output += sum(e.output_tokens or 0 for e in events)
            self._cost += sum(e.cost_usd or 0.0 for e in events)
            self._latencies += [e.latency_ms / 1000.0 for e in events if e.latency_ms is not None]
        if len(self._ingest_times) >= PUBLISH_EVERY:
            self.publish()

    def publish(self) -> None:
        """Hand the figures summed since the last call to the Prometheus metrics."""
        self._ok.inc(self._n_ok)
        self._input_tokens.inc(self._n_input)
        self._output_tokens.inc(self._n_output)
        self.cost_usd.inc(self._cost)
        for value in self._latencies:
            self.llm_latency.observe(value)
        for value in self._ingest_times:
            self.ingest_seconds.observe(value)
        self._n_ok = self._n_input = self._n_output = 0
        self._cost = 0.0
        self._latencies, self._ingest_times = [], []

    def render(self) -> bytes:
        self.publish()
        return generate_latest(self.registry)
