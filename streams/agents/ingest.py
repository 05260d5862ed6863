"""Ingest: decode, validate, price and scan each message; bad input goes to the dead-letter topic.

A dead-lettered record keeps the original bytes as its value (so it can be replayed as is) and carries
what a person needs to act on it in headers, like Kafka Connect's dead-letter queues:
``tracewatch.reason``, ``tracewatch.topic``, ``tracewatch.partition``, ``tracewatch.offset`` and, for one
bad item of a batch, ``tracewatch.index``. A record must always fit the broker's limit, so a value larger
than ``DEADLETTER_VALUE_BYTES`` keeps only its first ``DEADLETTER_PREFIX_BYTES``, and the headers
``tracewatch.truncated``, ``tracewatch.size`` and ``tracewatch.sha256`` say so and identify the original.

Event time is bounded by arrival time: an event dated more than ``future_tolerance_s`` after its Kafka
record's timestamp (or this worker's clock, if earlier) is dead-lettered, so that one bad clock cannot
move a series' watermark into the future and make its later traffic look late.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson

from streams.decode import DecodeError, Decoded, decode
from streams.events import TraceEvent
from streams.topics import KeyPartitioner

if TYPE_CHECKING:
    from streams.app import Tracewatch

log = logging.getLogger(__name__)
SERIES_MESSAGE_BYTES = 256 * 1024  # well below the usual 1 MB broker limit
MAX_HELD_SUMMARIES = 200_000  # pre-aggregates held back for a slow partition at most (memory bound)
DELIVERY_TIMEOUT_S = 15.0  # how long an offset commit waits for the series summaries to be delivered
BEHIND_UNKNOWN = -1e18  # the watermark of a partition that is behind but not read from yet
PROGRESS_HEADER = "tracewatch.behind"
# Kafka's default broker limit is 1,048,588 bytes per record batch: a whole original up to 900 kB leaves
# room for the headers; anything larger keeps a prefix that is enough to see what it was.
DEADLETTER_VALUE_BYTES = 900_000
DEADLETTER_PREFIX_BYTES = 64 * 1024
DEADLETTER_REASON_CHARS = 2000


def watermark_of(report: dict[str, float | None]) -> float:
    """The event time up to which every source partition in a progress report (``Ingest.progress``)
    has sent its summaries; ``inf`` when none is behind."""
    return min((mark for mark in report.values() if mark is not None), default=math.inf)


def message_format(topic: str, raw: bytes, tw: "Tracewatch") -> str:
    if topic != tw.otlp.get_topic_name():
        return "json"
    if tw.settings.otlp_encoding != "auto":
        return tw.settings.otlp_encoding
    # The Collector writes otlp_json as one JSON object; otlp_proto never starts with "{" (field 15, group).
    return "otlp_json" if raw[:1] == b"{" else "otlp_proto"


def decode_message(tw: "Tracewatch", topic: str, raw: bytes | None) -> Decoded:
    if raw is None:
        raise DecodeError("empty message (no value): publish one JSON trace event or an array of them")
    fmt = message_format(topic, raw, tw)
    limit = tw.settings.max_message_bytes if fmt == "json" else max(tw.settings.max_message_bytes, 8 << 20)
    return decode(raw, fmt, max_bytes=limit)


class Ingest:
    """The per-message step, separated from Faust so that benchmarks and tests can call it directly.

    It also keeps, per source partition, the last offset handled and the latest event time seen, from
    which ``progress`` tells how far in event time every partition that is still behind has come.
    """

    def __init__(self, tw: "Tracewatch") -> None:
        self.tw = tw
        self.seen: dict[tuple[str, int], list] = {}  # (topic, partition) -> [offset, latest event time]

    def progress(self, consumer: Any) -> dict[str, float | None]:
        """Per source partition this worker owns, ``None`` if it has nothing left to read, else the
        watermark: the event time every partition still behind has reached (``BEHIND_UNKNOWN`` if one
        has not been read from yet). Summaries for buckets after the watermark are still to come."""
        names = (self.tw.traces.get_topic_name(), self.tw.otlp.get_topic_name())
        behind: list[str] = []
        report: dict[str, float | None] = {}
        mark = math.inf
        for tp in consumer.assignment():
            if tp.topic not in names:
                continue
            name = f"{tp.topic}/{tp.partition}"
            report[name] = None
            end = consumer.highwater(tp)  # the next offset to be written; None before the first fetch
            if not end:
                continue
            seen = self.seen.get((tp.topic, tp.partition))
            if seen is None:
                position = consumer._read_offset.get(tp)  # where Faust sought to (the committed offset)
                if position is None or position < end:
                    behind.append(name)
                    mark = BEHIND_UNKNOWN
            elif seen[0] + 1 < end:
                behind.append(name)
                mark = min(mark, max(seen[1], BEHIND_UNKNOWN))
        for name in behind:
            report[name] = mark
        return report

    async def handle(
        self, topic: str, partition: int, offset: int, raw: bytes | None, arrived: float | None = None
    ) -> list[TraceEvent]:
        """Decode one message; ``arrived`` is its Kafka record timestamp in epoch seconds, if known."""
        tw = self.tw
        started = time.perf_counter()
        seen = self.seen.get((topic, partition))
        if seen is None:
            seen = self.seen[(topic, partition)] = [offset, -math.inf]
        seen[0] = offset
        try:
            decoded = decode_message(tw, topic, raw)
        except DecodeError as exc:
            await self.deadletter(topic, partition, offset, raw or b"", exc.reason, None)
            return []
        except Exception as exc:  # a decoder bug must not stop the worker; the record is kept
            log.exception("decoder failed on %s[%d]@%d", topic, partition, offset)
            await self.deadletter(topic, partition, offset, raw or b"", f"internal decoder error: {type(exc).__name__}", None)
            return []
        for item in decoded.errors:
            await self.deadletter(topic, partition, offset, item.raw, item.reason, item.index)
        if decoded.events:
            await self.refuse_future(topic, partition, offset, raw or b"", decoded, arrived)
        if decoded.events:
            latest = max(e.timestamp for e in decoded.events).timestamp()
            if latest > seen[1]:
                seen[1] = latest
        for event in decoded.events:
            if event.cost_usd is None and not tw.prices.apply(event):
                tw.metrics.cost_unknown.inc()
            # Per-event findings (prompt injection) go out now; the rest is pre-aggregated per series.
            for finding in tw.suite.observe(event):
                await tw.send_finding(finding)
        tw.metrics.observe_message(decoded.events, time.perf_counter() - started)
        return decoded.events

    async def refuse_future(
        self, topic: str, partition: int, offset: int, raw: bytes, decoded: Decoded, arrived: float | None
    ) -> None:
        """Dead-letter the events dated too far after their arrival; keep the others in ``decoded``."""
        now = time.time()
        arrival = now if arrived is None or arrived <= 0 else min(arrived, now)
        tolerance = self.tw.settings.future_tolerance_s
        latest = arrival + tolerance
        if all(e.timestamp.timestamp() <= latest for e in decoded.events):
            return
        kept = []
        whole = len(decoded.events) == 1 and not decoded.errors
        for event in decoded.events:
            ahead = event.timestamp.timestamp() - arrival
            if ahead <= tolerance:
                kept.append(event)
                continue
            reason = (f"'timestamp': {event.timestamp.isoformat()} is {ahead:,.0f} s after the message arrived "
                      f"({datetime.fromtimestamp(arrival, timezone.utc).isoformat()}); events may be at most "
                      f"{tolerance:g} s ahead (future_tolerance_s): check the sender's clock")
            value = raw if whole else orjson.dumps(event.model_dump(mode="json", exclude_none=True))
            await self.deadletter(topic, partition, offset, value, reason, None)
        decoded.events = kept

    async def deadletter(
        self, topic: str, partition: int, offset: int, raw: bytes, reason: str, index: int | None
    ) -> None:
        tw = self.tw
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
            except Exception:  # noqa: BLE001 - losing the record must not stop ingest; it is counted
                log.exception("could not dead-letter %s[%d]@%d", topic, partition, offset)
                tw.metrics.deadletter_failed.inc()
        tw.metrics.events.labels("deadletter").inc()
        tw.metrics.deadletter.labels(reason.split(":", 1)[0][:40]).inc()
        log.info("dead-lettered %s[%d]@%d: %s", topic, partition, offset, reason[:200])


def truncated_headers(raw: bytes) -> dict[str, bytes]:
    """What identifies an original that a dead-letter record keeps only the start of."""
    return {"tracewatch.truncated": b"true", "tracewatch.size": str(len(raw)).encode(),
            "tracewatch.sha256": hashlib.sha256(raw).hexdigest().encode()}


def register(tw: "Tracewatch") -> None:
    ingest = Ingest(tw)
    tw.ingest = ingest

    @tw.app.agent(tw.app.topic(tw.traces.get_topic_name(), tw.otlp.get_topic_name(),
                               key_type=bytes, value_type=bytes, key_serializer="raw",
                               value_serializer="raw"), name="tracewatch.ingest")
    async def ingest_agent(stream):  # noqa: ANN001 - Faust stream
        async for event in stream.events():
            msg = event.message
            await ingest.handle(msg.topic, msg.partition, msg.offset, event.value,
                                msg.timestamp if msg.timestamp else None)

    @tw.app.on_partitions_revoked.connect
    async def _forget_sources(sender: object, revoked: object, **kwargs: object) -> None:
        ingest.seen.clear()  # a partition assigned again may have been read on by another worker

    partition_of = KeyPartitioner(tw.settings.partitions)
    last_report: dict[int, dict] = {}  # the progress last sent to each series partition

    flushing = asyncio.Lock()  # one flush at a time: each series partition gets its messages in order

    @tw.app.timer(tw.settings.flush_interval_s)
    async def flush_series() -> None:
        await flush()

    async def flush_before_commit() -> None:
        # The offsets about to be committed cover events whose summaries may still be pending here; a
        # worker killed right after the commit must not lose them. (Summaries held back while catching
        # up are the exception: they go out once the slowest partition has reached their bucket.)
        # A delivery that does not come in time fails the hook: the offsets are then not committed.
        await asyncio.wait_for(asyncio.gather(*await flush()), timeout=DELIVERY_TIMEOUT_S)

    tw.app.before_commit.append(flush_before_commit)

    async def flush() -> list[Any]:
        """Send what is ready; the delivery futures of the messages sent."""
        async with flushing:
            # One message per partition per flush, not one per summary: the series a partition holds
            # are those its keys hash to, exactly as if each summary were sent keyed by its series.
            # While catching up, buckets later than the slowest source partition has reached wait (up
            # to a bound), so that each series receives its summaries in event-time order.
            consumer = tw.app.consumer
            report = ingest.progress(consumer) if consumer is not None else {}
            until = watermark_of(report)
            if tw.suite.pending > MAX_HELD_SUMMARIES:
                until = math.inf
            by_partition: dict[int, list[dict]] = {p: [] for p in range(tw.settings.partitions)}
            for summary in tw.suite.flush(until):
                by_partition[partition_of(summary.series_key.encode())].append(summary.to_dict())
            # Every message carries this worker's progress, so that the series agent keeps windows
            # open for buckets that another partition, maybe read by another worker, has not reached.
            headers = [(PROGRESS_HEADER, orjson.dumps(report))]
            sent: list[Any] = []
            for partition, items in by_partition.items():
                if items or report != last_report.get(partition):
                    last_report[partition] = report
                    await send_summaries(partition, items, headers, sent)
            return sent

    async def send_summaries(partition: int, items: list[dict], headers: list, sent: list) -> None:
        blob = orjson.dumps(items)
        if len(blob) > SERIES_MESSAGE_BYTES and len(items) > 1:  # stay far below the broker's limit
            half = len(items) // 2
            await send_summaries(partition, items[:half], [], sent)  # the progress holds once all are sent
            await send_summaries(partition, items[half:], headers, sent)
            return
        try:
            sent.append(await tw.series.send(key=b"series", value=blob, partition=partition, headers=headers))
        except Exception:  # noqa: BLE001 - an exception in a Faust timer would stop the whole worker
            log.exception("could not send %d series summaries to partition %d", len(items), partition)
            tw.metrics.series_dropped.inc(len(items))
