"""The detector suite: per-event observation, pre-aggregation, per-series state, and ``replay``.

The service and ``tracewatch replay`` run the same code path:

1. ``DetectorSuite.observe(event)`` — per event: per-event findings now (prompt injection), and the
   event folded into one ``BucketSummary`` per (detector, series, bucket);
2. ``DetectorSuite.flush()`` — the summaries since the last flush (the service sends them, keyed by
   ``series_key``, to a repartition topic);
3. ``SeriesState.add(summary)`` / ``SeriesState.advance(watermark)`` — one state per series key judges
   windows in event time; ``snapshot()`` / ``DetectorSuite.restore_series`` carry learned baselines
   across restarts.

Examples
--------
>>> from traces.events import TraceEvent
>>> from detectors.config import build_suite, enable, load_config
>>> suite = build_suite(enable(load_config(), "runaway_session"))  # the shipped config, its opt-in loop limit on
>>> events = [TraceEvent(trace_id=f"t{i}", timestamp=1_700_000_000 + i, model="m", session_id="s1",
...                      input_tokens=100, output_tokens=20) for i in range(200)]
>>> findings = list(replay(events, suite))
>>> [(f.detector, f.series, f.severity) for f in findings][:1]
[('runaway_session', 'session_id=s1', 'warning')]
"""

from __future__ import annotations

import heapq
import math
from operator import attrgetter
from typing import Any, Iterable, Iterator

import orjson

from detectors.base import BucketSummary, Detector
from detectors.finding import Finding, Target
from detectors.history import RecentPoints, SeriesHistory, point_of

#: how many events ``replay`` observes at most between two flushes
REPLAY_FLUSH_EVERY = 256
_bucket_start = attrgetter("bucket_start")
#: open windows per series at most, however far behind a source is (bounds memory while catching up)
MAX_OPEN_WINDOWS = 64
#: a series' snapshot at most, fired or not (issue 10: ≤ 2 KB per series): it is written at every offset
#: commit for every series that changed, so a fired series' plot history (``detectors.history``) gets
#: only the room its learned state leaves, newest points first (35-100 one-minute windows in the bench,
#: docs/console.md)
SNAPSHOT_BYTES = 2048


class SeriesState:
    """All stateful judgement of one series key: the open windows and the detector's learned state.

    ``add`` takes ownership of the summary and merges it into its window; the newest open window may
    fire early on a partial window that is already decisive. Like ``replay``'s watermark, a window
    closes once the series has seen an event ``lateness_s`` past its end (``advance``: once a given
    watermark passes its end), so summaries that arrive a little out of order — from another ingest
    worker, or across a flush — still count. Summaries for windows already closed are counted in
    ``late`` and dropped. ``quiet_for(t, seconds)`` tells, once, that a series which fired has been
    quiet for that long.

    >>> from detectors.cost import CostSpike
    >>> st = SeriesState("c|model=m", CostSpike("c", "model", window_s=60), lateness_s=5)
    >>> _ = st.add(BucketSummary.make("c|model=m", 60.0, n=1, total=1.0, t_last=61.0))
    >>> _ = st.add(BucketSummary.make("c|model=m", 120.0, n=1, total=1.0, t_last=121.0))
    >>> _ = st.add(BucketSummary.make("c|model=m", 65.0, n=2, total=2.0, t_last=66.0))  # out of order
    >>> st.open_windows, st.late
    ([(60.0, 3), (120.0, 1)], 0)
    >>> _ = st.add(BucketSummary.make("c|model=m", 125.0, n=1, total=1.0, t_last=126.0))
    >>> st.open_windows
    [(120.0, 2)]
    """

    __slots__ = ("series_key", "detector", "lateness_s", "_open", "_closed_until", "_newest", "late",
                 "fired_at", "cleared", "position", "history", "recent")

    def __init__(self, series_key: str, detector: Detector, lateness_s: float = 0.0,
                 recent: RecentPoints | None = None) -> None:
        self.series_key = series_key
        self.detector = detector
        self.lateness_s = lateness_s
        self._open: list[BucketSummary] = []  # open windows, oldest first
        self._closed_until = -math.inf
        self._newest = -math.inf  # latest event time seen in this series
        self.late = 0
        self.fired_at: float | None = None  # event time of the latest finding
        self.cleared = False  # quiet_for already answered True since that finding
        # Where the last summary folded in came from (the service: its message's offset in the series
        # topic's partition and its index in that message); (-1, -1) when unknown. Kept in the snapshot,
        # so that a summary read again after a crash (at or before this) is not folded twice.
        self.position: tuple[int, int] = (-1, -1)
        # Points of closed windows, for the console's plot: only once the series has fired
        # (``detectors.history``), so a series that never fires costs nothing here.
        self.history: SeriesHistory | None = None
        self.recent = recent  # the suite's pool of points of busy series before they fire (shared)

    @property
    def deadline(self) -> float | None:
        """Event time at which the oldest open window closes (``None``: no open window)."""
        return self._open[0].bucket_start + self.detector.window_s if self._open else None

    @property
    def open_windows(self) -> list[tuple[float, int]]:
        """``(window start, events)`` of each open window, oldest first."""
        return [(w.bucket_start, w.n) for w in self._open]

    def add(self, summary: BucketSummary, until: float = math.inf) -> list[Finding]:
        """Merge ``summary`` into its window; windows close only up to ``until`` (event time), the point
        up to which every source has sent its summaries (but at most ``MAX_OPEN_WINDOWS`` stay open)."""
        d = self.detector
        start = d.window_start(summary.bucket_start)
        newest = summary.t_last if summary.t_last > summary.bucket_start else summary.bucket_start
        if newest > self._newest:
            self._newest = newest
        found = self.release(until)
        if start < self._closed_until:
            self.late += 1
            return found
        windows = self._open
        i = len(windows)
        while i and windows[i - 1].bucket_start > start:
            i -= 1
        if i and windows[i - 1].bucket_start == start:
            window = windows[i - 1]
            window.merge(summary)
        else:  # the state takes the summary over (it was built or decoded for it)
            summary.bucket_start = start
            summary.series_key = self.series_key
            window = summary
            windows.insert(i, window)
        # Only the newest window is judged early: an older one is complete but for stragglers.
        if d.early and window is windows[-1]:
            f = d.update(window, partial=True)
            if f is not None:
                found.append(f)
                if self.history is None:
                    self.history = self._start_history()
        return found

    def _start_history(self) -> SeriesHistory:
        """The series fired for the first time: its history begins with what the pool kept of it."""
        kept = self.recent.take(self.series_key) if self.recent is not None else None
        return kept if kept is not None else SeriesHistory()

    def release(self, until: float = math.inf) -> list[Finding]:
        """Close the windows the series' own watermark (its newest event less ``lateness_s``) has
        passed, but only up to ``until``."""
        found = self.advance(min(self._newest - self.lateness_s, until))
        if len(self._open) >= MAX_OPEN_WINDOWS:  # a source far behind: judge the oldest without it
            found += self.advance(self._open[-MAX_OPEN_WINDOWS + 1].bucket_start)
        return found

    @property
    def newest(self) -> float:
        """The latest event time seen in this series."""
        return self._newest

    @property
    def waiting(self) -> bool:
        """Whether a window the series' own watermark has passed is kept open for a source behind."""
        deadline = self.deadline
        return deadline is not None and deadline <= self._newest - self.lateness_s

    def advance(self, watermark: float) -> list[Finding]:
        """Close the windows that end at or before ``watermark``, oldest first."""
        found: list[Finding] = []
        window_s = self.detector.window_s
        while self._open and self._open[0].bucket_start + window_s <= watermark:
            window = self._open.pop(0)
            self._closed_until = window.bucket_start + window_s
            history, recent = self.history, self.recent
            busy = history is None and recent is not None and window.n >= recent.min_events
            point = point_of(self.detector, window) if history is not None or busy else None  # as judged
            if self.detector.spreads_budget:  # counted before it judges: its share of the budget
                type(self.detector).watch(self.series_key, window.bucket_start)
            f = self.detector.update(window, partial=False)
            if f is not None:
                found.append(f)
                if history is None:  # its first finding
                    history = self.history = self._start_history()
                    if point is None:  # not judged as a busy window: the evidence says what was seen
                        after = point_of(self.detector, window)
                        point = (f.evidence.observed if f.evidence.observed is not None else after[0],
                                 f.evidence.baseline if f.evidence.baseline is not None else after[1], *after[2:])
            if point is not None:
                if history is not None:
                    history.record(window.bucket_start, point)
                elif busy:
                    recent.record(self.series_key, window.bucket_start, point)
        return found

    def quiet_for(self, t: float, seconds: float, findings: list[Finding]) -> bool:
        """Note this update's ``findings``; ``True`` the first time the series, having fired, has been
        quiet for ``seconds`` of event time at ``t`` (its incident may then be cleared)."""
        if findings:
            self.fired_at, self.cleared = max(f.time for f in findings), False
            return False
        if self.fired_at is None or self.cleared or t - self.fired_at < seconds:
            return False
        self.cleared = True
        return True

    # ---- snapshot ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = {"k": self.series_key, "kind": self.detector.kind,
             "o": [w.to_dict() for w in self._open] or None,
             "c": self._closed_until if math.isfinite(self._closed_until) else None,
             "t": self._newest if math.isfinite(self._newest) else None,
             "late": self.late, "s": self.detector.state(), "f": self.fired_at, "q": self.cleared,
             "p": list(self.position)}
        if self.history is not None:  # the history fills what is left of SNAPSHOT_BYTES (`,"h":` is 5)
            d["h"] = self.history.pack(SNAPSHOT_BYTES - len(orjson.dumps(d)) - 5, self.detector.window_s)
        return d

    def snapshot(self) -> bytes:
        return orjson.dumps(self.to_dict())

    def load(self, d: dict[str, Any]) -> "SeriesState":
        if d.get("kind") == self.detector.kind:  # a detector whose kind changed starts afresh
            self.detector.load_state(d["s"])
            windows = d["o"] or []  # one window (a dict) in snapshots of earlier versions
            self._open = [BucketSummary.from_dict(w, owned=True)
                          for w in ([windows] if isinstance(windows, dict) else windows)]
            self._closed_until = -math.inf if d["c"] is None else d["c"]
            newest = d.get("t")
            self._newest = -math.inf if newest is None else newest
            self.late = d.get("late", 0)
            self.fired_at, self.cleared = d.get("f"), d.get("q", False)
            self.history = SeriesHistory.unpack(d["h"]) if d.get("h") else None
        position = d.get("p")  # snapshots of earlier versions: unknown
        self.position = (position[0], position[1]) if position else (-1, -1)
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SeriesState) and other.to_dict() == self.to_dict()

    def __repr__(self) -> str:
        return f"SeriesState({self.series_key!r}, open={self.open_windows!r})"


class DetectorSuite:
    """The configured detectors plus the pre-aggregator that feeds them."""

    def __init__(self, detectors: list[Detector], *, bucket_s: float = 5.0, lateness_s: float | None = None,
                 injection: Any = None) -> None:
        self.bucket_s = float(bucket_s)
        self.lateness_s = self.bucket_s if lateness_s is None else float(lateness_s)
        self.detectors = {d.name: d for d in detectors}
        self.injection = injection
        groups: dict[str, list[Detector]] = {}
        self._rate: list[Detector] = []  # fed only with events that the injection detector flagged
        for d in detectors:
            if d.kind == "injection":
                self._rate.append(d)
            else:
                groups.setdefault(d.series, []).append(d)
        self._groups = [(ds[0]._spec, ds) for ds in groups.values()]
        target_names = set(Target.model_fields)
        self._target_fields = {
            d.name: tuple(dict.fromkeys([f for f in d._spec.fields if f in target_names] + list(d.target_fields)))
            for d in detectors}
        self._pending: dict[tuple[Any, str, float], list[BucketSummary]] = {}
        self.recent = RecentPoints()  # points of busy series before they fire, for the console's plot

    # ---- per event ---------------------------------------------------------------------------------

    def observe(self, event: Any, skip: Any = None) -> list[Finding]:
        """Fold ``event`` into the pending summaries; the per-event findings.

        ``skip``: a function of a summary's series key telling that this event was already counted in
        that series (the service re-reading events after a crash); such series are left alone.
        """
        if skip is not None:
            return self._observe_skipping(event, skip)
        t = event.timestamp.timestamp()
        bucket = math.floor(t / self.bucket_s) * self.bucket_s
        pending = self._pending
        for gi, (spec, detectors) in enumerate(self._groups):
            series = spec._key(event)
            if series is None:
                continue
            k = (gi, series, bucket)
            summaries = pending.get(k)
            if summaries is None:
                summaries = pending[k] = [self._summary(d, series, bucket, event) for d in detectors]
            for d, s in zip(detectors, summaries):
                d.fold(s, event, t)
        if self.injection is None:
            return []
        finding = self.injection.update(event)
        if finding is None:
            return []
        for d in self._rate:
            series = d._spec.key(event)
            if series is not None:
                k = (d.name, series, bucket)
                summaries = pending.get(k)
                if summaries is None:
                    summaries = pending[k] = [self._summary(d, series, bucket, event)]
                d.fold(summaries[0], event, t)
        return [finding]

    def _observe_skipping(self, event: Any, skip: Any) -> list[Finding]:
        """``observe`` for an event some of whose series already counted it (kept apart from the hot path)."""
        t = event.timestamp.timestamp()
        bucket = math.floor(t / self.bucket_s) * self.bucket_s
        pending = self._pending
        for gi, (spec, detectors) in enumerate(self._groups):
            series = spec._key(event)
            if series is None:
                continue
            k = (gi, series, bucket)
            summaries = pending.get(k)
            if summaries is None:
                summaries = [self._summary(d, series, bucket, event) for d in detectors]
                if all(skip(s.series_key) for s in summaries):
                    continue
                pending[k] = summaries
            for d, s in zip(detectors, summaries):
                if not skip(s.series_key):
                    d.fold(s, event, t)
        if self.injection is None:
            return []
        finding = self.injection.update(event)
        if finding is None:
            return []
        for d in self._rate:
            series = d._spec.key(event)
            if series is not None:
                k = (d.name, series, bucket)
                summaries = pending.get(k)
                if summaries is None:
                    summary = self._summary(d, series, bucket, event)
                    if skip(summary.series_key):
                        continue
                    summaries = pending[k] = [summary]
                if not skip(summaries[0].series_key):
                    d.fold(summaries[0], event, t)
        return [finding]

    def _summary(self, d: Detector, series: str, bucket: float, event: Any) -> BucketSummary:
        s = BucketSummary(f"{d.name}|{series}", bucket)
        target = {}
        for name in self._target_fields[d.name]:
            value = getattr(event, name)
            if value is not None:
                target[name] = value
        if target:
            s.target = target
        return s

    def flush(self, until: float = math.inf) -> list[BucketSummary]:
        """The summaries folded since the last flush, one per (series key, bucket), oldest bucket first.

        Only buckets starting at or before ``until`` go out; later ones stay pending (and keep folding)
        until a flush lets them go. The service holds back buckets its slowest source partition has not
        reached yet, so that a series receives its summaries in event-time order while catching up.
        """
        pending = self._pending
        if until == math.inf:
            out = [s for summaries in pending.values() for s in summaries if s.n]
            self._pending = {}
        else:
            out = []
            held: dict[tuple[Any, str, float], list[BucketSummary]] = {}
            for k, summaries in pending.items():
                if k[2] <= until:
                    out += [s for s in summaries if s.n]
                else:
                    held[k] = summaries
            self._pending = held
        out.sort(key=_bucket_start)
        return out

    @property
    def pending(self) -> int:
        """How many (series, bucket) pre-aggregates are waiting for the next flush."""
        return len(self._pending)

    # ---- per series --------------------------------------------------------------------------------

    def detector_for(self, series_key: str) -> Detector:
        name = series_key.split("|", 1)[0]
        try:
            return self.detectors[name]
        except KeyError:
            raise KeyError(f"no detector named {name!r} in this suite (series key {series_key!r})") from None

    def series_state(self, series_key: str) -> SeriesState:
        return SeriesState(series_key, self.detector_for(series_key).clone(), self.lateness_s, self.recent)

    def unwatch_all(self) -> None:
        """This process no longer watches any series (a worker whose partitions were revoked): the detectors
        count again the series whose windows come to them (``Detector.watch``)."""
        for d in self.detectors.values():
            type(d).unwatch_all()

    def restore_series(self, blob: bytes) -> SeriesState:
        d = orjson.loads(blob)
        return self._watched(self.series_state(d["k"]).load(d))

    @staticmethod
    def _watched(state: SeriesState) -> SeriesState:
        """A restored series counts among those its detector watches from its restore, as of its latest event
        (a worker restarted or handed partitions judges their first windows with the budget spread over them)."""
        if state.detector.spreads_budget and state.newest > -math.inf:
            type(state.detector).watch(state.series_key, state.newest)
        return state

    def load_series(self, series_key: str, blob: bytes | None) -> tuple[SeriesState, str | None]:
        """The series' state from its snapshot (``None``: a new series); when this version cannot read the
        snapshot (damaged, or written by a version whose state it does not know), a new state and the
        reason: the series relearns rather than stop the agent that judges it.

        >>> from detectors.cost import CostSpike
        >>> suite = DetectorSuite([CostSpike("cost_spike")])
        >>> state, reason = suite.load_series("cost_spike|model=m", b'{"k": "cost_spike|model=m", "s"')
        >>> reason.split(":")[0], state.open_windows
        ('JSONDecodeError', [])
        >>> suite.load_series("cost_spike|model=m", state.snapshot())[1] is None
        True
        """
        state = self.series_state(series_key)
        if not blob:
            return state, None
        try:
            return self._watched(state.load(orjson.loads(blob))), None
        except Exception as exc:  # noqa: BLE001 - whatever this version cannot read
            # a fresh state: the failed load may have changed the first
            return self.series_state(series_key), f"{type(exc).__name__}: {exc}"

    def __repr__(self) -> str:
        return f"DetectorSuite(bucket_s={self.bucket_s}, detectors={list(self.detectors)})"


def replay(events: Iterable[Any], suite: DetectorSuite, *, flush_every: int = REPLAY_FLUSH_EVERY,
           states: dict[str, SeriesState] | None = None) -> Iterator[Finding]:
    """Run ``suite`` over ``events`` in their order, on event time only; deterministic.

    Summaries are flushed when event time enters a new bucket or after ``flush_every`` events; the
    watermark is the latest event time minus ``suite.lateness_s``. At the end every open window closes.
    Per-event findings come out at once; series findings of one flush are ordered by event time.
    Pass ``states`` (a dict) to keep the series states, e.g. to measure or snapshot them afterwards.
    """
    states = {} if states is None else states
    deadlines: list[tuple[float, str]] = []
    queued: dict[str, float] = {}

    def drain(watermark: float) -> list[Finding]:
        found: list[Finding] = []
        for s in suite.flush():
            st = states.get(s.series_key)
            if st is None:
                st = states[s.series_key] = suite.series_state(s.series_key)
            found += st.add(s)
            dl = st.deadline
            if dl is not None and queued.get(s.series_key) != dl:
                queued[s.series_key] = dl
                heapq.heappush(deadlines, (dl, s.series_key))
        while deadlines and deadlines[0][0] <= watermark:
            dl, key = heapq.heappop(deadlines)
            if queued.get(key) == dl:
                del queued[key]
                found += states[key].advance(watermark)
        found.sort(key=lambda f: (f.time, f.detector, f.series))
        return found

    latest, bucket, count = -math.inf, None, 0
    for event in events:
        yield from suite.observe(event)
        t = event.timestamp.timestamp()
        latest = max(latest, t)
        b = math.floor(t / suite.bucket_s)
        count += 1
        if b != bucket or count >= flush_every:
            bucket, count = b, 0
            yield from drain(latest - suite.lateness_s)
    yield from drain(math.inf)
