"""Lint: refuse at load time what can never render within the limits (``'a' * 10**9``, ``range(10**6)``,
nested loops over constants whose product is over the step budget)."""

from __future__ import annotations

from typing import Any

from jinja2 import nodes

from runbooks.templating.errors import RenderError, TemplateLimitError
from runbooks.templating.limits import (
    _COUNTED, MAX_STEPS, _binop, _built, _check_filter, _concat, _range,
)
from runbooks.templating.sandbox import _compile, _environment

_UNKNOWN = object()
_BINOP_NODES = {nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Div: "/", nodes.FloorDiv: "//",
                nodes.Mod: "%", nodes.Pow: "**"}


def _fold(node: nodes.Node, memo: dict[int, Any]) -> Any:
    """The value of a constant expression, computed with the same bounds as at render time."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = _UNKNOWN
    value: Any = _UNKNOWN
    try:
        if isinstance(node, nodes.Const):
            value = node.value
        elif isinstance(node, (nodes.List, nodes.Tuple)):
            items = [_fold(i, memo) for i in node.items]
            if _UNKNOWN not in items:
                value = _built(items if isinstance(node, nodes.List) else tuple(items))
        elif type(node) in _BINOP_NODES:
            left, right = _fold(node.left, memo), _fold(node.right, memo)
            if left is not _UNKNOWN and right is not _UNKNOWN:
                value = _binop(_BINOP_NODES[type(node)], left, right)
        elif isinstance(node, nodes.Neg):
            inner = _fold(node.node, memo)
            value = -inner if isinstance(inner, (int, float)) else _UNKNOWN
        elif isinstance(node, nodes.Concat):
            parts = [_fold(n, memo) for n in node.nodes]
            if _UNKNOWN not in parts:
                value = _concat(tuple(parts))
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "range":
            args = [_fold(a, memo) for a in node.args]
            if not node.kwargs and node.dyn_args is None and _UNKNOWN not in args:
                value = _range(*args)
        elif isinstance(node, nodes.Filter) and node.node is not None:
            subject = _fold(node.node, memo)
            args = [_fold(a, memo) for a in node.args]
            kwargs = {k.key: _fold(k.value, memo) for k in node.kwargs}
            if subject is not _UNKNOWN and _UNKNOWN not in args and _UNKNOWN not in kwargs.values():
                _check_filter(node.name, subject, tuple(args), kwargs)
    except TemplateLimitError as exc:
        if str(exc).startswith("template error"):  # raised by an inner node, which named its line
            raise
        raise TemplateLimitError(f"template error (template line {node.lineno}): {exc}") from None
    except Exception:  # noqa: BLE001 - 1/0, 'a' - 1 …: a render-time error, not lint's business
        value = _UNKNOWN
    memo[key] = value
    return value


def _loops(node: nodes.Node, outer: int, memo: dict[int, Any]) -> None:
    """Nested loops over constant ranges/lists whose product is over the step budget can never finish."""
    for child in node.iter_child_nodes():
        times = outer
        if isinstance(child, nodes.For):
            source = child.iter.node if isinstance(child.iter, nodes.Filter) and child.iter.name == _COUNTED \
                else child.iter
            items = _fold(source, memo)
            times = outer * (len(items) if isinstance(items, (range, list, tuple, str, dict)) else 1)
            if times > MAX_STEPS:
                raise TemplateLimitError(
                    f"template error (template line {child.lineno}): these nested loops run {times:,} "
                    f"times; a render may take at most {MAX_STEPS:,} steps")
        _loops(child, times, memo)


def _lint(template: str) -> None:
    tree = _environment("plain").parse(template)
    memo: dict[int, Any] = {}
    for node in tree.find_all(nodes.Expr):
        _fold(node, memo)
    _loops(tree, 1, memo)


def check(template: str) -> None:
    """Compile ``template`` (for lint): raises ``RenderError`` on a syntax error and
    ``TemplateLimitError`` on constant work that is over a limit (``'a' * 10**9``, ``range(10**6)``,
    nested loops whose product is over the step budget)."""
    _compile(template, "plain")
    try:
        _lint(template)
    except (RecursionError, MemoryError):
        raise TemplateLimitError("template error: the template is nested too deeply") from None


def check_each(templates: dict[str, str], where: str) -> dict[str, str]:
    """``check`` every template of a mapping; a ``ValueError`` names the key (``where.name``)."""
    for name, template in templates.items():
        try:
            check(template)
        except RenderError as exc:
            raise ValueError(f"{where}.{name}: {exc}") from None
    return templates
