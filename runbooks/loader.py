"""Load runbook YAML files and report every problem as ``file:line: yaml.path: message``.

The YAML is composed into nodes (which know their line) and loaded as plain data; pydantic's error
locations are then mapped back to the node they came from. Unknown keys and step types get a
"did you mean". All message texts are in ``yamlconf.MESSAGES``.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "x.yaml").write_text("name: x\\ntrigger: {kind: cost}\\nsteps:\\n  - blok: {}\\n")
>>> for p in load_directory(d).problems: print(p)
x.yaml:4: steps[0]: unknown step "blok" (did you mean "block"?)
"""

from __future__ import annotations

import re  # PyYAML's resolver API takes stdlib patterns (fixed, trusted, anchored)
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from runbooks.schema import STEP_COMMON_KEYS, STEP_TYPES, Runbook, Step, params_model
from yamlconf import (
    MESSAGES, Problem, SafeLoader, YamlSyntaxError, hint, line_of, message, parse, type_name, wanted,
)

Seg = str | int


class _Loader(SafeLoader):
    """YAML 1.2 booleans: only true/false. (YAML 1.1 reads the trigger key `on:` as True.)
    Aliases are bounded (``yamlconf.loader``): no alias bomb, no recursive alias."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"),
)


@dataclass
class LoadResult:
    runbooks: list[Runbook] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class RunbookLoadError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def format_path(path: list[Seg]) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


#: pydantic's type errors, by the type that was wanted (said as ``MESSAGES["type"]``)
_TYPE_ERRORS: dict[str, type] = {
    "string_type": str, "int_type": int, "int_parsing": int, "int_from_float": int, "float_type": float,
    "float_parsing": float, "bool_type": bool, "bool_parsing": bool, "list_type": list, "dict_type": dict,
    "model_type": dict, "model_attributes_type": dict,
}


def _action_key(step: dict) -> str | None:
    """The key that ``Step`` takes as the action (same rule as ``Step._split``)."""
    actions = [k for k in step if k not in STEP_COMMON_KEYS]
    known = [k for k in actions if k in STEP_TYPES]
    return known[0] if known else (actions[0] if actions else None)


# ---- pydantic loc → path in the YAML data ---------------------------------------------------------

def _raw_path(loc: tuple[Seg, ...], data: Any) -> tuple[list[Seg], bool]:
    """Map ``loc`` to the path in the raw data; the flag is True when the error is about the step type."""
    path: list[Seg] = []
    cur = data
    for i, seg in enumerate(loc):
        if isinstance(cur, dict) and seg in ("type", "params") and seg not in cur:
            key = _action_key(cur)
            if key is not None:
                if seg == "type" and i == len(loc) - 1:
                    return path + [key], True
                path.append(key)
                cur = cur[key] if cur[key] is not None else {}
                continue
        if isinstance(seg, int) and not isinstance(cur, list):
            continue  # a scalar the schema took as a one-item list (`on: opened`)
        path.append(seg)
        if isinstance(cur, dict):
            cur = cur.get(seg)
        elif isinstance(cur, list) and isinstance(seg, int) and 0 <= seg < len(cur):
            cur = cur[seg]
        else:
            cur = None
    return path, False


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType")):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            structured = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)
                          or typing.get_origin(a) in (list, dict)]
            tp = (structured or args)[0]
        else:
            return tp


def _model_at(path: list[Seg]) -> Any:
    """The schema type at ``path`` of a runbook (None when it cannot be told)."""
    tp: Any = Runbook
    for seg in path:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp is Step and isinstance(seg, str) and seg not in STEP_COMMON_KEYS:
                try:
                    tp = params_model(seg)
                except KeyError:
                    return None
                continue
            fields = {(f.alias or n): f for n, f in tp.model_fields.items()}
            if seg not in fields:
                return None
            tp = fields[seg].annotation
        elif typing.get_origin(tp) is list and isinstance(seg, int):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)


def _allowed_keys(parent: list[Seg]) -> list[str]:
    tp = _model_at(parent)
    if tp is Step:
        return list(STEP_COMMON_KEYS)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


# ---- YAML nodes → lines ---------------------------------------------------------------------------

def _line_at(root: yaml.Node, path: list[Seg]) -> int:
    """The line of the key (or list item) at ``path``; the deepest existing parent when it is missing."""
    node = root
    line = line_of(root)
    for seg in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in reversed(node.value):  # the last one wins, after `<<:` merged ones
                if key_node.value == str(seg):
                    line, node = line_of(key_node), value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(seg, int) and seg < len(node.value):
            node = node.value[seg]
            line = line_of(node)
        else:
            return line
    return line


def _duplicate_keys(node: yaml.Node, path: list[Seg], out: list[tuple[int, list[Seg], str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                out.append((line_of(key_node), path, key))
            seen.add(key)
            _duplicate_keys(value_node, [*path, key], out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _duplicate_keys(item, [*path, i], out)


def _problems_from(exc: ValidationError, data: Any, root: yaml.Node, file: str) -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors():
        path, about_type = _raw_path(tuple(err["loc"]), data)
        kind = err["type"]
        ctx: dict[str, Any] = {k: v for k, v in (err.get("ctx") or {}).items()}
        ctx.setdefault("input", err.get("input"))
        ctx.setdefault("got", type_name(err.get("input")))
        ctx.setdefault("key", path[-1] if path else "")
        shown = path[:-1] if (about_type or kind in ("extra_forbidden", "missing")) else path
        if kind == "extra_forbidden":
            kind = "unknown"
            ctx.update(what="key", value=path[-1], hint=hint(str(path[-1]), _allowed_keys(path[:-1])))
        elif kind in _TYPE_ERRORS:
            kind, ctx["want"] = "type", wanted(_TYPE_ERRORS[kind])
        try:
            text = MESSAGES[kind].format(**ctx) if kind in MESSAGES else err["msg"]
        except (KeyError, IndexError, ValueError):
            text = err["msg"]
        if kind == "value_error":  # a validator's own message (e.g. a template's), without pydantic's prefix
            text = text.removeprefix("Value error, ")
        out.append(Problem(file, _line_at(root, path), format_path(shown), text))
    return out


def _template_problems(data: dict, root: yaml.Node, file: str) -> list[Problem]:
    from runbooks.templating import RenderError, check

    out: list[Problem] = []

    def walk(value: Any, path: list[Seg]) -> None:
        if isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value):
            try:
                check(value)
            except RenderError as exc:
                out.append(Problem(file, _line_at(root, path), format_path(path), str(exc)))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, [*path, k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, [*path, i])

    def steps(raw_steps: Any, prefix: list[Seg]) -> None:
        for i, raw in enumerate(raw_steps if isinstance(raw_steps, list) else []):
            if not isinstance(raw, dict) or (key := _action_key(raw)) is None:
                continue
            params = raw.get(key) if isinstance(raw.get(key), dict) else {}
            if key == "wait_for_ack":
                steps(params.get("escalate"), [*prefix, i, key, "escalate"])
            else:
                walk(params, [*prefix, i, key])

    steps(data.get("steps"), ["steps"])
    return out


def load_text(text: str, file: str) -> tuple[Runbook | None, list[Problem]]:
    """Parse and validate one runbook; ``file`` is the name used in messages."""
    try:
        document = parse(text, _Loader)
    except YamlSyntaxError as exc:
        return None, [Problem(file, exc.line, "", message("yaml", problem=exc.problem))]
    root = document.root
    if not isinstance(root, yaml.MappingNode):
        got = type_name(None if root is None else document.value(root))
        return None, [Problem(file, 1 if root is None else line_of(root), "", message("runbook_not_mapping", got=got))]
    dups: list[tuple[int, list[Seg], str]] = []
    _duplicate_keys(root, [], dups)  # before the values: building them merges `<<: *x` keys into the nodes
    data = document.value(root)
    problems = [Problem(file, line, format_path(path), message("duplicate_key", key=key))
                for line, path, key in dups]
    problems += _template_problems(data, root, file)
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        found = _problems_from(exc, data, root, file)
        seen = {(p.line, p.path) for p in found}  # an action's Params may check its templates too
        return None, sorted(found + [p for p in problems if (p.line, p.path) not in seen])
    if problems:
        return None, sorted(problems)
    runbook._source = file
    return runbook, []


def load_file(path: str | Path, *, display: str | None = None) -> tuple[Runbook | None, list[Problem]]:
    path = Path(path)
    name = display or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 1, "", message("runbook_unreadable", error=exc))]
    return load_text(text, name)


def runbook_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_directory(path: str | Path) -> LoadResult:
    """Load every ``*.yaml`` / ``*.yml`` under ``path`` (or the one file); names must be unique."""
    path = Path(path)
    base = path if path.is_dir() else path.parent
    result = LoadResult(files=runbook_files(path))
    seen: dict[str, str] = {}
    for file in result.files:
        runbook, problems = load_file(file, display=str(file.relative_to(base)))
        result.problems += problems
        if runbook is None:
            continue
        if runbook.name in seen:
            result.problems.append(Problem(runbook.source, 1, "name", message(
                "duplicate_runbook", name=runbook.name, other=seen[runbook.name])))
            continue
        seen[runbook.name] = runbook.source
        result.runbooks.append(runbook)
    return result


def load_runbooks(path: str | Path) -> list[Runbook]:
    """All runbooks under ``path``; raises ``RunbookLoadError`` listing every problem."""
    result = load_directory(path)
    if result.problems:
        raise RunbookLoadError(result.problems)
    return result.runbooks
