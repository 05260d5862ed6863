"""Ingest: decode, validate, price and scan each message; bad input goes to the dead-letter topic.

A dead-lettered record keeps the original bytes and the reason (``streams.deadletter``).

Exactly once across crashes (``docs/exactly-once.md``): every flush message to a series partition carries,
per source partition read here, which of its events that partition has received (``streams.coverage``,
header ``tracewatch.covered``), atomically with the summaries. Source offsets are committed only up to
the first event whose summaries are not all sent (held-back buckets included). A worker that takes a
source partition over reads those covers from the tail of ``tracewatch.series`` and, while re-reading from
the committed offset, folds an event only into the series that did not receive it.

Event time is bounded by arrival time: an event dated more than ``future_tolerance_s`` after its Kafka
record's timestamp (or this worker's clock, if earlier) is dead-lettered, so that one bad clock cannot
move a series' watermark into the future and make its later traffic look late.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams.deadletter import dead_letter
from streams.coverage import COVERED_HEADER, Cover, part_cover
from traces.decode import DecodeError, Decoded
from traces.events import TraceEvent
from streams.topics import KeyPartitioner, bootstrap_of

if TYPE_CHECKING:
    from streams.app import Tracewatch

log = logging.getLogger(__name__)
SERIES_MESSAGE_BYTES = 256 * 1024  # well below the usual 1 MB broker limit
MAX_HELD_SUMMARIES = 200_000  # pre-aggregates held back for a slow partition at most (memory bound)
DELIVERY_TIMEOUT_S = 15.0  # how long an offset commit waits for the series summaries to be delivered
BEHIND_UNKNOWN = -1e18  # the watermark of a partition that is behind but not read from yet
PROGRESS_HEADER = "tracewatch.behind"
TAIL_CHUNK = 500  # series messages read per step when looking back for the covers of a source partition
TAIL_SCAN_MESSAGES = 50_000  # per series partition at most; older covers are not looked for


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
    return tw.pipeline.decode(raw, fmt, max_bytes=limit)  # decoded and priced


class Source:
    """One source partition read by this worker: how far it has been folded, which of its events are in
    summaries still pending here, and (after a take-over) what the series partitions had received before.
    """

    __slots__ = ("name", "done", "first", "rules", "rules_low", "rules_high")

    def __init__(self, name: str, rules: dict[int, Cover] | None = None) -> None:
        self.name = name
        self.done = -1  # the last offset whose events are all folded
        self.first: dict[float, int] = {}  # bucket -> first offset folded into its pending summaries
        # Per series partition, what it received from this partition before this worker took it over;
        # dropped once nothing read from now on can fall under it.
        self.rules = rules or None
        covers = list(rules.values()) if rules else []
        self.rules_low = min((c.lowest() for c in covers), default=-1)  # below: every series has it
        self.rules_high = max((c.highest() for c in covers), default=-1)  # at or above: none has it

    def cover(self, q: int, done: int, held: dict, released: dict, cut: tuple | None) -> Cover:
        cover = part_cover(done, held, released, cut)
        if self.rules is not None:
            cover = cover.combine(self.rules.get(q))
        return cover

    def bound(self) -> int | None:
        """The offset to commit at most: every event before it has all its summaries sent."""
        if self.done < 0:
            return None
        return min(self.done + 1, min(self.first.values(), default=self.done + 1))

    def settle(self) -> None:
        """Forget the take-over rules once every offset still to be folded or sent is past them."""
        if self.rules is not None and self.rules_high <= min(self.done + 1, min(self.first.values(),
                                                                                  default=self.done + 1)):
            self.rules = None


class Ingest:
    """The per-message step, separated from Faust so that benchmarks and tests can call it directly.

    It also keeps, per source partition, the last offset handled and the latest event time seen, from
    which ``progress`` tells how far in event time every partition that is still behind has come, and
    what has been folded and sent of it (``Source``).
    """

    def __init__(self, tw: "Tracewatch") -> None:
        self.tw = tw
        self.seen: dict[tuple[str, int], list] = {}  # (topic, partition) -> [offset, latest event time]
        self.sources: dict[tuple[str, int], Source] = {}
        # (source partition names) -> per name, per series partition, the latest cover found; set by the
        # service (``register``); None: nothing to recover (benchmarks, tests)
        self.recoverer: Any = None
        self.partition_of: Any = None  # series key (bytes) -> series partition
        self.last_report: dict[int, dict] = {}  # the progress last sent to each series partition
        self.last_covered: dict[int, bytes] = {}  # the covers last sent to each series partition

    async def recover(self, topic: str, partition: int) -> Source:
        """The ``Source`` of a partition read for the first time since it was assigned: what the series
        partitions received from it before, looked up at once for every assigned partition not read yet."""
        wanted = [(topic, partition)]
        app = getattr(self.tw, "app", None)
        consumer = getattr(app, "consumer", None) if self.recoverer is not None else None
        if consumer is not None:
            names = (self.tw.traces.get_topic_name(), self.tw.otlp.get_topic_name())
            wanted += [(tp.topic, tp.partition) for tp in consumer.assignment()
                       if tp.topic in names and (tp.topic, tp.partition) not in self.sources
                       and (tp.topic, tp.partition) != (topic, partition)]
        found: dict[str, dict[int, Cover]] = {}
        if self.recoverer is not None:
            try:
                found = await self.recoverer([f"{t}/{p}" for t, p in wanted])
            except Exception:  # noqa: BLE001 - reading on beats stopping; counts may then be off
                log.exception("could not read what the series partitions received from %s; events read "
                              "again after a crash may be counted twice", [f"{t}/{p}" for t, p in wanted])
        for t, p in wanted:
            name = f"{t}/{p}"
            if (t, p) not in self.sources:
                self.sources[(t, p)] = Source(name, found.get(name))
                if found.get(name):
                    log.info("%s: taking over after offset %d; series partitions received it up to %s", name,
                             min(c.lowest() for c in found[name].values()) - 1,
                             {q: c.done for q, c in sorted(found[name].items())})
        return self.sources[(topic, partition)]

    def take(self, until: float) -> dict[str, tuple]:
        """Called with each ``DetectorSuite.flush(until)``, without awaiting in between: per source, the
        last offset folded and the first offset of each bucket kept pending (``held``) or sent now."""
        out = {}
        for source in self.sources.values():
            source.settle()
            first = source.first
            if until == math.inf:
                held, released = {}, first
            else:
                held = {b: f for b, f in first.items() if b > until}
                released = {b: f for b, f in first.items() if b <= until} if len(held) != len(first) else {}
            source.first = dict(held)
            out[source.name] = (source, source.done, held, released)
        return out

    def messages(self, until: float, report: dict) -> list[tuple[int, bytes, list]]:
        """One flush: ``(series partition, value, headers)`` of each message to send, in order.

        One message per partition per flush, not one per summary: the series a partition holds are
        those its keys hash to, exactly as if each summary were sent keyed by its series. Each carries
        what it covers of every source partition (``streams.coverage``), and the last one to a partition
        in a flush this worker's progress (``report``), so that the series agent keeps windows open for
        buckets that another partition, maybe read by another worker, has not reached. A partition gets
        a message whenever either changed, even without summaries.
        """
        partition_of = self.partition_of
        summaries = self.tw.suite.flush(until)
        taken = self.take(until)  # no await since the flush: the covers match the summaries
        by_partition: dict[int, list] = {p: [] for p in range(self.tw.settings.partitions)}
        for summary in summaries:
            by_partition[partition_of(summary.series_key.encode())].append(summary)
        progress = (PROGRESS_HEADER, orjson.dumps(report))
        out = []
        for partition, items in by_partition.items():
            covered = _covers_of(taken, partition, None)
            if (not items and report == self.last_report.get(partition)
                    and covered == self.last_covered.get(partition)):
                continue
            self.last_report[partition] = report
            self.last_covered[partition] = covered
            chunks = _parts(items)
            if len(chunks) > 1:  # cut in (bucket, series key) order, so that each part's cover is exact
                items.sort(key=lambda s: (s.bucket_start, s.series_key))
                chunks = _parts(items)
            for i, (blob, last) in enumerate(chunks):
                if i == len(chunks) - 1:
                    headers = [(COVERED_HEADER, covered), progress]
                else:
                    headers = [(COVERED_HEADER, _covers_of(taken, partition, (last.bucket_start, last.series_key)))]
                out.append((partition, blob, headers))
        return out

    def commit_bound(self, topic: str, partition: int) -> int | None:
        source = self.sources.get((topic, partition))
        return None if source is None else source.bound()

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
        source = self.sources.get((topic, partition))
        if source is None:
            source = await self.recover(topic, partition)
        if source.done < 0:
            # The first message read: the committed offset (``App.in_order`` reads a hole before it).
            source.done = offset - 1
        elif offset <= source.done:
            return []  # delivered again: already counted
        seen = self.seen.get((topic, partition))
        if seen is None:
            seen = self.seen[(topic, partition)] = [offset, -math.inf]
        seen[0] = offset
        try:
            decoded = decode_message(tw, topic, raw)
        except DecodeError as exc:
            await self.deadletter(topic, partition, offset, raw or b"", exc.reason, None)
            source.done = max(source.done, offset)
            return []
        except Exception as exc:  # a decoder bug must not stop the worker; the record is kept
            log.exception("decoder failed on %s[%d]@%d", topic, partition, offset)
            await self.deadletter(topic, partition, offset, raw or b"", f"internal decoder error: {type(exc).__name__}", None)
            source.done = max(source.done, offset)
            return []
        for item in decoded.errors:
            await self.deadletter(topic, partition, offset, item.raw, item.reason, item.index)
        if decoded.events:
            await self.refuse_future(topic, partition, offset, raw or b"", decoded, arrived)
        if decoded.events:
            latest = max(e.timestamp for e in decoded.events).timestamp()
            if latest > seen[1]:
                seen[1] = latest
        # Every event of the message is folded, and the source's bookkeeping updated, without awaiting in
        # between: a flush sees a message either not folded at all or folded whole.
        suite = tw.suite
        bucket_s = suite.bucket_s
        first = source.first
        again = source.rules is not None and offset < source.rules_high  # some series may have it
        if again and offset < source.rules_low:
            tw.metrics.events_refolds_skipped.inc(len(decoded.events))
        findings = []
        for event in decoded.events:
            if event.cost_usd is None:  # (the price table has no price for its model)
                tw.metrics.cost_unknown.inc()
            bucket = math.floor(event.timestamp.timestamp() / bucket_s) * bucket_s
            if bucket not in first:
                first[bucket] = offset
            found = suite.observe(event, self.skipper(source, offset, bucket)) if again else suite.observe(event)
            if found:
                findings += found
        source.done = max(source.done, offset)
        # Per-event findings (prompt injection) go out now; the rest is pre-aggregated per series. Those
        # of an event read again after a crash go out again: the first copy may not have reached the
        # broker, and the incident agent recognises a repeated finding (same incident id, same finding).
        for finding in findings:
            await tw.send_finding(finding)
        tw.metrics.observe_message(decoded.events, time.perf_counter() - started)
        return decoded.events

    def skipper(self, source: Source, offset: int, bucket: float) -> Any:
        """Whether the series partition of a series key already received this event (after a take-over)."""
        rules, partition_of = source.rules, self.partition_of
        assert rules is not None

        def skip(key: str) -> bool:
            cover = rules.get(partition_of(key.encode()))
            return cover is not None and offset < cover.threshold(key, bucket)

        return skip

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
        await dead_letter(self.tw, topic, partition, offset, raw, reason, index)
        self.tw.metrics.events.labels("deadletter").inc()


def _covers_of(taken: dict[str, tuple], partition: int, cut: tuple | None) -> bytes:
    return orjson.dumps({name: source.cover(partition, done, held, released, cut).to_json()
                         for name, (source, done, held, released) in taken.items()})


def _parts(items: list) -> list[tuple[bytes, Any]]:
    blob = orjson.dumps([s.to_dict() for s in items])
    if len(blob) > SERIES_MESSAGE_BYTES and len(items) > 1:  # stay far below the broker's limit
        half = len(items) // 2
        return _parts(items[:half]) + _parts(items[half:])
    return [(blob, items[-1] if items else None)]


def register(tw: "Tracewatch") -> None:
    ingest = Ingest(tw)
    tw.ingest = ingest
    ingest.partition_of = KeyPartitioner(tw.settings.partitions)

    @tw.app.agent(tw.app.topic(tw.traces.get_topic_name(), tw.otlp.get_topic_name(),
                               key_type=bytes, value_type=bytes, key_serializer="raw",
                               value_serializer="raw"), name="tracewatch.ingest")
    async def ingest_agent(stream):  # noqa: ANN001 - Faust stream
        async for message in tw.app.in_order(stream):
            await ingest.handle(message.topic, message.partition, message.offset, message.value,
                                message.timestamp)

    series_topic = tw.series.get_topic_name()

    async def recoverer(names: list[str]) -> dict[str, dict[int, Cover]]:
        return await read_covers(bootstrap_of(tw.broker_url), series_topic, tw.settings.partitions, names)

    ingest.recoverer = recoverer

    tw.app.commit_bounds.append(ingest.commit_bound)

    async def send_everything() -> None:
        # Whoever reads a source partition next must find in the series partitions' covers everything
        # that was read of it here: send every pending summary now (held-back buckets too).
        try:
            await asyncio.wait_for(asyncio.gather(*await flush(everything=True)), timeout=DELIVERY_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - the next owner may then count some events twice
            log.exception("could not send the pending series summaries before giving partitions up")

    @tw.app.on_partitions_revoked.connect
    async def _forget_sources(sender: object, revoked: object, **kwargs: object) -> None:
        names = (tw.traces.get_topic_name(), tw.otlp.get_topic_name())
        if ingest.sources and any(tp.topic in names for tp in revoked):  # type: ignore[attr-defined]
            await send_everything()
        ingest.seen.clear()  # a partition assigned again may have been read on by another worker
        ingest.sources.clear()
        ingest.last_covered.clear()

    @tw.app.on_before_shutdown.connect
    async def _give_sources_up(sender: object, **kwargs: object) -> None:
        # A stopping worker gives every partition up. Faust sends this once the agents have stopped and
        # before the producer stops; the consumer's last commit comes after it, and now covers every
        # event read: none is read again by the next owner (buckets held back for a slower source
        # partition would otherwise hold the commit back).
        if ingest.sources:
            await send_everything()

    flushing = asyncio.Lock()  # one flush at a time: each series partition gets its messages in order

    @tw.app.timer(tw.settings.flush_interval_s)
    async def flush_series() -> None:
        await flush()

    async def flush_before_commit() -> None:
        # Send what is ready, so that the offsets committed next cover as much as possible: they are
        # bounded by the first event whose summaries are not all sent (``Ingest.commit_bound``), which
        # includes the summaries held back while catching up. A delivery that does not come in time
        # fails the hook: the offsets are then not committed.
        await asyncio.wait_for(asyncio.gather(*await flush()), timeout=DELIVERY_TIMEOUT_S)

    tw.app.before_commit.append(flush_before_commit)

    async def flush(everything: bool = False) -> list[Any]:
        """Send what is ready (``everything``: all that is pending); the delivery futures of the messages sent."""
        async with flushing:
            # While catching up, buckets later than the slowest source partition has reached wait (up
            # to a bound), so that each series receives its summaries in event-time order.
            consumer = tw.app.consumer
            report = ingest.progress(consumer) if consumer is not None else {}
            until = watermark_of(report)
            if everything or tw.suite.pending > MAX_HELD_SUMMARIES:
                until = math.inf
            sent: list[Any] = []
            for partition, blob, headers in ingest.messages(until, report):
                try:
                    sent.append(await tw.series.send(key=b"series", value=blob, partition=partition,
                                                     headers=headers))
                except Exception:  # noqa: BLE001 - an exception in a Faust timer would stop the whole worker
                    lost = blob.count(b'"k":')
                    log.exception("could not send %d series summaries to partition %d", lost, partition)
                    tw.metrics.series_dropped.inc(lost)
            return sent


async def read_covers(bootstrap: str, topic: str, partitions: int, names: list[str],
                      limit: int = TAIL_SCAN_MESSAGES) -> dict[str, dict[int, Cover]]:
    """Per source partition name, per series partition, the latest cover found in that partition's tail
    (read backwards in chunks until every name is found, the start, or ``limit`` messages)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                client_id="tracewatch-covers", fetch_max_wait_ms=50)
    await consumer.start()
    out: dict[str, dict[int, Cover]] = {}
    try:
        tps = [TopicPartition(topic, q) for q in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            for name, cover in (await _scan_back(consumer, tp, ends[tp], set(names), limit)).items():
                out.setdefault(name, {})[tp.partition] = cover
    finally:
        await consumer.stop()
    return out


async def _scan_back(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, wanted: set[str],
                     limit: int) -> dict[str, Cover]:
    found: dict[str, Cover] = {}
    if not end:
        return found
    high: int | None = None  # the chunk ends before this offset; None: at the log's true end, which a
    scanned = 0              # broker may report short (streams.transport.LogEnds)
    while True:
        low = max(0, (end if high is None else high) - TAIL_CHUNK)
        consumer.seek(tp, low)
        chunk: dict[str, Any] = {}
        idle = 0
        reading = True
        while reading:
            records = (await consumer.getmany(tp, timeout_ms=200, max_records=TAIL_CHUNK)).get(tp, [])
            if not records:
                position = await consumer.position(tp)
                idle += 1
                if position >= (end if high is None else high) or idle > 25:
                    break
                continue
            for record in records:
                if high is not None and record.offset >= high:
                    reading = False
                    break
                scanned += 1
                for key, value in record.headers or ():
                    if key == COVERED_HEADER:
                        covers = orjson.loads(value)
                        for name in wanted:
                            if name in covers:
                                chunk[name] = covers[name]  # a later message overrides an earlier one
        for name, value in chunk.items():
            if name not in found:
                found[name] = Cover.from_json(value)
        if low == 0 or wanted <= found.keys() or scanned >= limit:
            return found
        high = low
