"""Loading and linting the detector configuration (``detectors/config.yaml``).

The lint is strict: unknown keys are rejected, types and references are checked, and every error
names ``file:line`` (from the YAML node marks) and the YAML path.

>>> errors = lint_text('''
... detectors:
...   - name: spend
...     kind: cost
...     seris: model
... ''', "mine.yaml")
>>> print(errors[0])
mine.yaml:5: detectors[0].seris: unknown key "seris" (did you mean "series"?)
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from detectors.anomaly import DIRECTIONS, FieldAnomaly, field_problem
from detectors.base import Detector, SeriesSpec
from detectors.budget import PERIODS, Budget
from detectors.cost import MEASURES, CostSpike
from detectors.errors import ErrorSurge
from detectors.injection_rate import InjectionRate
from detectors.latency import LatencyRegression
from detectors.model_update import ModelUpdate
from detectors.quality import QualityRegression
from detectors.runaway import Runaway
from detectors.suite import DetectorSuite
from yamlconf import Report, YamlSyntaxError, did_you_mean, line_of, parse, type_name, wanted

SHIPPED = Path(__file__).with_name("config.yaml")

#: every detector class, by the ``kind`` that names it in the config
KINDS: dict[str, type[Detector]] = {
    cls.kind: cls for cls in (CostSpike, Budget, Runaway, LatencyRegression, ErrorSurge,
                              QualityRegression, FieldAnomaly, InjectionRate, ModelUpdate)
}
TOP_KEYS = {"bucket_s": 5.0, "lateness_s": None, "injection": {}, "detectors": []}
INJECTION_KEYS = {"enabled": True, "options": {}}
#: what ``injection.options`` may set (passed to ``InjectionDetector``; ``signatures`` is a YAML path)
INJECTION_OPTIONS = {"fields": ["input"], "min_score": 0.5, "name": "prompt_injection", "signatures": ""}
COMMON_KEYS = ("name", "kind", "series", "enabled", "window_s", "warmup", "min_volume", "cooldown_s",
               "severity")
SEVERITIES = ("info", "warning", "critical")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

class ConfigError(ValueError):
    """The configuration is invalid; ``errors`` lists every ``file:line: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class DetectorConfig:
    source: str
    bucket_s: float = 5.0
    lateness_s: float | None = None
    injection: dict[str, Any] = field(default_factory=lambda: {"enabled": True, "options": {}})
    detectors: list[dict[str, Any]] = field(default_factory=list)  # constructor kwargs plus "kind"


class _Linter:
    def __init__(self, text: str, source: str) -> None:
        self.report = Report(source)
        try:
            self.document = parse(text)  # aliases bounded: no alias bomb, no recursive alias
        except YamlSyntaxError as exc:
            self.document = None
            self.report.add(exc.line, "yaml", problem=exc.problem)

    def error(self, node: yaml.Node | None, path: str, msg: str, **kw: Any) -> None:
        self.report.add(node, msg, path, **kw)

    @property
    def errors(self) -> list[str]:
        """Every problem, in file order."""
        return [str(p) for p in sorted(self.report.problems, key=lambda p: p.line)]

    def value(self, node: yaml.Node) -> Any:
        return self.document.value(node)

    def mapping(self, node: yaml.Node, path: str) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, path, "type", want=wanted(dict), got=type_name(self.value(node)))
            return None
        return {str(k.value): (k, v) for k, v in node.value}

    def unknown(self, items: dict, allowed: Any, path: str) -> None:
        for key, (knode, _) in items.items():
            if key not in allowed:
                self.error(knode, f"{path}.{key}" if path else key, "unknown", what="key", value=key,
                           hint=did_you_mean(key, allowed))

    def check_type(self, node: yaml.Node, path: str, value: Any, default: Any) -> bool:
        if isinstance(default, bool):
            ok, want = isinstance(value, bool), wanted(bool)
        elif isinstance(default, (int, float)) or default is None:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            want = wanted(float)
            if ok and isinstance(default, int) and not isinstance(value, int):
                ok, want = False, wanted(int)
        elif isinstance(default, str):
            ok, want = isinstance(value, str), wanted(str)
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            want = "a list of names"
        elif isinstance(default, dict):
            ok = isinstance(value, dict) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values())
            want = "a mapping of names to numbers"
        else:  # pragma: no cover - no such parameter
            ok, want = True, ""
        if not ok:
            self.error(node, path, "type", want=want, got=type_name(value))
        return ok

    # ---- the document ---------------------------------------------------------------------------------

    def run(self) -> DetectorConfig | None:
        if self.document is None:
            return None
        cfg = DetectorConfig(source=self.report.file)
        root = self.document.root
        if root is None:
            return cfg
        top = self.mapping(root, "")
        if top is None:
            return None
        self.unknown(top, TOP_KEYS, "")
        if "bucket_s" in top:
            knode, vnode = top["bucket_s"]
            value = self.value(vnode)
            if self.check_type(vnode, "bucket_s", value, 1.0):
                if value <= 0:
                    self.error(vnode, "bucket_s", "greater_than", gt=0, input=value)
                else:
                    cfg.bucket_s = float(value)
        if "lateness_s" in top:
            _, vnode = top["lateness_s"]
            value = self.value(vnode)
            if self.check_type(vnode, "lateness_s", value, 1.0):
                if value < 0:
                    self.error(vnode, "lateness_s", "non_negative", value=value)
                else:
                    cfg.lateness_s = float(value)
        if "injection" in top:
            _, vnode = top["injection"]
            inj = self.mapping(vnode, "injection")
            if inj is not None:
                self.unknown(inj, INJECTION_KEYS, "injection")
                for key, default in INJECTION_KEYS.items():
                    if key in inj:
                        node = inj[key][1]
                        value = self.value(node)
                        if key == "options":
                            opts = self.mapping(node, "injection.options")
                            if opts is None:
                                continue
                            self.unknown(opts, INJECTION_OPTIONS, "injection.options")
                            for name, (_, onode) in opts.items():
                                ovalue = self.value(onode)
                                if name in INJECTION_OPTIONS and self.check_type(
                                        onode, f"injection.options.{name}", ovalue, INJECTION_OPTIONS[name]):
                                    cfg.injection["options"][name] = ovalue
                        elif self.check_type(node, f"injection.{key}", value, default):
                            cfg.injection[key] = value
        if "detectors" in top:
            _, vnode = top["detectors"]
            if not isinstance(vnode, yaml.SequenceNode):
                self.error(vnode, "detectors", "type", want="a list of detectors", got=type_name(self.value(vnode)))
            else:
                seen: dict[str, int] = {}
                for i, item in enumerate(vnode.value):
                    det = self.detector(item, f"detectors[{i}]", cfg.bucket_s, seen)
                    if det is not None:
                        cfg.detectors.append(det)
        return cfg

    def detector(self, node: yaml.Node, path: str, bucket_s: float, seen: dict[str, int]) -> dict | None:
        items = self.mapping(node, path)
        if items is None:
            return None
        before = len(self.report)
        for key in ("name", "kind"):
            if key not in items:
                self.error(node, path, "missing", key=key)
        kind_cls = None
        if "kind" in items:
            kn = items["kind"][1]
            kind = self.value(kn)
            kind_cls = KINDS.get(kind) if isinstance(kind, str) else None
            if kind_cls is None:
                self.error(kn, f"{path}.kind", "unknown_of", what="kind", value=kind,
                           hint=did_you_mean(kind, KINDS), allowed=", ".join(KINDS))
        if kind_cls is None:
            self.unknown(items, set(COMMON_KEYS) | {p for c in KINDS.values() for p in c.params}, path)
            return None
        allowed = dict.fromkeys(COMMON_KEYS)
        allowed.update(kind_cls.params)
        self.unknown(items, allowed, path)

        out: dict[str, Any] = {"kind": kind_cls.kind}
        if "name" in items:
            nn = items["name"][1]
            name = self.value(nn)
            if not isinstance(name, str) or not NAME_RE.match(name):
                self.error(nn, f"{path}.name", "detector_name", value=name)
            elif name in seen:
                self.error(nn, f"{path}.name", "duplicate_detector", value=name, line=seen[name])
            else:
                seen[name] = line_of(nn)
                out["name"] = name
        scalars: dict[str, Any] = {"series": "", "enabled": True, "window_s": 1.0, "warmup": 0,
                                   "min_volume": 0, "cooldown_s": 1.0}
        scalars.update(kind_cls.params)
        for key, default in scalars.items():
            if key not in items:
                continue
            vn = items[key][1]
            value = self.value(vn)
            p = f"{path}.{key}"
            if not self.check_type(vn, p, value, default):
                continue
            if key == "series":
                problems = SeriesSpec(value).problems()
                for problem in problems:
                    self.error(vn, p, "reason", reason=problem)
                if not problems and kind_cls is QualityRegression and "prompt_version" in SeriesSpec(value).fields:
                    self.error(vn, p, "quality_series")
            elif key == "window_s":
                if kind_cls is Budget:
                    self.error(vn, p, "budget_window")
                elif value <= 0:
                    self.error(vn, p, "greater_than", gt=0, input=value)
                elif abs(value / bucket_s - round(value / bucket_s)) > 1e-9:
                    self.error(vn, p, "window_multiple", value=value, bucket=bucket_s)
            elif key in ("warmup", "min_volume", "cooldown_s", "min_window_calls", "record_budget") and value < 0:
                self.error(vn, p, "non_negative", value=value)
            elif key in ("limit", "ratio", "z", "half_life_s", "max_requests_per_min", "max_tokens_per_min",
                         "min_hits", "consecutive", "season_days", "max_versions", "min_signals",
                         "recent_windows", "max_models", "rate_ratio", "false_alarms_per_week") and value <= 0:
                self.error(vn, p, "greater_than", gt=0, input=value)
            elif key == "escalate" and value and not value > 1:
                self.error(vn, p, "reason", reason=f"must be 0 (never) or more than 1 (times the last page's score), "
                                                   f"got {value}")
            elif key == "share" and not 0 < value <= 1:
                self.error(vn, p, "share", value=value)
            elif key == "period" and value not in PERIODS:
                self.error(vn, p, "not_allowed", value=value, allowed=", ".join(PERIODS))
            elif key == "measure" and value not in MEASURES:
                self.error(vn, p, "not_allowed", value=value, allowed=", ".join(MEASURES))
            elif key == "direction" and value not in DIRECTIONS:
                self.error(vn, p, "not_allowed", value=value, allowed=", ".join(DIRECTIONS))
            elif key == "field" and field_problem(value):
                self.error(vn, p, "reason", reason=field_problem(value))
            out[key] = value
        if "severity" in items:
            levels = self.severity(items["severity"][1], f"{path}.severity")
            if levels is not None:
                out["severity"] = levels
        if len(self.report) > before:
            return None
        return out

    def severity(self, node: yaml.Node, path: str) -> dict[str, float] | None:
        """``{warning: 2, critical: 5}``: the score from which a finding has each severity."""
        items = self.mapping(node, path)
        if items is None:
            return None
        levels = {}
        for level, (ln, lv) in items.items():
            value = self.value(lv)
            if level not in SEVERITIES:
                self.error(ln, f"{path}.{level}", "unknown_of", what="severity", value=level, hint="",
                           allowed=", ".join(SEVERITIES))
            elif self.check_type(lv, f"{path}.{level}", value, 1.0):
                levels[level] = float(value)
        return levels


def lint_text(text: str, source: str = "<config>") -> list[str]:
    """Every problem in a detector configuration, as ``file:line: path: message``."""
    linter = _Linter(text, source)
    linter.run()
    return linter.errors


def lint_file(path: str | os.PathLike[str]) -> list[str]:
    return lint_text(Path(path).read_text(encoding="utf-8"), str(path))


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``TRACEWATCH_DETECTORS``, else the shipped ``detectors/config.yaml``."""
    chosen = path or os.environ.get("TRACEWATCH_DETECTORS") or SHIPPED
    return Path(chosen)


def load_config(path: str | os.PathLike[str] | None = None) -> DetectorConfig:
    """Read and validate a configuration; raises ``ConfigError`` with every problem found."""
    p = resolve_path(path)
    linter = _Linter(p.read_text(encoding="utf-8"), str(p))
    cfg = linter.run()
    if linter.errors or cfg is None:
        raise ConfigError(linter.errors)
    return cfg


def opt_in(cfg: DetectorConfig) -> list[str]:
    """Names of the detectors ``cfg`` carries switched off (``enabled: false``): in the shipped config,
    the absolute limits (budgets, runaway loops).

    >>> opt_in(load_config(SHIPPED))
    ['budget_user_daily', 'budget_feature_hourly', 'runaway_session']
    """
    return [d["name"] for d in cfg.detectors if not d.get("enabled", True)]


def enable(cfg: DetectorConfig, *names: str) -> DetectorConfig:
    """A copy of ``cfg`` with the named detectors switched on (``enabled: true``), e.g. the absolute
    limits the shipped config carries as opt-in examples. Unknown names are an error.

    >>> cfg = enable(load_config(), "budget_user_daily")
    >>> [d["name"] for d in cfg.detectors if d["kind"] == "budget" and d.get("enabled", True)]
    ['budget_user_daily']
    """
    known = {d.get("name") for d in cfg.detectors}
    missing = [n for n in names if n not in known]
    if missing:
        raise KeyError(f"no detector named {', '.join(missing)} in {cfg.source}")
    out = copy.deepcopy(cfg)
    for spec in out.detectors:
        if spec.get("name") in names:
            spec["enabled"] = True
    return out


def to_yaml(cfg: DetectorConfig) -> str:
    """``cfg`` as a configuration file (for a worker: ``TRACEWATCH_DETECTORS``); it loads back equal.

    >>> import tempfile
    >>> cfg = load_config()
    >>> path = Path(tempfile.mkdtemp()) / "d.yaml"
    >>> _ = path.write_text(to_yaml(cfg))
    >>> load_config(path).detectors == cfg.detectors
    True
    """
    doc: dict[str, Any] = {"bucket_s": cfg.bucket_s}
    if cfg.lateness_s is not None:
        doc["lateness_s"] = cfg.lateness_s
    doc["injection"] = cfg.injection
    doc["detectors"] = [{"name": d["name"], "kind": d["kind"],
                         **{k: v for k, v in d.items() if k not in ("name", "kind")}} for d in cfg.detectors]
    return f"# generated from {cfg.source}\n" + yaml.safe_dump(doc, sort_keys=False)


def build_detectors(cfg: DetectorConfig) -> list[Detector]:
    out = []
    for spec in cfg.detectors:
        kwargs = {k: v for k, v in spec.items() if k not in ("kind", "enabled")}
        if spec.get("enabled", True):
            out.append(KINDS[spec["kind"]](**kwargs))
    return out


def build_injection(cfg: DetectorConfig, injection_state: Any = None) -> Any:
    """The per-event prompt-injection detector, or ``None`` when disabled or not installed."""
    if not cfg.injection.get("enabled", True):
        return None
    try:
        from detectors.injection import InjectionDetector
    except ImportError:
        return None
    from detectors.injection import InjectionScanner

    options = dict(cfg.injection.get("options", {}))
    signatures = options.pop("signatures", None)
    if injection_state is not None or signatures is not None:
        options["scanner"] = InjectionScanner.load(
            signatures=None if signatures is None else Path(signatures),
            state=None if injection_state is None else Path(injection_state))
    return InjectionDetector(**options)


def build_suite(cfg: DetectorConfig, *, injection_state: Any = None) -> DetectorSuite:
    """The suite ``cfg`` describes; ``injection_state`` is passed on to the injection detector (its
    classifier state file)."""
    return DetectorSuite(build_detectors(cfg), bucket_s=cfg.bucket_s, lateness_s=cfg.lateness_s,
                         injection=build_injection(cfg, injection_state))
