"""Series: stateful detectors per series key, fed with pre-aggregated bucket summaries.

The ingest agent pre-aggregates events per series and short event-time bucket (``DetectorSuite.flush``)
and sends them here, one message per partition per flush holding the summaries whose series keys hash
to that partition, so that one series is always judged by one worker and the repartition traffic grows
with the number of series, not of events. Each series' state (learned baseline, open window, when it
last fired) is kept as a snapshot in a table whose changelog lets another worker take the partition over
with the learned baselines. Snapshots are written right before each offset commit, once per series that
changed since the last one, in a few record batches (``streams.changelog``), not on every summary.
A snapshot names the last summary folded into it (``SeriesState.position``: the message's offset in
the series topic's partition, which is the series key's own, and the summary's index in it), so a message read again after a crash between the snapshot
and the commit is recognised and skipped (``docs/exactly-once.md``).
When a series that produced findings has been quiet for the incident policy's resolve time (in event
time), a ``clear`` goes to the incident agent.

Windows close in event time (``SeriesState``). While workers catch up, one may be minutes of event time
ahead of another; each flush message therefore carries its sender's progress per source partition
(header ``tracewatch.behind``), and a window stays open until every source partition that is behind has
sent its summaries for it — the watermark is the minimum over the inputs, as in Flink.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import TYPE_CHECKING, Any

import orjson

from detectors.suite import BucketSummary, SeriesState
from streams.agents.ingest import PROGRESS_HEADER, watermark_of
from streams.changelog import ChangelogWriter

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from streams.app import Tracewatch

MAX_LIVE_SERIES = 200_000  # series states kept decoded in memory; the rest are restored on their next summary


class SeriesJudge:
    """This worker's series: their live states, and what each source partition last reported."""

    def __init__(self, tw: "Tracewatch") -> None:
        self.tw = tw
        self.states: dict[str, SeriesState] = {}  # live states for the partitions this worker owns
        self.changed: set[str] = set()  # series keys whose snapshot is older than their state
        # Per series partition, what each source partition's reader last reported: None when it has nothing
        # left to read, else the event time up to which it has sent every summary (streams.agents.ingest).
        self.progress: dict[int, dict[str, float | None]] = {}
        self.waiting: dict[int, set[str]] = {}  # per series partition, series with a window open only for them
        self.released: dict[int, float] = {}  # per series partition, the watermark they were last released up to
        self.resolve_after = tw.incident_policy.resolve_after_s
        self.writer = ChangelogWriter(tw.broker_url, tw.series_state, tw.settings.partitions)

    async def save_changed(self) -> None:
        # Awaited before each offset commit (transport.App.before_commit): the snapshots written here
        # reflect every summary up to the offsets about to be committed.
        changed, states = self.changed, self.states
        if not changed:
            return
        keys = list(changed)
        changed.clear()
        try:
            await self.writer.write([(key.encode(), states[key].snapshot()) for key in keys if key in states])
        except BaseException:
            changed.update(keys)
            raise
        # Bound memory: forget the oldest live states (their snapshots are in the table) beyond the cap.
        for key in list(itertools.islice(states, max(0, len(states) - MAX_LIVE_SERIES))):
            if key not in changed:
                del states[key]

    async def forget(self) -> None:
        """Partitions revoked: whoever owns a partition next restores from the table, so must we."""
        await self.save_changed()
        self.tw.suite.unwatch_all()  # the series come back counted as their windows come (Detector.watch)
        self.states.clear()
        self.progress.clear()
        self.waiting.clear()
        self.released.clear()

    async def take(self, message: Any) -> None:
        """One message of the series topic (``streams.transport.Delivered``): the summaries of one
        partition from one flush."""
        partition = message.partition
        offset = message.offset
        behind = self.progress.setdefault(partition, {})
        until = watermark_of(behind)
        for index, item in enumerate(orjson.loads(message.value)):
            state = await self.judge(BucketSummary.from_dict(item, owned=True), until, (offset, index))
            if state.waiting:
                self.waiting.setdefault(partition, set()).add(state.series_key)
        report = message.headers.get(PROGRESS_HEADER)
        if report:  # it covers the summaries sent with it, so it applies after them
            behind.update(orjson.loads(report))
            await self.release(partition, behind)

    async def judge(self, summary: BucketSummary, until: float, position: tuple[int, int]) -> SeriesState:
        tw, key = self.tw, summary.series_key
        state = self.states.get(key)
        if state is None:
            state, dropped = tw.suite.load_series(key, tw.series_state.get(key.encode()))
            if dropped:
                log.warning("series %s: its snapshot could not be read (%s); the series relearns", key, dropped)
                tw.metrics.series_snapshots_dropped.inc()
            self.states[key] = state
        if position <= state.position:
            # Read again after a crash between writing this state's snapshot and committing the offset:
            # the snapshot already counts it.
            tw.metrics.series_refolds_skipped.inc()
            return state
        state.position = position
        await self.publish(state, state.add(summary, until), summary.bucket_start)
        return state

    async def release(self, partition: int, behind: dict[str, float | None]) -> None:
        # The sources may have moved on: close the windows that were only waiting for them.
        keys = self.waiting.get(partition)
        until = watermark_of(behind)
        if not keys or until <= self.released.get(partition, -math.inf):
            return
        self.released[partition] = until
        for key in list(keys):
            state = self.states.get(key)
            if state is not None:
                await self.publish(state, state.release(until), state.newest)
            if state is None or not state.waiting:
                keys.discard(key)

    async def publish(self, state: SeriesState, findings: list, now: float) -> None:
        key = state.series_key
        self.changed.add(key)
        for finding in findings:
            await self.tw.send_finding(finding)
        if state.quiet_for(now, self.resolve_after, findings):
            await self.tw.send_command("clear", key, time=now)


def register(tw: "Tracewatch") -> None:
    app = tw.app
    series_judge = SeriesJudge(tw)
    tw.series_states = series_judge.states  # the console plots a fired series' history (streams.console)

    @app.task
    async def _changelog_producer() -> None:
        await series_judge.writer.run()

    app.before_commit.append(series_judge.save_changed)

    @app.on_partitions_revoked.connect
    async def _forget(sender: object, revoked: object, **kwargs: object) -> None:
        await series_judge.forget()

    @app.agent(tw.series, name="tracewatch.series")
    async def series_agent(stream):  # noqa: ANN001 - Faust stream
        async for message in app.in_order(stream):
            await series_judge.take(message)
