"""Topic names (docs/architecture.md), their creation on any Kafka-protocol broker, key partitioning."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

log = logging.getLogger(__name__)

TRACES = "tracewatch.traces"
OTLP = "tracewatch.otlp"
DEADLETTER = "tracewatch.deadletter"
SERIES = "tracewatch.series"  # internal repartition topic: bucket summaries keyed by series
FINDINGS = "tracewatch.findings"
INCIDENTS = "tracewatch.incidents"
ACTIONS = "tracewatch.actions"
CONTROLS = "tracewatch.controls"
PROMPTS = "tracewatch.prompts"

#: Compacted topics hold the latest record per key: they are the state, not a log of it.
COMPACTED = {CONTROLS, PROMPTS}
ALL = [TRACES, OTLP, DEADLETTER, SERIES, FINDINGS, INCIDENTS, ACTIONS, CONTROLS, PROMPTS]


def bootstrap_of(broker_url: str) -> str:
    """``kafka://host:9092`` (or a comma-separated list) → ``host:9092`` for aiokafka."""
    return ",".join(part.split("://", 1)[-1] for part in broker_url.split(";")[0].split(","))


async def ensure_topics(broker_url: str, partitions: int) -> list[str]:
    """Create the tracewatch topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_of(broker_url), client_id="tracewatch-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name, 1 if name in COMPACTED else partitions, 1,
                topic_configs={"cleanup.policy": "compact"} if name in COMPACTED else {},
            )
            for name in ALL
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, message in response.topic_errors:
                if code not in (0, 36):  # 36: created meanwhile by another worker
                    raise RuntimeError(f"cannot create topic {name}: {message} (error {code})")
            log.info("created topics: %s", ", ".join(t.name for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()


class KeyPartitioner:
    """Kafka's default partition for a key (murmur2, as the Java client and aiokafka compute it), cached.

    >>> p = KeyPartitioner(4)
    >>> p(b"budget_user_daily|user_id=u1") == DefaultPartitioner()(b"budget_user_daily|user_id=u1", [0, 1, 2, 3], [0, 1, 2, 3])
    True
    """

    def __init__(self, partitions: int, cache_size: int = 200_000) -> None:
        self._all = list(range(partitions))
        self._hash = DefaultPartitioner()
        self._cache: dict[bytes, int] = {}
        self._cache_size = cache_size

    def __call__(self, key: bytes) -> int:
        p = self._cache.get(key)
        if p is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            p = self._cache[key] = self._hash(key, self._all, self._all)
        return p
