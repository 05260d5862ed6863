"""The protocol every stateful detector follows, and the bucket summary it judges.

Events are pre-aggregated per series and short event-time bucket into a ``BucketSummary``
(``Detector.fold``); a detector then judges whole windows of merged summaries:

- ``score_one(window)`` — how unusual the window is (pure: it never changes the detector);
- ``learn_one(window)`` — update the learned baseline with a closed window;
- ``update(window, partial=...)`` — judge and learn; returns a ``Finding`` or ``None``.

Constructor arguments are stored under their own names and learned state carries a ``_`` prefix, so
``state()`` / ``load_state()`` (the snapshot) need no per-detector code: learned state is kept to plain
numbers, lists and dicts. ``BucketSummary`` lives in ``detectors.summary``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from detectors.finding import Evidence, Finding, Target
from detectors.summary import EMPTY, MAX_EXAMPLES, NO_EXAMPLES, BucketSummary  # noqa: F401 - re-exported

#: "long ago": learned state stays finite so that it survives JSON snapshots
NEVER = -1e18

#: Fields a series key may be built from (``metadata.<name>`` is allowed as well).
SERIES_FIELDS = (
    "model", "provider", "app", "environment", "feature",
    "prompt_id", "prompt_version", "user_id", "session_id",
)
TARGET_FIELDS = set(Target.model_fields)


class SeriesSpec:
    """Which fields make a series: ``"model"``, ``"app/feature"``, ``"prompt_id@prompt_version"``,
    ``"model/provider?"`` (``?``: optional, shown as ``-`` when absent), ``"metadata.team"``.

    >>> from streams.events import TraceEvent
    >>> e = TraceEvent(trace_id="t", timestamp=0, model="gpt-4o", prompt_id="support", prompt_version="3")
    >>> SeriesSpec("prompt_id@prompt_version").key(e), SeriesSpec("model/provider?").key(e)
    ('prompt_id=support@3', 'model=gpt-4o/provider=-')
    >>> SeriesSpec("user_id").key(e) is None   # events without the field are not in the series
    True
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.parts: list[tuple[str, str, bool]] = []  # (separator, field, optional)
        sep, buf = "", ""
        for ch in spec + "/":
            if ch in "/@":
                name = buf.strip()
                optional = name.endswith("?")
                self.parts.append((sep, name.rstrip("?"), optional))
                sep, buf = ch, ""
            else:
                buf += ch
        self.fields = [f for _, f, _ in self.parts]
        self._key = self._compile()

    def problems(self) -> list[str]:
        out = []
        for _, field, _ in self.parts:
            if not field:
                out.append(f"series {self.spec!r} has an empty field")
            elif not (field in SERIES_FIELDS or (field.startswith("metadata.") and len(field) > 9)):
                out.append(f"series field {field!r} is not one of {', '.join(SERIES_FIELDS)} or metadata.<name>")
        return out

    def key(self, event: Any) -> str | None:
        """The series of ``event`` (``None``: the event lacks a required field)."""
        return self._key(event)

    def _compile(self) -> Any:
        parts = self.parts
        if len(parts) == 1 and not parts[0][1].startswith("metadata.") and not parts[0][2]:
            field, prefix = parts[0][1], parts[0][1] + "="

            def single(event: Any) -> str | None:
                value = getattr(event, field)
                return None if value is None else prefix + value
            return single
        return self._general

    def _general(self, event: Any) -> str | None:
        out = []
        for sep, field, optional in self.parts:
            if field.startswith("metadata."):
                value = event.metadata.get(field[9:])
                value = None if value is None else str(value)
            else:
                value = getattr(event, field)
            if value is None:
                if not optional:
                    return None
                value = "-"
            out.append(f"{sep}{value}" if sep == "@" else f"{sep}{field}={value}")
        return "".join(out)


def ew_alpha(window_s: float, half_life_s: float) -> float:
    """Weight of one new window in an exponentially weighted mean with the given half-life."""
    return 1.0 - 0.5 ** (window_s / max(half_life_s, 1e-9))


def ew_update(mean: float, var: float, x: float, alpha: float) -> tuple[float, float]:
    """One step of the exponentially weighted mean and variance (West's update)."""
    diff = x - mean
    incr = alpha * diff
    return mean + incr, (1.0 - alpha) * (var + diff * incr)


COMMON_DEFAULTS: dict[str, Any] = {"window_s": 60.0, "warmup": 10, "min_volume": 1, "cooldown_s": 600.0,
                                   "severity": {"warning": 0.0}}


class Detector:
    """Base protocol: one configured detector; each series gets its own ``clone()``."""

    kind: ClassVar[str] = ""
    #: kind-specific parameters and their defaults (the config lint accepts exactly these)
    params: ClassVar[dict[str, Any]] = {}
    #: common defaults per kind
    defaults: ClassVar[dict[str, Any]] = {}
    #: event fields copied into the target besides the series fields
    target_fields: ClassVar[tuple[str, ...]] = ()
    #: ``_`` attributes derived from the configuration, not learned (left out of ``state()``)
    derived: ClassVar[tuple[str, ...]] = ("_spec",)
    #: whether ``SeriesState.add`` asks for an early decision on a partial window
    early: ClassVar[bool] = False

    def __init__(self, name: str, series: str = "model", *, window_s: float | None = None,
                 warmup: int | None = None, min_volume: int | None = None, cooldown_s: float | None = None,
                 severity: dict[str, float] | None = None, **params: Any) -> None:
        d = {**COMMON_DEFAULTS, **self.defaults}
        self.name = name
        self.series = series
        self.window_s = float(d["window_s"] if window_s is None else window_s)
        self.warmup = int(d["warmup"] if warmup is None else warmup)
        self.min_volume = int(d["min_volume"] if min_volume is None else min_volume)
        self.cooldown_s = float(d["cooldown_s"] if cooldown_s is None else cooldown_s)
        self.severity = dict(d["severity"] if severity is None else severity)
        unknown = set(params) - set(self.params)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameters {sorted(unknown)}")
        for key, default in self.params.items():
            setattr(self, key, params.get(key, default))
        self._spec = SeriesSpec(series)
        self.reset()

    # ---- learned state ---------------------------------------------------------------------------

    def reset(self) -> None:
        self._windows = 0  # closed windows learned
        self._last_fire = NEVER  # event time of the last finding

    def clone(self) -> "Detector":
        """A fresh detector with the same configuration (river's ``clone``)."""
        return type(self)(**self.config())

    def config(self) -> dict[str, Any]:
        base = {"name": self.name, "series": self.series, "window_s": self.window_s,
                "warmup": self.warmup, "min_volume": self.min_volume,
                "cooldown_s": self.cooldown_s, "severity": dict(self.severity)}
        base.update({k: getattr(self, k) for k in self.params})
        return base

    def state(self) -> dict[str, Any]:
        """Learned state: every ``_``-prefixed attribute (plain numbers, lists, dicts)."""
        return {k: v for k, v in vars(self).items() if k.startswith("_") and k not in self.derived}

    def load_state(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            if k.startswith("_") and k not in self.derived:
                setattr(self, k, v)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.config() == self.config() and other.state() == self.state()

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config(), "state": self.state()}

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__init__(**d["config"])
        self.load_state(d["state"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    # ---- the protocol --------------------------------------------------------------------------

    def window_start(self, t: float) -> float:
        return math.floor(t / self.window_s) * self.window_s

    def fold(self, s: BucketSummary, event: Any, t: float) -> None:  # pragma: no cover - abstract
        """Add one event (event time ``t``) to a bucket summary; reads no learned state."""
        raise NotImplementedError

    def score_one(self, window: BucketSummary) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def learn_one(self, window: BucketSummary) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, window: BucketSummary, *, partial: bool = False) -> Finding | None:
        """Judge a window; learn from it when it is closed. Returns a finding or ``None``."""
        raise NotImplementedError  # pragma: no cover - abstract

    # ---- helpers for subclasses --------------------------------------------------------------------

    def level(self, score: float) -> str:
        """The highest configured severity whose threshold the score reaches (else ``info``)."""
        best, best_at = "info", -math.inf
        for sev, at in self.severity.items():
            if score >= at and at >= best_at:
                best, best_at = sev, at
        return best

    def cooling(self, t: float) -> bool:
        return t - self._last_fire < self.cooldown_s

    def finding(self, window: BucketSummary, *, score: float, summary: str, observed: float | None,
                baseline: float | None, window_s: float | None = None, details: dict | None = None,
                target: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> Finding:
        series = window.series_key.split("|", 1)[1]
        tgt = dict(window.target)
        if target:
            tgt.update(target)
        t = window.t_last if math.isfinite(window.t_last) else window.bucket_start + self.window_s
        self._last_fire = t
        return Finding(
            time=t, detector=self.name, kind=self.kind, series=series, severity=self.level(score),
            score=round(float(score), 6), summary=summary,
            evidence=Evidence(observed=_r(observed), baseline=_r(baseline),
                              window_s=self.window_s if window_s is None else window_s,
                              example_trace_ids=window.example_ids, details=details or {}),
            target=Target(**{k: v for k, v in tgt.items() if k in TARGET_FIELDS}),
            labels={"kind": self.kind, **(labels or {})},
        )


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
