"""The recent history of a series that has fired: what the console plots around an incident.

For each closed window of such a series it keeps one point: the window's start, the value the detector
judged (``observed``), its learned ``baseline``, the band of usual values around it (``low``..``high``,
one learned deviation either side) and the ``threshold`` the value had to reach to fire — all read from
the detector's state *before* it learned the window, as the detector saw it when judging. A series that
never fired keeps nothing (its ``SeriesState.history`` is ``None``), so the memory budget per ordinary
series is unchanged; a fired series keeps at most ``MAX_POINTS`` points (a day of one-minute windows)
and none older than ``MAX_AGE_S`` before its newest, in flat arrays (~28 bytes a point). Its snapshot
carries the newest points that fit the room it is given (``pack``), losslessly: the times as the first
window's start and the number of windows between points, the values as the very float32 numbers kept in
memory, base64 — about 28 bytes of JSON a point instead of ~75 as JSON lists (less where a field is
unknown throughout, like a limit's baseline: it is not written).

Pure: no I/O. ``SeriesState`` feeds it and carries it in its snapshot.

>>> from detectors.cost import CostSpike
>>> from detectors.base import BucketSummary
>>> d = CostSpike("cost_spike", warmup=3, min_volume=1)
>>> for i in range(5):
...     d.learn_one(BucketSummary.make("cost_spike|model=m", i * 60.0, n=5, total=1.0))
>>> h = SeriesHistory()
>>> w = BucketSummary.make("cost_spike|model=m", 300.0, n=5, total=9.0)
>>> h.record(w.bucket_start, point_of(d, w))
>>> p = h.to_dict()
>>> p["t"], p["observed"], p["baseline"]
([300.0], [9.0], [1.0])
>>> p["threshold"][0] >= 3.0      # at least ``ratio`` times the baseline
True
>>> SeriesHistory.from_dict(h.to_dict()) == h
True
>>> for i in range(6, 100):
...     h.record(i * 60.0, (1.0, 1.0, 0.9, 1.1, 3.0))
>>> packed = h.pack(budget=400, step=60.0)
>>> len(orjson.dumps(packed)) <= 400, SeriesHistory.unpack(packed).to_dict()["t"][-1]
(True, 5940.0)
>>> len(SeriesHistory.unpack(packed))     # the newest points that fit
12
"""

from __future__ import annotations

import base64
import math
import sys
from array import array
from collections import OrderedDict
from typing import Any

import orjson

from detectors.base import BucketSummary, Detector

#: a day of one-minute windows
MAX_POINTS = 1440
MAX_AGE_S = 86_400.0
#: what each point holds besides its time, in order
FIELDS = ("observed", "baseline", "low", "high", "threshold")
NAN = float("nan")


class SeriesHistory:
    """Bounded points ``(t, observed, baseline, low, high, threshold)``; unknown values are NaN."""

    __slots__ = ("_t", "_values")

    def __init__(self) -> None:
        self._t = array("d")
        self._values = array("f")  # FIELDS per point, flat; single precision is plenty for a plot

    def __len__(self) -> int:
        return len(self._t)

    def record(self, t: float, point: tuple[float, float, float, float, float]) -> None:
        """Add the point of the window starting at ``t`` (a window recorded again replaces its point)."""
        width = len(FIELDS)
        if self._t and t <= self._t[-1]:
            if t == self._t[-1]:
                self._values[-width:] = array("f", point)
            return  # older than the newest point: windows close in order, so this is a replay
        self._t.append(t)
        self._values.extend(point)
        drop = 0
        while drop < len(self._t) and (len(self._t) - drop > MAX_POINTS or self._t[drop] < t - MAX_AGE_S):
            drop += 1
        if drop:
            del self._t[:drop]
            del self._values[: drop * width]

    def drop_oldest(self, n: int) -> None:
        del self._t[:n]
        del self._values[: n * len(FIELDS)]

    def to_dict(self) -> dict[str, list[Any]]:
        """Columns, as a plot wants them; unknown values are ``None``."""
        width = len(FIELDS)
        out: dict[str, list[Any]] = {"t": list(self._t)}
        for i, name in enumerate(FIELDS):
            out[name] = [None if math.isnan(v) else _round(v) for v in self._values[i::width]]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, list[Any]]) -> "SeriesHistory":
        """From ``to_dict``'s columns (also what snapshots held before ``pack``)."""
        h = cls()
        h._t = array("d", d["t"])
        columns = [[NAN if v is None else v for v in d[name]] for name in FIELDS]
        h._values = array("f", [v for row in zip(*columns) for v in row])
        return h

    def pack(self, budget: int, step: float | None = None) -> dict[str, Any]:
        """The newest points whose packed form is at most ``budget`` bytes of JSON (none, if not even one
        fits), for a snapshot: ``v`` the values (float32, little-endian, per point the ``FIELDS`` not
        listed in ``unknown``, base64); ``unknown`` the fields with no value in any of these points (the
        limits' and the quality detectors' have no baseline); ``t0`` the first time and ``dt`` how many
        ``step`` s (the window) each next point comes after the one before — or, for times off that grid,
        ``t`` the times themselves."""
        budget = max(budget, 0)
        # A point takes at least 4/3 of 4 bytes (one field, base64): start from the most that could fit.
        first = max(len(self._t) - (budget * 3 // 16 + 1), 0)
        while True:
            packed = self._pack(first, step)
            size = len(orjson.dumps(packed))
            if size <= budget or first == len(self._t):
                return packed
            n = len(self._t) - first
            first = len(self._t) - min(n - 1, n * budget // size)

    def _pack(self, first: int, step: float | None) -> dict[str, Any]:
        width = len(FIELDS)
        t = self._t[first:]
        values = self._values[first * width:]
        known = [i for i in range(width) if not all(math.isnan(v) for v in values[i::width])]
        if len(known) < width:
            values = array("f", [v for j in range(0, len(values), width) for v in (values[j + i] for i in known)])
        if sys.byteorder == "big":
            values.byteswap()
        out: dict[str, Any] = {"v": base64.b64encode(values.tobytes()).decode()}
        if len(known) < width:
            out["unknown"] = [name for i, name in enumerate(FIELDS) if i not in known]
        gaps = _steps(t, step)
        if gaps is None:
            out["t"] = list(t)
        else:
            out.update(t0=t[0], step=step, dt=gaps)
        return out

    @classmethod
    def unpack(cls, d: dict[str, Any]) -> "SeriesHistory":
        """From ``pack``'s form, or from the JSON columns that snapshots of earlier versions held."""
        if "v" not in d:
            return cls.from_dict(d)
        h = cls()
        if "t" in d:
            h._t = array("d", d["t"])
        elif "t0" in d:
            t, step = d["t0"], d["step"]
            h._t.append(t)
            for k in d["dt"]:
                t += k * step
                h._t.append(t)
        values = array("f", base64.b64decode(d["v"]))
        if sys.byteorder == "big":
            values.byteswap()
        unknown = d.get("unknown", ())
        known = [i for i, name in enumerate(FIELDS) if name not in unknown]
        if len(values) != len(h._t) * len(known):
            raise ValueError(f"a packed history of {len(h._t)} times holds {len(values)} values of {len(known)} fields")
        if len(known) == len(FIELDS):
            h._values = values
        else:
            row = [NAN] * len(FIELDS)
            for j in range(len(h._t)):
                for i, v in zip(known, values[j * len(known):(j + 1) * len(known)]):
                    row[i] = v
                h._values.extend(row)
        return h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SeriesHistory) and other.to_dict() == self.to_dict()

    def __repr__(self) -> str:
        return f"SeriesHistory({len(self)} points)"


class RecentPoints:
    """The last ``points`` points of the busiest series that have not fired, so that a plot shows the series
    before its incident too. Only windows with at least ``min_events`` events are kept — a model's, an
    app's or a feature's series, not one user's or session's — and at most ``max_series`` series (the least
    recently updated go first), so its memory is bounded for the whole process (~2 MB), not per series.
    Not in any snapshot: after a restart a plot starts at the incident.

    >>> pool = RecentPoints(max_series=2, points=2, min_events=1)
    >>> for i in range(3):
    ...     pool.record("a", i * 60.0, (float(i), 1.0, 0.5, 1.5, 3.0))
    >>> pool.record("b", 0.0, (1.0, 1.0, 0.5, 1.5, 3.0)); pool.record("c", 0.0, (1.0, 1.0, 0.5, 1.5, 3.0))
    >>> pool.take("a") is None, len(pool.take("c"))       # "a" was the least recently updated
    (True, 1)
    """

    def __init__(self, max_series: int = 2000, points: int = 30, min_events: int = 20) -> None:
        self.max_series = max_series
        self.points = points
        self.min_events = min_events
        self._series: OrderedDict[str, SeriesHistory] = OrderedDict()

    def record(self, key: str, t: float, point: tuple[float, float, float, float, float]) -> None:
        history = self._series.get(key)
        if history is None:
            history = self._series[key] = SeriesHistory()
            if len(self._series) > self.max_series:
                self._series.popitem(last=False)
        else:
            self._series.move_to_end(key)
        history.record(t, point)
        if len(history) > self.points:
            history.drop_oldest(len(history) - self.points)

    def take(self, key: str) -> "SeriesHistory | None":
        """The points kept for ``key``, handed over (the series fired: its own history takes them)."""
        return self._series.pop(key, None)

    def __len__(self) -> int:
        return len(self._series)


def _round(v: float) -> float:
    return float(f"{v:.6g}")


def _steps(t: Any, step: float | None) -> list[int] | None:
    """How many ``step`` s each time comes after the one before, if every time is exactly on that grid."""
    if not t or not step or step <= 0:
        return None
    out = []
    for a, b in zip(t, t[1:]):
        k = round((b - a) / step)
        if k < 1 or a + k * step != b:
            return None
        out.append(k)
    return out


def point_of(d: Detector, w: BucketSummary) -> tuple[float, float, float, float, float]:
    """``(observed, baseline, low, high, threshold)`` of window ``w`` as detector ``d`` judges it now."""
    try:
        point = _POINTS.get(d.kind, _generic)(d, w)
    except (ArithmeticError, ValueError, TypeError, IndexError):  # a detector without its state yet
        point = (_generic(d, w)[0], NAN, NAN, NAN, NAN)
    return tuple(NAN if v is None or not math.isfinite(v) else float(v) for v in point)  # type: ignore[return-value]


def _cost(d: Any, w: BucketSummary) -> tuple:
    std = max(math.sqrt(max(d._var, 0.0)), 0.1 * d._mean, 1e-9)
    threshold = max(d._mean + d.alarm_at() * std, d.ratio * d._mean)
    return w.total, d._mean, max(d._mean - std, 0.0), d._mean + std, threshold


def _latency(d: Any, w: BucketSummary) -> tuple:
    from detectors.latency import BIN_WIDTH, quantile

    if not w.n:
        return NAN, NAN, NAN, NAN, NAN
    m95, v95 = d._base[2], d._base[3]
    sd = max(math.sqrt(max(v95, 0.0)), BIN_WIDTH)
    threshold = max(math.expm1(m95 + d.alarm_at() * sd), d.ratio * math.expm1(m95))
    return (quantile(w.hist, 0.95), math.expm1(m95), math.expm1(m95 - sd), math.expm1(m95 + sd), threshold)


def _errors(d: Any, w: BucketSummary) -> tuple:
    if not w.n:
        return NAN, NAN, NAN, NAN, NAN
    p0 = d.baseline()
    sd = math.sqrt(p0 * (1 - p0) / w.n)
    threshold = max(d.ratio * p0, p0 + d.min_increase, p0 + d.alarm_at() * sd)
    return w.bad / w.n, p0, max(p0 - sd, 0.0), p0 + sd, threshold


def _anomaly(d: Any, w: BucketSummary) -> tuple:
    if not w.n:
        return NAN, NAN, NAN, NAN, NAN
    scale = d._scale(d._mean, d._dev)
    limit = d.alarm_at()
    threshold = d._mean - limit * scale if d.direction == "down" else d._mean + limit * scale
    return w.total / w.n, d._mean, d._mean - scale, d._mean + scale, threshold


def _budget(d: Any, w: BucketSummary) -> tuple:
    at = min(d.severity.values(), default=1.0)
    return w.total, NAN, NAN, NAN, d.limit * at


def _runaway(d: Any, w: BucketSummary) -> tuple:
    n, _ = d._sliding(w)
    return n, NAN, NAN, NAN, d.max_requests_per_min * d.window_s / 60


def _injection(d: Any, w: BucketSummary) -> tuple:
    return d._sliding(w)[0], NAN, NAN, NAN, float(d.min_hits)


def _generic(d: Any, w: BucketSummary) -> tuple:
    """Detectors judged on something other than one number per window (quality, model updates): the
    share of bad calls when they count them, else the number of calls."""
    observed = (w.bad / w.n if w.bad else 0.0) if w.n and d.kind in ("quality", "model_update") else float(w.n)
    return observed, NAN, NAN, NAN, NAN


_POINTS = {"cost": _cost, "latency": _latency, "errors": _errors, "anomaly": _anomaly, "budget": _budget,
           "runaway": _runaway, "injection": _injection}
