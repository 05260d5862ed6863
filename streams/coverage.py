"""What each series partition has received from each source partition: the ingest's exactly-once bookkeeping.

The ingest agent folds events into per-series bucket summaries and sends them, per flush, one message per
partition ``q`` of ``tracewatch.series``. Every such message carries, per source partition ``p`` the sender
reads, a ``Cover``: which events of ``p`` have had their summaries for the series of ``q`` sent, in this
message or an earlier one to ``q``. It is written atomically with the summaries (same record), so after a
crash the latest cover on ``q`` is exactly what ``q`` received. A worker that takes ``p`` over reads
``p`` from its committed offset and, for each event and each series it touches, folds it only if the cover
of that series' partition says it was not sent (``docs/exactly-once.md``).

A ``Cover`` is a threshold function: the event at ``offset`` of bucket ``b`` was sent to series ``key``
iff ``offset < threshold(key, b)``. By default the threshold is ``done + 1`` (every event read was sent);
buckets still pending at the sender (held back while catching up, or in a later part of a split flush)
have their own threshold: the first offset of ``p`` folded into that bucket's pending summaries. Within
one series and bucket the offsets sent are always a prefix, so one threshold per (series, bucket) is
exact. A bucket's threshold may depend on the series key, piecewise over key ranges (a flush split into
several messages between two keys of one bucket): ``[thr0, k1, thr1, ..., kn, thrn]`` means keys ``<= k1``
have ``thr0``, keys in ``(k1, k2]`` have ``thr1``, ..., keys ``> kn`` have ``thrn``.

>>> c = part_cover(done=99, held={10.0: 90}, released={5.0: 80}, cut=(5.0, "b|x"))
>>> c.threshold("a|x", 5.0), c.threshold("c|x", 5.0), c.threshold("a|x", 10.0), c.threshold("a|x", 0.0)
(100, 80, 90, 100)
>>> c.lowest()
80
>>> old = Cover(120, {10.0: [95]})  # what was sent before a crash: more than this worker has read yet
>>> both = c.combine(old)
>>> both.done, both.threshold("a|x", 10.0), both.threshold("c|x", 5.0), both.threshold("a|x", 0.0)
(120, 95, 121, 121)
>>> Cover.from_json(both.to_json()) == both
True
"""

from __future__ import annotations

import math
from typing import Any, Iterable

COVERED_HEADER = "tracewatch.covered"


class Cover:
    """Which events of one source partition one series partition has received (see the module)."""

    __slots__ = ("done", "held")

    def __init__(self, done: int = -1, held: dict[float, list] | None = None) -> None:
        self.done = done  # the last offset read: events after it were not sent
        self.held = held if held is not None else {}  # bucket -> [thr0, k1, thr1, ...]

    def threshold(self, key: str, bucket: float) -> int:
        pieces = self.held.get(bucket)
        if pieces is None:
            return self.done + 1
        i, n = 0, len(pieces)
        while i + 1 < n and key > pieces[i + 1]:
            i += 2
        return pieces[i]

    def sent(self, offset: int, key: str, bucket: float) -> bool:
        return offset < self.threshold(key, bucket)

    def lowest(self) -> int:
        """The first offset that was not sent to every series: reading from here misses nothing."""
        low = self.done + 1
        for pieces in self.held.values():
            for thr in pieces[::2]:
                if thr < low:
                    low = thr
        return low

    def highest(self) -> int:
        """No event at or after this offset was sent to any series."""
        high = self.done + 1
        for pieces in self.held.values():
            for thr in pieces[::2]:
                if thr > high:
                    high = thr
        return high

    def combine(self, other: "Cover | None") -> "Cover":
        """Sent by either: the pointwise maximum of the two thresholds."""
        if other is None:
            return self
        done = max(self.done, other.done)
        held: dict[float, list] = {}
        for bucket in set(self.held) | set(other.held):
            a = self.held.get(bucket, [self.done + 1])
            b = other.held.get(bucket, [other.done + 1])
            pieces = _pointwise_max(a, b)
            if pieces != [done + 1]:
                held[bucket] = pieces
        return Cover(done, held)

    def to_json(self) -> list:
        return [self.done, [[bucket, *pieces] for bucket, pieces in sorted(self.held.items())]]

    @classmethod
    def from_json(cls, value: Any) -> "Cover":
        done, entries = value
        return cls(int(done), {float(e[0]): list(e[1:]) for e in entries})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cover) and (self.done, self.held) == (other.done, other.held)

    def __repr__(self) -> str:
        return f"Cover(done={self.done}, held={self.held!r})"


def _at(pieces: list, key: str) -> int:
    i, n = 0, len(pieces)
    while i + 1 < n and key > pieces[i + 1]:
        i += 2
    return pieces[i]


def _pointwise_max(a: list, b: list) -> list:
    keys = sorted(set(a[1::2]) | set(b[1::2]))
    values = [max(_at(a, k), _at(b, k)) for k in keys]  # the segment ending at each breakpoint
    values.append(max(a[-1], b[-1]))  # keys after the last breakpoint
    out = [values[0]]
    for k, v in zip(keys, values[1:]):
        if v != out[-1]:  # equal neighbours: the breakpoint between them goes
            out += [k, v]
    return out


def part_cover(done: int, held: dict[float, int], released: dict[float, int],
               cut: tuple[float, str] | None) -> Cover:
    """The cover after a flush message: ``done`` the last offset read, ``held`` the first offset of each
    bucket still pending after the flush, ``released`` that of each bucket the flush sends. ``cut``: the
    (bucket, series key) of the last summary in this message when later messages of the same flush carry
    the rest (in (bucket, key) order); ``None`` when this message completes the flush."""
    entries = {bucket: [first] for bucket, first in held.items() if first <= done}
    if cut is not None:
        cut_bucket, cut_key = cut
        for bucket, first in released.items():
            if first > done:
                continue
            if bucket > cut_bucket:
                entries[bucket] = [first]
            elif bucket == cut_bucket:
                entries[bucket] = [done + 1, cut_key, first]
    return Cover(done, entries)


def encode(covers: dict[str, Cover]) -> dict[str, list]:
    return {name: cover.to_json() for name, cover in covers.items()}


def decode(value: Any) -> dict[str, Cover]:
    return {name: Cover.from_json(v) for name, v in value.items()}


def lowest(covers: Iterable[Cover]) -> float:
    return min((c.lowest() for c in covers), default=math.inf)
