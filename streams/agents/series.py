"""Series: stateful detectors per series key, fed with pre-aggregated bucket summaries.

The ingest agent pre-aggregates events per series and short event-time bucket (``DetectorSuite.flush``)
and sends them here, one message per partition per flush holding the summaries whose series keys hash
to that partition, so that one series is always judged by one worker and the repartition traffic grows
with the number of series, not of events. Each series' state (learned baseline, open window, when it
last fired) is kept as a snapshot in a table whose changelog lets another worker take the partition over
with the learned baselines. Snapshots are written right before each offset commit, once per series that
changed since the last one, in a few record batches (``streams.changelog``), not on every summary.
When a series that produced findings has been quiet for the incident policy's resolve time (in event
time), a ``clear`` goes to the incident agent.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import orjson

from detectors.suite import BucketSummary, SeriesState
from streams.changelog import ChangelogWriter

if TYPE_CHECKING:
    from streams.app import Tracewatch

MAX_LIVE_SERIES = 200_000  # series states kept decoded in memory; the rest are restored on their next summary


def register(tw: "Tracewatch") -> None:
    app = tw.app
    states: dict[str, SeriesState] = {}  # live states for the partitions this worker owns
    changed: set[str] = set()  # series keys whose snapshot is older than their state
    resolve_after = tw.incident_policy.resolve_after_s
    writer = ChangelogWriter(tw.broker_url, tw.series_state, tw.settings.partitions)

    @app.task
    async def _changelog_producer() -> None:
        await writer.run()

    async def save_changed() -> None:
        # Awaited before each offset commit (transport.App.before_commit): the snapshots written here
        # reflect every summary up to the offsets about to be committed.
        if not changed:
            return
        keys = list(changed)
        changed.clear()
        try:
            await writer.write([(key.encode(), states[key].snapshot()) for key in keys if key in states])
        except BaseException:
            changed.update(keys)
            raise
        # Bound memory: forget the oldest live states (their snapshots are in the table) beyond the cap.
        for key in list(itertools.islice(states, max(0, len(states) - MAX_LIVE_SERIES))):
            if key not in changed:
                del states[key]

    app.before_commit.append(save_changed)

    @app.on_partitions_revoked.connect
    async def _forget(sender: object, revoked: object, **kwargs: object) -> None:
        await save_changed()
        states.clear()  # whoever owns a partition next restores from the table, so must we

    @app.agent(tw.series, name="tracewatch.series")
    async def series_agent(stream):  # noqa: ANN001 - Faust stream
        async for raw in stream:
            for item in orjson.loads(raw):  # the summaries of this partition from one flush
                await judge(BucketSummary.from_dict(item, owned=True))

    async def judge(summary: BucketSummary) -> None:
        key = summary.series_key
        state = states.get(key)
        if state is None:
            blob = tw.series_state.get(key.encode())
            state = tw.suite.restore_series(blob) if blob else tw.suite.series_state(key)
            states[key] = state
        findings = state.add(summary)
        changed.add(key)
        for finding in findings:
            await tw.send_finding(finding)
        if state.quiet_for(summary.bucket_start, resolve_after, findings):
            await tw.send_command("clear", key, time=summary.bucket_start)
