"""Series: stateful detectors per series key, fed with pre-aggregated bucket summaries.

The ingest agent pre-aggregates events per series and short event-time bucket (``DetectorSuite.flush``)
and sends them here, one message per partition per flush holding the summaries whose series keys hash
to that partition, so that one series is always judged by one worker and the repartition traffic grows
with the number of series, not of events. Each series' detector state is kept
as a snapshot in a table whose changelog lets another worker take the partition over with the learned
baselines. When a series that produced findings has been quiet for the incident policy's resolve time
(in event time), a ``clear`` goes to the incident agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from detectors.suite import BucketSummary

if TYPE_CHECKING:
    from streams.app import Tracewatch


def register(tw: "Tracewatch") -> None:
    app = tw.app
    states: dict[bytes, object] = {}  # live SeriesState objects for the partitions this worker owns
    resolve_after = tw.incident_policy.resolve_after_s

    @app.on_partitions_revoked.connect
    async def _forget(sender: object, revoked: object, **kwargs: object) -> None:
        states.clear()  # whoever owns a partition next restores from the table, so must we

    @app.agent(tw.series, name="tracewatch.series")
    async def series_agent(stream):  # noqa: ANN001 - Faust stream
        async for raw in stream:
            for item in orjson.loads(raw):  # the summaries of this partition from one flush
                await judge(BucketSummary.from_dict(item))

    async def judge(summary: BucketSummary) -> None:
        key = summary.series_key.encode()
        state = states.get(key)
        if state is None:
            blob = tw.series_state.get(key)
            state = tw.suite.restore_series(blob) if blob else tw.suite.series_state(key.decode())
            states[key] = state
        findings = state.add(summary)
        tw.series_state[key] = state.snapshot()
        for finding in findings:
            await tw.send_finding(finding)
        mark = orjson.loads(tw.series_marks.get(key, b"{}"))
        if findings:
            tw.series_marks[key] = orjson.dumps({"last": max(f.time for f in findings)})
        elif "last" in mark and not mark.get("cleared") and summary.bucket_start - mark["last"] >= resolve_after:
            await tw.send_command("clear", key.decode(), time=summary.bucket_start)
            tw.series_marks[key] = orjson.dumps({**mark, "cleared": True})
