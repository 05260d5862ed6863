"""The bucket summary: the pre-aggregate of one series over one event-time bucket.

Detectors fold events into summaries (``Detector.fold``), the ingest agent ships them to the series
agent, and ``SeriesState`` merges them into windows that the detector judges.

>>> s = BucketSummary("cost_spike|model=m", 60.0)
>>> s.n, s.total = 2, 0.5
>>> t = BucketSummary("cost_spike|model=m", 60.0)
>>> t.n, t.total = 1, 0.25
>>> s.merge(t)
>>> (s.n, s.total)
(3, 0.75)
>>> BucketSummary.from_bytes(s.to_bytes()) == s
True
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import orjson

MAX_EXAMPLES = 5
#: shared read-only empty containers: a summary allocates a dict or list only when it writes one
EMPTY: Any = MappingProxyType({})
NO_EXAMPLES: Any = ()


class BucketSummary:
    """The pre-aggregate of one series over one event-time bucket (or, merged, over a window).

    ``series_key`` is ``"<detector name>|<series>"``, the ``Finding.incident_key`` of that series.
    Which counters a detector fills is its own choice (see each detector's ``fold``):
    ``n`` events, ``total`` / ``aux`` sums, ``bad`` count, ``counts`` by reason, a sparse histogram
    ``hist``, per-version ``[n, bad, first time]`` in ``versions``, and up to five ``examples`` as
    ``[rank, trace_id]`` (the highest rank is kept).
    """

    __slots__ = ("series_key", "bucket_start", "n", "total", "aux", "bad", "counts", "hist",
                 "versions", "examples", "target", "t_first", "t_last", "_floor")

    def __init__(self, series_key: str, bucket_start: float) -> None:
        self.series_key = series_key
        self.bucket_start = bucket_start
        self.n = 0
        self.total = 0.0
        self.aux = 0.0
        self.bad = 0
        # read-only empties until first written (most summaries use one or two of these)
        self.counts: dict[str, int] = EMPTY  # type: ignore[assignment]
        self.hist: dict[int, int] = EMPTY  # type: ignore[assignment]
        self.versions: dict[str, list] = EMPTY  # type: ignore[assignment]
        self.examples: list[list] = NO_EXAMPLES  # type: ignore[assignment]
        self.target: dict[str, str] = EMPTY  # type: ignore[assignment]
        self.t_first = math.inf
        self.t_last = -math.inf
        self._floor = -math.inf  # lowest kept rank once five examples are kept, else -inf

    @classmethod
    def make(cls, series_key: str, bucket_start: float, **fields: Any) -> "BucketSummary":
        """A summary with the given counters set: handy for examples and tests."""
        s = cls(series_key, bucket_start)
        for k, v in fields.items():
            setattr(s, k, v)
        return s

    # ---- per event (hot path) ------------------------------------------------------------------

    def see(self, t: float, trace_id: str, rank: float) -> None:
        """Record event time and keep ``trace_id`` if it is among the five highest ranks."""
        if t > self.t_last:
            self.t_last = t
        if t < self.t_first:
            self.t_first = t
        if rank > self._floor:
            self._keep(rank, trace_id)

    def _keep(self, rank: float, trace_id: str) -> None:
        ex = self.examples
        if ex is NO_EXAMPLES:
            ex = self.examples = []
        if len(ex) < MAX_EXAMPLES:
            ex.append([rank, trace_id])
            if len(ex) == MAX_EXAMPLES:
                self._floor = min(e[0] for e in ex)
            return
        floor = self._floor
        for e in ex:
            if e[0] == floor:  # replace the first of the lowest: deterministic
                e[0], e[1] = rank, trace_id
                break
        self._floor = min(e[0] for e in ex)

    def writable(self, name: str) -> dict:
        """The ``counts`` / ``hist`` / ``versions`` / ``target`` dict, allocated on first write."""
        d = getattr(self, name)
        if d is EMPTY:
            d = {}
            setattr(self, name, d)
        return d

    # ---- merging and the wire form --------------------------------------------------------------

    def merge(self, other: "BucketSummary") -> None:
        """Add ``other`` into this summary (same series; any bucket inside this one's window)."""
        self.n += other.n
        self.total += other.total
        self.aux += other.aux
        self.bad += other.bad
        if other.counts:
            c = self.counts if self.counts is not EMPTY else self.writable("counts")
            for k, v in other.counts.items():
                c[k] = c.get(k, 0) + v
        if other.hist:
            h = self.hist if self.hist is not EMPTY else self.writable("hist")
            for k, v in other.hist.items():
                h[k] = h.get(k, 0) + v
        for k, theirs in other.versions.items():  # [n, bad, first event time]
            mine = self.versions.get(k)
            if mine is None:
                self.writable("versions")[k] = list(theirs)
            else:
                mine[0] += theirs[0]
                mine[1] += theirs[1]
                mine[2] = min(mine[2], theirs[2])
        for rank, trace_id in other.examples:
            if rank > self._floor:
                self._keep(rank, trace_id)
        if other.target:
            target = self.writable("target")
            for k, v in other.target.items():
                target.setdefault(k, v)
        if other.t_first < self.t_first:
            self.t_first = other.t_first
        if other.t_last > self.t_last:
            self.t_last = other.t_last

    def copy(self, bucket_start: float | None = None) -> "BucketSummary":
        c = BucketSummary(self.series_key, self.bucket_start if bucket_start is None else bucket_start)
        c.merge(self)
        return c

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"k": self.series_key, "b": self.bucket_start, "n": self.n}
        if self.total:
            d["s"] = self.total
        if self.aux:
            d["a"] = self.aux
        if self.bad:
            d["x"] = self.bad
        if self.counts:
            d["c"] = self.counts
        if self.hist:
            d["h"] = {str(k): v for k, v in self.hist.items()}
        if self.versions:
            d["v"] = self.versions
        if self.examples:
            d["e"] = self.examples
        if self.target:
            d["g"] = self.target
        if math.isfinite(self.t_first):
            d["t"] = [self.t_first, self.t_last]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, owned: bool = False) -> "BucketSummary":
        """The summary ``to_dict`` describes. ``owned``: ``d`` was just decoded and its containers may
        be taken over rather than copied (the series agent's hot path)."""
        s = cls(d["k"], float(d["b"]))
        s.n = d.get("n", 0)
        s.total = d.get("s", 0.0)
        s.aux = d.get("a", 0.0)
        s.bad = d.get("x", 0)
        if "c" in d:
            s.counts = d["c"] if owned else dict(d["c"])
        if "h" in d:
            s.hist = {int(k): v for k, v in d["h"].items()}
        if "v" in d:
            s.versions = d["v"] if owned else {k: list(v) for k, v in d["v"].items()}
        if "e" in d:
            examples = d["e"]
            if owned and len(examples) < MAX_EXAMPLES:
                s.examples = examples
            else:
                for rank, trace_id in examples:
                    if rank > s._floor:
                        s._keep(rank, trace_id)
        if "g" in d:
            s.target = d["g"] if owned else dict(d["g"])
        if "t" in d:
            s.t_first, s.t_last = d["t"]
        return s

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, b: bytes) -> "BucketSummary":
        return cls.from_dict(orjson.loads(b), owned=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BucketSummary) and self.to_dict() == other.to_dict()

    def __reduce__(self) -> tuple:  # pickle and deepcopy through the wire form
        return (BucketSummary.from_dict, (self.to_dict(),))

    def __repr__(self) -> str:
        return f"BucketSummary({self.series_key!r}, {self.bucket_start}, n={self.n}, total={self.total:g})"

    @property
    def example_ids(self) -> list[str]:
        return [tid for _, tid in sorted(self.examples, key=lambda e: -e[0])][:MAX_EXAMPLES]
