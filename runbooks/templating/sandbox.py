"""The sandbox: Jinja2's immutable sandbox with every operator, call, filter, test, loop and piece of
output routed through the hooks of ``runbooks.templating.limits``; compiled templates are cached."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from types import BuiltinFunctionType, BuiltinMethodType
from typing import Any, Callable

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.compiler import CodeGenerator, operators
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from runbooks.templating.errors import RenderError, TemplateLimitError
from runbooks.templating.escaping import ESCAPERS
from runbooks.templating.limits import (
    _CHARGE, _COUNTED, CHARS_PER_STEP, MAX_TEMPLATE_CHARS, MAX_VALUE_SIZE, NODES_PER_STEP, _binop,
    _bounded_filter, _bounded_test, _built, _charge, _charge_filter, _charged, _check_braces,
    _check_method, _concat, _cost, _counted, _join_buffer, _range, _size, _template_text, _too_big,
)


class _CodeGenerator(CodeGenerator):
    """Routes what Jinja compiles to plain Python through the hooks of ``_Sandbox``."""

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        self.write("environment.tw_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Operand(self, node: nodes.Operand, frame: Any) -> None:
        self.write(f" {operators[node.op]} environment.tw_charged(")
        self.visit(node.expr, frame)
        self.write(")")

    def visit_Getitem(self, node: nodes.Getitem, frame: Any) -> None:
        if isinstance(node.arg, nodes.Slice):  # a slice copies: count it
            self.write("environment.tw_built(")
            super().visit_Getitem(node, frame)
            self.write(")")
        else:
            super().visit_Getitem(node, frame)

    def _literal(self, visit: Callable, node: Any, frame: Any) -> None:
        self.write("environment.tw_built(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Any) -> None:
        self._literal(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Any) -> None:
        self._literal(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Any) -> None:
        if node.ctx == "load":
            self._literal(super().visit_Tuple, node, frame)
        else:
            super().visit_Tuple(node, frame)

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.tw_text({super()._output_const_repr(group)})"


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every operator, call, filter and test bounded and counted."""

    intercepted_binops = frozenset(SandboxedEnvironment.default_binop_table)
    intercepted_unops = frozenset(SandboxedEnvironment.default_unop_table)
    code_generator_class = _CodeGenerator
    concat = staticmethod(_join_buffer)  # type: ignore[assignment]
    tw_concat = staticmethod(_concat)
    tw_charged = staticmethod(_charged)
    tw_built = staticmethod(_built)
    tw_text = staticmethod(_template_text)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(optimized=False, **kwargs)  # no constant folding of `10 ** 10**8` at compile time
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)  # lipsum(n=10**6): nothing a runbook needs
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.tests = {name: _bounded_test(f) for name, f in self.tests.items()}
        self.filters[_COUNTED] = _counted
        self.filters[_CHARGE] = _charge_filter

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Count every loop item, and charge each run of a loop, macro or call body for its size
        (what runs in it without a hook: names, attributes, ``if``, ``and`` …)."""
        tree = super()._parse(source, name, filename)
        for scope in list(tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock))):
            size = sum(1 for stmt in scope.body for _ in stmt.find_all(nodes.Node)) + len(scope.body)
            charge = nodes.Filter(nodes.Const(1 + size // NODES_PER_STEP), _CHARGE, [], [], None, None,
                                  lineno=scope.lineno)
            scope.body.insert(0, nodes.ExprStmt(charge, lineno=scope.lineno))
            if isinstance(scope, nodes.For):
                scope.iter = nodes.Filter(scope.iter, _COUNTED, [], [], None, None, lineno=scope.iter.lineno)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return _binop(operator, left, right)

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        _charge(1)
        return _built(self.unop_table[operator](arg))

    def getitem(self, obj: Any, argument: Any) -> Any:
        _charge(1)
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _charge((3 if isinstance(__obj, Macro) else 1) + sum(_cost(a) for a in (*args, *kwargs.values())))
        if isinstance(__obj, (BuiltinMethodType, BuiltinFunctionType)):
            args = _check_method(__obj, args, kwargs)
        return _built(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            if value.__name__ == "format_map" and len(args) == 1 and isinstance(args[0], dict):
                _check_braces(fmt, (), args[0])
            else:
                _check_braces(fmt, args, kwargs)
            return wrapper(*args, **kwargs)

        return bounded


def _bounded_finalize(escaper: Callable[[Any], str]) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        if not isinstance(value, str) and _size(value) > MAX_VALUE_SIZE:
            raise _too_big("printing this value")
        out = escaper(value)
        _charge(1 + len(out) // CHARS_PER_STEP)
        return out

    return finalize


@lru_cache(maxsize=None)
def _environment(escape: str) -> _Sandbox:
    try:
        finalize = ESCAPERS[escape]
    except KeyError:
        raise RenderError(f"unknown escape {escape!r}; allowed: {', '.join(ESCAPERS)}") from None
    return _Sandbox(
        undefined=StrictUndefined, finalize=_bounded_finalize(finalize), autoescape=False,
        keep_trailing_newline=True,
    )


def _template_line(exc: BaseException) -> int | None:
    """The template line an exception was raised at (Jinja rewrites tracebacks to ``<template>``)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@lru_cache(maxsize=2048)
def _compile(template: str, escape: str):
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateLimitError(f"the template is {len(template):,} characters long; the limit is "
                                 f"{MAX_TEMPLATE_CHARS:,}")
    try:
        return _environment(escape).from_string(template)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (template line {line})" if line else ""
        raise RenderError(f"template error{where}: {exc.message or exc}") from None
    except (RecursionError, MemoryError):
        raise TemplateLimitError("template error: the template is nested too deeply") from None
