"""The protocol every stateful detector follows, and the bucket summary it judges.

Events are pre-aggregated per series and short event-time bucket into a ``BucketSummary``
(``Detector.fold``); a detector then judges whole windows of merged summaries:

- ``score_one(window)`` — how unusual the window is (pure: it never changes the detector);
- ``learn_one(window)`` — update the learned baseline with a closed window;
- ``update(window, partial=...)`` — judge and learn; returns a ``Finding`` or ``None``.

Constructor arguments are stored under their own names (configuration shared by a detector and its
clones, see ``Detector``) and learned state in ``_``-prefixed ``__slots__``, so ``state()`` /
``load_state()`` (the snapshot) need little per-detector code: learned state is kept to plain numbers,
lists and dicts. ``BucketSummary`` lives in ``detectors.summary``.
"""

from __future__ import annotations

import math
from operator import attrgetter
from typing import Any, Callable, ClassVar

from detectors.finding import Evidence, Finding, Target
from detectors.summary import EMPTY, MAX_EXAMPLES, NO_EXAMPLES, BucketSummary  # noqa: F401 - re-exported

#: "long ago": learned state stays finite so that it survives JSON snapshots
NEVER = -1e18
#: a series counts among those its detector watches while it had a window in this much event time (``watch``)
WATCHED_FOR_S = 7 * 86_400.0

#: Fields a series key may be built from (``metadata.<name>`` is allowed as well).
SERIES_FIELDS = (
    "model", "provider", "app", "environment", "feature",
    "prompt_id", "prompt_version", "user_id", "session_id",
)
TARGET_FIELDS = set(Target.model_fields)


class SeriesSpec:
    """Which fields make a series: ``"model"``, ``"app/feature"``, ``"prompt_id@prompt_version"``,
    ``"model/provider?"`` (``?``: optional, shown as ``-`` when absent), ``"metadata.team"``.

    >>> from traces.events import TraceEvent
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

    def _compile(self) -> Callable[[Any], str | None]:
        """A key function for this spec's shape: all parsing is done here, none per call."""
        parts = [(sep if sep == "@" else f"{sep}{field}=", _getter(field), optional)
                 for sep, field, optional in self.parts]
        if len(parts) == 1:
            (label, get, optional), = parts
            if not optional:
                def single(event: Any) -> str | None:
                    value = get(event)
                    return None if value is None else f"{label}{value}"
                return single
        if len(parts) == 2:  # "app?/feature", "model/provider?", "prompt_id@prompt_version"
            (label_a, get_a, optional_a), (label_b, get_b, optional_b) = parts

            def pair(event: Any) -> str | None:
                a = get_a(event)
                if a is None:
                    if not optional_a:
                        return None
                    a = "-"
                b = get_b(event)
                if b is None:
                    if not optional_b:
                        return None
                    b = "-"
                return f"{label_a}{a}{label_b}{b}"
            return pair

        def general(event: Any) -> str | None:
            out = []
            for label, get, optional in parts:
                value = get(event)
                if value is None:
                    if not optional:
                        return None
                    value = "-"
                out.append(f"{label}{value}")
            return "".join(out)
        return general


def _getter(field: str) -> Callable[[Any], Any]:
    """``event -> value`` for a series field (metadata values as text, ``None`` when absent)."""
    if not field.startswith("metadata."):
        return attrgetter(field)
    name = field[9:]

    def from_metadata(event: Any) -> str | None:
        value = event.metadata.get(name)
        return None if value is None else str(value)
    return from_metadata


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
    """Base protocol: one configured detector; each series gets its own ``clone()``.

    Constructing a detector makes a subclass of its kind for that configuration alone (same name):
    the configuration lives there, as class attributes shared by the detector and all its clones,
    and an instance holds only learned state, in ``__slots__``. A process tracks ~10^5 series, each
    with a clone, so this keeps a series at a few hundred bytes. Subclasses list their learned
    attributes in ``__slots__`` and set them in ``reset``; derived configuration is set in ``configure``.

    >>> from detectors.runaway import Runaway
    >>> d = Runaway("runaway", "session_id")
    >>> c = d.clone()
    >>> isinstance(c, Runaway) and c._spec is d._spec and c.state() == d.state()
    True
    >>> c == d, type(c).__name__
    (True, 'Runaway')
    """

    __slots__ = ("_windows", "_last_fire")

    kind: ClassVar[str] = ""
    #: kind-specific parameters and their defaults (the config lint accepts exactly these)
    params: ClassVar[dict[str, Any]] = {}
    #: common defaults per kind
    defaults: ClassVar[dict[str, Any]] = {}
    #: event fields copied into the target besides the series fields
    target_fields: ClassVar[tuple[str, ...]] = ()
    #: whether ``SeriesState.add`` asks for an early decision on a partial window
    early: ClassVar[bool] = False
    #: the detector class of this kind (set for every subclass; a configured class points to its kind's)
    _kind_class: ClassVar[type["Detector"]]
    #: learned attributes: the ``_`` slots of the class and its bases (what ``state()`` holds)
    _learned: ClassVar[tuple[str, ...]] = ()
    #: series this configured detector watches in this process: those with a window closed in the last week of
    #: event time (``watch``); calibrated detectors spread their false-alarm budget over them
    watched: ClassVar[int] = 0
    #: whether the detector spreads a budget over its series, so that ``SeriesState`` counts them (``watch``):
    #: the calibrated kinds; the count costs a few dozen bytes a series
    spreads_budget: ClassVar[bool] = False
    #: ``watch``'s book, per configured class: the latest window start of each series (by the hash of its key),
    #: and the event time of the last pruning
    _active: ClassVar[dict[int, float]]
    _active_pruned: ClassVar[float]

    @classmethod
    def watch(cls, series_key: str, t: float) -> None:
        """A window of ``series_key`` starting at ``t`` closed. Counted by key, a series restored again (after a
        rebalance, or evicted from a worker's memory) is one series, not one more each time; and one that
        has had no window for ``WATCHED_FOR_S`` (a session that ended) no longer takes a share of the budget.

        >>> from detectors.errors import ErrorSurge
        >>> d = ErrorSurge("e", "session_id")
        >>> for day in range(10):  # a session a day, each an hour long, and one long-lived
        ...     for minute in range(60):
        ...         for key in (f"e|session_id=s{day}", "e|session_id=long"):
        ...             type(d).watch(key, day * 86400.0 + minute * 60.0)
        >>> type(d).watched  # the long one and the sessions of the last week
        9
        """
        active = cls.__dict__.get("_active")
        if active is None:
            active = cls._active = {}
            cls._active_pruned = t
        key = hash(series_key)
        if t > active.get(key, NEVER):
            active[key] = t
        if t - cls._active_pruned >= 86_400.0:  # once a day of event time
            cutoff = t - WATCHED_FOR_S
            for k in [k for k, last in active.items() if last < cutoff]:
                del active[k]
            cls._active_pruned = t
        cls.watched = len(active)

    @classmethod
    def unwatch_all(cls) -> None:
        """This process watches none of the detector's series any more (its partitions were revoked)."""
        cls.__dict__.get("_active", {}).clear()
        cls.watched = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_configured" in cls.__dict__:
            return
        if "__slots__" not in cls.__dict__:  # learned state outside the slots would miss the snapshot
            raise TypeError(f"{cls.__name__} must declare __slots__ (its learned attributes, or ())")
        cls._kind_class = cls
        cls._learned = tuple(name for klass in reversed(cls.__mro__)
                             for name in klass.__dict__.get("__slots__", ()) if name.startswith("_"))

    def __new__(cls, *args: Any, **kwargs: Any) -> "Detector":
        kind_class = cls._kind_class if "_configured" in cls.__dict__ else cls
        configured = type(kind_class.__name__, (kind_class,), {
            "__slots__": (), "_configured": True, "__module__": kind_class.__module__,
            "__qualname__": kind_class.__qualname__, "__doc__": kind_class.__doc__})
        return object.__new__(configured)

    def __init__(self, name: str, series: str = "model", *, window_s: float | None = None,
                 warmup: int | None = None, min_volume: int | None = None, cooldown_s: float | None = None,
                 severity: dict[str, float] | None = None, **params: Any) -> None:
        d = {**COMMON_DEFAULTS, **self.defaults}
        unknown = set(params) - set(self.params)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameters {sorted(unknown)}")
        self.configure(
            name=name, series=series,
            window_s=float(d["window_s"] if window_s is None else window_s),
            warmup=int(d["warmup"] if warmup is None else warmup),
            min_volume=int(d["min_volume"] if min_volume is None else min_volume),
            cooldown_s=float(d["cooldown_s"] if cooldown_s is None else cooldown_s),
            severity=dict(d["severity"] if severity is None else severity),
            _spec=SeriesSpec(series),
            **{key: params.get(key, default) for key, default in self.params.items()})
        self.reset()

    def configure(self, **config: Any) -> None:
        """Set configuration (shared with every clone). Subclasses extend it to validate and derive."""
        cls = type(self)
        for key, value in config.items():
            setattr(cls, key, value)

    # ---- learned state ---------------------------------------------------------------------------

    def reset(self) -> None:
        self._windows = 0  # closed windows learned
        self._last_fire = NEVER  # event time of the last finding

    def clone(self) -> "Detector":
        """A fresh detector with the same (shared) configuration (river's ``clone``)."""
        c = object.__new__(type(self))
        c.reset()
        return c

    def config(self) -> dict[str, Any]:
        base = {"name": self.name, "series": self.series, "window_s": self.window_s,
                "warmup": self.warmup, "min_volume": self.min_volume,
                "cooldown_s": self.cooldown_s, "severity": dict(self.severity)}
        base.update({k: getattr(self, k) for k in self.params})
        return base

    def state(self) -> dict[str, Any]:
        """Learned state: every ``_``-prefixed slot (plain numbers, lists, dicts)."""
        return {k: getattr(self, k) for k in self._learned}

    def load_state(self, state: dict[str, Any]) -> None:
        learned = self._learned
        for k, v in state.items():
            if k in learned:
                setattr(self, k, v)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Detector) and other._kind_class is self._kind_class
                and other.config() == self.config() and other.state() == self.state())

    def __reduce__(self) -> tuple:  # pickle and deepcopy: the kind's class, configuration and state
        return (_restore, (self._kind_class, self.config(), self.state()))

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


def _restore(kind_class: type[Detector], config: dict[str, Any], state: dict[str, Any]) -> Detector:
    d = kind_class(**config)
    d.load_state(state)
    return d
