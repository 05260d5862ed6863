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
import difflib
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
from detectors.safe_yaml import SafeLoader
from detectors.suite import DetectorSuite

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

#: all messages in one table
MESSAGES = {
    "yaml": "invalid YAML: {problem}",
    "not_mapping": "expected a mapping (key: value), got {got}",
    "not_list": "expected a list of detectors, got {got}",
    "unknown_key": 'unknown key "{key}"{hint}',
    "missing": 'missing required key "{key}"',
    "type": "expected {want}, got {got}",
    "positive": "must be greater than 0, got {value}",
    "non_negative": "must be 0 or more, got {value}",
    "kind": 'unknown kind "{value}"{hint}; allowed: {allowed}',
    "name": 'name "{value}" may only contain letters, digits, "_", "." and "-"',
    "duplicate": 'duplicate detector name "{value}" (first defined on line {line})',
    "series": "{problem}",
    "quality_series": 'a quality detector compares prompt versions, so its series must not contain '
                      '"prompt_version" (use e.g. "prompt_id")',
    "multiple": "window_s {value} must be a whole multiple of bucket_s {bucket}",
    "budget_window": 'a budget\'s window is its period; use "period: hour|day" instead of window_s',
    "choice": '"{value}" is not allowed; allowed: {allowed}',
    "severity": 'unknown severity "{value}"; allowed: info, warning, critical',
    "field": "{problem}",
    "share": "must be a share of calls above 0 and at most 1, got {value}",
}


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


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Linter:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self._errors: list[tuple[int, str]] = []
        self.loader = SafeLoader(text)  # aliases bounded: no alias bomb, no recursive alias

    def error(self, node: yaml.Node | None, path: str, msg: str, **kw: Any) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        where = f"{path}: " if path else ""
        self._errors.append((line, f"{self.source}:{line}: {where}{MESSAGES[msg].format(**kw)}"))

    @property
    def errors(self) -> list[str]:
        """Every problem, in file order."""
        return [text for _, text in sorted(self._errors, key=lambda e: e[0])]

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, path: str) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, path, "not_mapping", got=_type_name(self.value(node)))
            return None
        return {str(k.value): (k, v) for k, v in node.value}

    def unknown(self, items: dict, allowed: Any, path: str) -> None:
        for key, (knode, _) in items.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.error(knode, f"{path}.{key}" if path else key, "unknown_key", key=key, hint=hint)

    def check_type(self, node: yaml.Node, path: str, value: Any, default: Any) -> bool:
        if isinstance(default, bool):
            ok, want = isinstance(value, bool), "true or false"
        elif isinstance(default, (int, float)) or default is None:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            want = "a number"
            if ok and isinstance(default, int) and not isinstance(value, int):
                ok, want = False, "a whole number"
        elif isinstance(default, str):
            ok, want = isinstance(value, str), "text"
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
            self.error(node, path, "type", want=want, got=_type_name(value))
        return ok

    # ---- the document ---------------------------------------------------------------------------------

    def run(self) -> DetectorConfig | None:
        cfg = DetectorConfig(source=self.source)
        try:
            root = self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self._errors.append((line, f"{self.source}:{line}: " + MESSAGES["yaml"].format(problem=exc.problem)))
            return None
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
                    self.error(vnode, "bucket_s", "positive", value=value)
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
                self.error(vnode, "detectors", "not_list", got=_type_name(self.value(vnode)))
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
        before = len(self._errors)
        for key in ("name", "kind"):
            if key not in items:
                self.error(node, path, "missing", key=key)
        kind_cls = None
        if "kind" in items:
            kn = items["kind"][1]
            kind = self.value(kn)
            kind_cls = KINDS.get(kind) if isinstance(kind, str) else None
            if kind_cls is None:
                close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.error(kn, f"{path}.kind", "kind", value=kind, hint=hint, allowed=", ".join(KINDS))
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
                self.error(nn, f"{path}.name", "name", value=name)
            elif name in seen:
                self.error(nn, f"{path}.name", "duplicate", value=name, line=seen[name])
            else:
                seen[name] = nn.start_mark.line + 1
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
                    self.error(vn, p, "series", problem=problem)
                if not problems and kind_cls is QualityRegression and "prompt_version" in SeriesSpec(value).fields:
                    self.error(vn, p, "quality_series")
            elif key == "window_s":
                if kind_cls is Budget:
                    self.error(vn, p, "budget_window")
                elif value <= 0:
                    self.error(vn, p, "positive", value=value)
                elif abs(value / bucket_s - round(value / bucket_s)) > 1e-9:
                    self.error(vn, p, "multiple", value=value, bucket=bucket_s)
            elif key in ("warmup", "min_volume", "cooldown_s", "min_window_calls") and value < 0:
                self.error(vn, p, "non_negative", value=value)
            elif key in ("limit", "ratio", "z", "half_life_s", "max_requests_per_min", "max_tokens_per_min",
                         "min_hits", "consecutive", "season_days", "max_versions", "min_signals",
                         "recent_windows", "max_models", "rate_ratio") and value <= 0:
                self.error(vn, p, "positive", value=value)
            elif key == "share" and not 0 < value <= 1:
                self.error(vn, p, "share", value=value)
            elif key == "period" and value not in PERIODS:
                self.error(vn, p, "choice", value=value, allowed=", ".join(PERIODS))
            elif key == "measure" and value not in MEASURES:
                self.error(vn, p, "choice", value=value, allowed=", ".join(MEASURES))
            elif key == "direction" and value not in DIRECTIONS:
                self.error(vn, p, "choice", value=value, allowed=", ".join(DIRECTIONS))
            elif key == "field" and field_problem(value):
                self.error(vn, p, "field", problem=field_problem(value))
            out[key] = value
        if "severity" in items:
            sn = items["severity"][1]
            sev = self.mapping(sn, f"{path}.severity")
            if sev is not None:
                levels = {}
                for level, (ln, lv) in sev.items():
                    value = self.value(lv)
                    if level not in SEVERITIES:
                        self.error(ln, f"{path}.severity.{level}", "severity", value=level)
                    elif self.check_type(lv, f"{path}.severity.{level}", value, 1.0):
                        levels[level] = float(value)
                out["severity"] = levels
        if len(self._errors) > before:
            return None
        return out


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
