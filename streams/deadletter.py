"""The dead-letter topic: a record that cannot be used, kept with the reason, never lost.

A dead-lettered record keeps the original bytes as its value (so it can be replayed as is) and carries
what a person needs to act on it in headers, like Kafka Connect's dead-letter queues:
``tracewatch.reason``, ``tracewatch.topic``, ``tracewatch.partition``, ``tracewatch.offset`` and, for one
bad item of a batch, ``tracewatch.index``. A record must always fit the broker's limit, so a value larger
than ``DEADLETTER_VALUE_BYTES`` keeps only its first ``DEADLETTER_PREFIX_BYTES``, and the headers
``tracewatch.truncated``, ``tracewatch.size`` and ``tracewatch.sha256`` say so and identify the original.
Trace events (the ingest agent) and internal records that do not read as their topic's record
(``streams.records``) go the same way.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.app import Tracewatch

log = logging.getLogger(__name__)

#: Kafka's default limit is ~1 MB a record: keep room for the headers.
DEADLETTER_VALUE_BYTES = 900_000
DEADLETTER_PREFIX_BYTES = 64 * 1024
DEADLETTER_REASON_CHARS = 2000


async def dead_letter(tw: "Tracewatch", topic: str, partition: int, offset: int, raw: bytes, reason: str,
                      index: int | None = None) -> None:
    """Send ``raw`` (read at ``topic``/``partition``@``offset``) to the dead-letter topic with ``reason``."""
    headers = {
        "tracewatch.reason": reason[:DEADLETTER_REASON_CHARS].encode("utf-8", "replace"),
        "tracewatch.topic": topic.encode(),
        "tracewatch.partition": str(partition).encode(),
        "tracewatch.offset": str(offset).encode(),
    }
    if index is not None:
        headers["tracewatch.index"] = str(index).encode()
    value = raw
    if len(raw) > DEADLETTER_VALUE_BYTES:
        value = raw[:DEADLETTER_PREFIX_BYTES]
        headers.update(truncated_headers(raw))
    key = f"{topic}:{partition}:{offset}".encode()
    try:
        await tw.deadletter.send(key=key, value=value, headers=headers)
    except Exception as exc:  # noqa: BLE001 - e.g. a broker whose limit is below ours: keep the reason
        log.warning("dead-letter record for %s[%d]@%d refused (%s); sending its first 1 kB", topic,
                    partition, offset, type(exc).__name__)
        headers.update(truncated_headers(raw))
        try:
            await tw.deadletter.send(key=key, value=raw[:1024], headers=headers)
        except Exception:  # noqa: BLE001 - losing the record must not stop the agent; it is counted
            log.exception("could not dead-letter %s[%d]@%d", topic, partition, offset)
            tw.metrics.deadletter_failed.inc()
    tw.metrics.deadletter.labels(reason.split(":", 1)[0][:40]).inc()
    log.info("dead-lettered %s[%d]@%d: %s", topic, partition, offset, reason[:200])


def truncated_headers(raw: bytes) -> dict[str, bytes]:
    """What identifies an original that a dead-letter record keeps only the start of."""
    return {"tracewatch.truncated": b"true", "tracewatch.size": str(len(raw)).encode(),
            "tracewatch.sha256": hashlib.sha256(raw).hexdigest().encode()}
