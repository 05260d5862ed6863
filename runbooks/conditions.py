"""The ``when`` language: small, safe conditions over an incident's plain data.

A condition reads like prose and is parsed with Python's ``ast`` module on a whitelist of node
types, then compiled into a tree of closures. Nothing is ever ``eval``'d, there are no calls, and a
dotted name only looks up keys of plain dicts (``evidence.observed`` is ``data["evidence"]["observed"]``):
no Python object, attribute or method is reachable. Names starting with ``_`` are refused.

Allowed: ``and``, ``or``, ``not``; ``== != < <= > >=``; ``in`` / ``not in``; ``+ - * / %`` on
numbers; numbers, strings, ``true``/``false``/``null``, lists ``[...]``; field names; ``labels["a-b"]``.
A missing field is ``null``; ordering or arithmetic with ``null`` (or across types) is false, not an error.

>>> c = Condition('evidence.observed > 3 * evidence.baseline and labels.model == "gpt-4o"')
>>> c.evaluate({"evidence": {"observed": 40, "baseline": 10}, "labels": {"model": "gpt-4o"}})
True
>>> c.evaluate({"evidence": {"observed": 20, "baseline": 10}, "labels": {"model": "gpt-4o"}})
False
>>> Condition("evidence.missing > 3").evaluate({"evidence": {}})
False
>>> Condition("__import__('os')")
Traceback (most recent call last):
...
runbooks.conditions.ConditionError: function calls are not allowed in a condition
"""

from __future__ import annotations

import ast
import difflib
import operator
from typing import Any, Callable

from pydantic_core import core_schema

from incidents.incident import IncidentEvent

MAX_LENGTH = 1000
MAX_NODES = 200

#: The top-level names a condition can read (see ``condition_data``).
ROOT_NAMES = (
    "event", "incident", "labels", "target", "evidence", "finding", "severity", "kind", "detector",
    "series", "score", "summary", "distinct",
)
_LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_ARITH: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_NODE_WORDS: dict[type, str] = {
    ast.Call: "function calls", ast.Lambda: "lambda", ast.IfExp: "if/else expressions",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.NamedExpr: "assignment (:=)", ast.Starred: "star expressions", ast.JoinedStr: "f-strings",
    ast.Dict: "dict literals", ast.Slice: "slices", ast.Pow: "the ** operator",
    ast.FloorDiv: "the // operator", ast.MatMult: "the @ operator", ast.LShift: "bit shifts",
    ast.RShift: "bit shifts", ast.BitAnd: "bit operators", ast.BitOr: "bit operators",
    ast.BitXor: "bit operators", ast.Invert: "the ~ operator", ast.Is: "is (use ==)",
    ast.IsNot: "is not (use !=)",
}

Fn = Callable[[dict], Any]


class ConditionError(ValueError):
    """The condition is not valid; ``column`` (1-based) points into its text when known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _lookup(data: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def _compare(op: type, left: Any, right: Any) -> bool:
    if op is ast.In or op is ast.NotIn:
        if isinstance(right, (list, tuple)):
            found = left in right
        elif isinstance(right, dict):
            found = isinstance(left, str) and left in right
        elif isinstance(right, str) and isinstance(left, str):
            found = left in right
        else:
            return False  # membership in null or a number is simply false, for `in` and `not in`
        return found if op is ast.In else not found
    if op in (ast.Eq, ast.NotEq):
        equal = left == right and (type(left) is type(right) or (_number(left) and _number(right)))
        return equal if op is ast.Eq else not equal
    same_kind = (_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str))
    return bool(same_kind and _COMPARE[op](left, right))


def _arith(op: type, left: Any, right: Any) -> Any:
    if not (_number(left) and _number(right)):
        return None  # no string repetition, no list concatenation: numbers only
    try:
        return _ARITH[op](left, right)
    except (ZeroDivisionError, OverflowError):
        return None


class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = 0

    def fail(self, node: ast.AST, message: str) -> ConditionError:
        col = getattr(node, "col_offset", None)
        return ConditionError(message, None if col is None else col + 1)

    def path(self, node: ast.expr) -> tuple[str | int, ...] | None:
        """``a.b["c"][0]`` → ("a", "b", "c", 0); None if ``node`` is not a field reference."""
        if isinstance(node, ast.Name):
            if node.id in _LITERAL_NAMES:
                return None
            if node.id.startswith("_"):
                raise self.fail(node, f'names starting with "_" are not allowed: "{node.id}"')
            if node.id not in ROOT_NAMES:
                close = difflib.get_close_matches(node.id, ROOT_NAMES, n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else f" (known: {', '.join(ROOT_NAMES)})"
                raise self.fail(node, f'unknown name "{node.id}"{hint}')
            return (node.id,)
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise self.fail(node, f'names starting with "_" are not allowed: "{node.attr}"')
            base = self.path(node.value)
            if base is None:
                raise self.fail(node, "a dotted name must start with a field name")
            return (*base, node.attr)
        if isinstance(node, ast.Subscript):
            key = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, (str, int))
                    and not isinstance(key.value, bool)):
                raise self.fail(node, "a [key] must be a string or an integer literal")
            if isinstance(key.value, str) and key.value.startswith("_"):
                raise self.fail(node, f'names starting with "_" are not allowed: "{key.value}"')
            base = self.path(node.value)
            if base is None:
                raise self.fail(node, "a [key] must follow a field name")
            return (*base, key.value)
        return None

    def compile(self, node: ast.AST) -> Fn:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConditionError(f"condition is too complex (more than {MAX_NODES} parts)")
        word = _NODE_WORDS.get(type(node))
        if word is not None:
            raise self.fail(node, f"{word} are not allowed in a condition" if word.endswith("s")
                            else f"{word} is not allowed in a condition")
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
                value = _LITERAL_NAMES[node.id]
                return lambda data: value
            path = self.path(node)
            return lambda data: _lookup(data, path)
        if isinstance(node, ast.Constant):
            value = node.value
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise self.fail(node, f"{type(value).__name__} literals are not allowed in a condition")
            return lambda data: value
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda data: all(bool(p(data)) for p in parts)
            return lambda data: any(bool(p(data)) for p in parts)
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda data: not operand(data)
            if isinstance(node.op, (ast.USub, ast.UAdd)):
                sign = -1 if isinstance(node.op, ast.USub) else 1
                return lambda data: sign * v if _number(v := operand(data)) else None
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _ARITH:
                word = _NODE_WORDS.get(op, f"the operator {op.__name__}")
                raise self.fail(node, f"{word} is not allowed in a condition")
            left, right = self.compile(node.left), self.compile(node.right)
            return lambda data: _arith(op, left(data), right(data))
        if isinstance(node, ast.Compare):
            for op_node in node.ops:
                if type(op_node) not in _COMPARE and not isinstance(op_node, (ast.In, ast.NotIn)):
                    raise self.fail(node, f"{_NODE_WORDS.get(type(op_node), type(op_node).__name__)}"
                                    " is not allowed in a condition")
            ops = [type(o) for o in node.ops]
            operands = [self.compile(node.left), *(self.compile(c) for c in node.comparators)]

            def compare(data: dict) -> bool:
                values = [f(data) for f in operands]
                return all(_compare(op, values[i], values[i + 1]) for i, op in enumerate(ops))

            return compare
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.compile(e) for e in node.elts]
            return lambda data: [f(data) for f in items]
        raise self.fail(node, f"{type(node).__name__} is not allowed in a condition")


class Condition:
    """A parsed ``when`` condition. ``str(c)`` is its source; pydantic fields accept a string."""

    __slots__ = ("source", "_fn")

    def __init__(self, source: str) -> None:
        if not isinstance(source, str):
            raise ConditionError(f"a condition must be a string, got {type(source).__name__}")
        self.source = source.strip()
        if not self.source:
            raise ConditionError("a condition must not be empty")
        if len(self.source) > MAX_LENGTH:
            raise ConditionError(f"condition is longer than {MAX_LENGTH} characters")
        try:
            tree = ast.parse(" ".join(self.source.splitlines()), mode="eval")
        except SyntaxError as exc:
            raise ConditionError(f"invalid condition: {exc.msg}", exc.offset) from None
        except (RecursionError, MemoryError, ValueError):
            raise ConditionError("condition is too complex to parse") from None
        self._fn = _Compiler(self.source).compile(tree.body)

    def evaluate(self, data: dict) -> bool:
        return bool(self._fn(data))

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: Any) -> core_schema.CoreSchema:
        from pydantic_core import PydanticCustomError

        def validate(value: Any) -> Condition:
            if isinstance(value, Condition):
                return value
            try:
                return cls(value)
            except ConditionError as exc:
                raise PydanticCustomError("condition", "{message}", {"message": exc.message}) from None

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


def _distinct(event: IncidentEvent, attr: str, detail_key: str) -> int:
    seen: set[str] = set()
    for finding in event.incident.findings:
        value = getattr(finding.target, attr)
        if value:
            seen.add(value)
        listed = finding.evidence.details.get(detail_key)
        if isinstance(listed, list):
            seen.update(str(v) for v in listed)
    own = getattr(event.incident.target, attr)
    if own:
        seen.add(own)
    return len(seen)


def condition_data(event: IncidentEvent) -> dict[str, Any]:
    """The plain data a condition reads (JSON types only).

    ``distinct.users`` / ``distinct.sessions`` / ``distinct.prompts`` count the different targets over
    the incident's kept findings (plus ``evidence.details.user_ids`` / ``session_ids`` lists).
    """
    incident = event.incident
    latest = incident.findings[-1] if incident.findings else None
    return {
        "event": event.event,
        "incident": incident.model_dump(mode="json", exclude={"findings", "executions"}),
        "labels": dict(incident.labels),
        "target": incident.target.model_dump(mode="json"),
        "evidence": latest.evidence.model_dump(mode="json") if latest else {},
        "finding": latest.model_dump(mode="json") if latest else {},
        "severity": incident.severity,
        "kind": incident.kind,
        "detector": incident.detector,
        "series": incident.series,
        "score": latest.score if latest else None,
        "summary": incident.summary,
        "distinct": {
            "users": _distinct(event, "user_id", "user_ids"),
            "sessions": _distinct(event, "session_id", "session_ids"),
            "prompts": _distinct(event, "prompt_id", "prompt_ids"),
            "findings": incident.finding_count,
        },
    }
