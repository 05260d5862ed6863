"""Sandboxed templates for runbook steps: the SRE's template, the incident's data, escaped per destination.

The template comes from the runbook YAML (trusted); the data includes trace text (hostile). So:

- templates are compiled by Jinja2's ``ImmutableSandboxedEnvironment`` (no attribute games, no mutation);
- every ``{{ value }}`` is escaped for where the rendered string goes (``finalize``), never re-rendered,
  so ``{{ }}`` / ``{% %}`` inside trace text comes out literally and does nothing;
- undefined names are errors (``StrictUndefined``); write ``{{ labels.user_id | default("-") }}``
  for a value that may be absent;
- the work and memory a template may use are bounded (``MAX_*`` below): sizes are checked before a
  value is built, every render has a step budget, output stops at ``MAX_RENDERED_CHARS`` as it is
  produced, and lint (``check``) refuses constant work that can never fit (``'a' * 10**9``).

>>> render("{{ incident.id }}: {{ text }}", {"incident": {"id": "inc-1"}, "text": "<!here> {{ 7*7 }}"}, "slack")
'inc-1: &lt;!here&gt; {{ 7*7 }}'
>>> render("https://x.example/search?q={{ q }}", {"q": "a b&c"}, "url")
'https://x.example/search?q=a%20b%26c'
>>> render('{"summary": {{ s }}}', {"s": 'say "hi"'}, "json")
'{"summary": "say \\\\"hi\\\\""}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from functools import lru_cache
from string import Formatter as _Formatter
from types import BuiltinFunctionType, BuiltinMethodType
from typing import TYPE_CHECKING, Any, Callable, Literal
from urllib.parse import quote

import re2
from jinja2 import StrictUndefined, TemplateError, nodes, pass_context
from jinja2.compiler import CodeGenerator, operators
from jinja2.runtime import Macro, Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.utils import _PassArg

if TYPE_CHECKING:
    from incidents.incident import Incident, IncidentEvent

#: Where a rendered string goes decides how it is escaped (``ESCAPERS`` below).
Escape = Literal["plain", "slack", "pagerduty", "url", "json"]

PAGERDUTY_SUMMARY_MAX = 1024
MAX_RENDERED_CHARS = 100_000  # a template loop over hostile data must not build a huge string
ELLIPSIS = "…"

# C0 and C1 control characters, DEL, and the Unicode bidi overrides / isolates (text direction tricks).
_CONTROL = re2.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]")
_CONTROL_AND_NEWLINES = re2.compile(r"[\x00-\x1f\x7f-\x9f\x{202a}-\x{202e}\x{2066}-\x{2069}]")
_SLACK_BROADCAST = re2.compile(r"(?i)@(channel|here|everyone|group)\b")
_ZWSP = "\u200b"


class RenderError(ValueError):
    """A template failed to compile or render (syntax error, undefined name, sandbox violation)."""


def strip_control(text: str, *, keep_newlines: bool = True) -> str:
    """Remove control and bidi-override characters (tabs and, by default, newlines survive)."""
    return (_CONTROL if keep_newlines else _CONTROL_AND_NEWLINES).sub("", text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def escape_slack(value: Any) -> str:
    """Slack mrkdwn: no links, no mentions, no bold/italic/strike, no way to close the template's code span.

    >>> escape_slack("<https://evil|click> <!channel> <@U123> @here `x`")
    '&lt;https://evil|click&gt; &lt;!channel&gt; &lt;@U123&gt; @\\u200bhere ˋxˋ'
    """
    text = strip_control(_text(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SLACK_BROADCAST.sub(lambda m: "@" + _ZWSP + m.group(1), text)
    return _defuse_marks(text.replace("`", "\u02cb"))  # MODIFIER LETTER GRAVE ACCENT: looks alike, is not markup


# Slack has no escape for *bold*, _italic_ and ~strike~; a marker at a word's edge is swapped for a look-alike
# (inside a word, as in snake_case ids, Slack does not format, so ids stay as they were sent).
_SLACK_MARKS = {"*": "\u2217", "_": "\uff3f", "~": "\u223c"}


def _defuse_marks(text: str) -> str:
    """
    >>> _defuse_marks("*urgent* _now_ ~x~ budget_user_daily 2*3")
    '∗urgent∗ ＿now＿ ∼x∼ budget_user_daily 2*3'
    """
    if not any(mark in text for mark in _SLACK_MARKS):
        return text
    chars = list(text)
    last = len(chars) - 1
    for i, ch in enumerate(chars):
        if ch in _SLACK_MARKS:
            inside = 0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()
            if not inside:
                chars[i] = _SLACK_MARKS[ch]
    return "".join(chars)


def escape_pagerduty(value: Any) -> str:
    """Plain text on one line: control characters (newlines included) removed."""
    return strip_control(_text(value).replace("\n", " ").replace("\r", " ").replace("\t", " "),
                         keep_newlines=False)


def escape_url(value: Any) -> str:
    """Percent-encode everything but unreserved characters (a value cannot add a path or a query)."""
    return quote(_text(value), safe="")


def escape_json(value: Any) -> str:
    """A complete JSON value: ``{{ x }}`` stands for a string, number, list, object, true/false or null."""
    if isinstance(value, str):
        value = strip_control(value)
    return json.dumps(value, ensure_ascii=True, default=str)


def escape_plain(value: Any) -> str:
    return _text(value)


ESCAPERS: dict[str, Callable[[Any], str]] = {
    "slack": escape_slack,
    "pagerduty": escape_pagerduty,
    "url": escape_url,
    "json": escape_json,
    "plain": escape_plain,
}


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with an ellipsis.

    >>> truncate("abcdef", 4), truncate("abc", 4)
    ('abc…', 'abc')
    """
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


# ---- bounded work and memory ----------------------------------------------------------------------
# Jinja's sandbox stops attribute games, not exhaustion: `'a' * 10**10`, `10 ** 10**8`, nested loops
# and exponential string doubling are all "safe" to it. Every operator, call, filter, test, loop item,
# comparison, concatenation, slice, list literal and piece of output below goes through a hook that
# (1) refuses, before doing it, anything that would build a value over MAX_VALUE_SIZE (or an integer
# over MAX_INT_BITS), and (2) charges the render's step budget for the work done. A render that runs
# out of steps stops with a TemplateLimitError; so does everything after it (the budget stays spent).

MAX_TEMPLATE_CHARS = 20_000  # the template's own text
MAX_VALUE_SIZE = 1_000_000  # characters + items of one value a template builds (nested values count)
MAX_INT_BITS = 4_096  # an integer a template computes (about 1,233 decimal digits)
MAX_RANGE = 100_000  # items of one range() (Jinja's own limit)
MAX_PAD = 1_000  # a width or precision in a % format or a str.format spec
MAX_JSON_INDENT = 8  # tojson(indent=...)
MAX_STEPS = 100_000  # work per render: loop items, calls, filters, operators, items touched …
CHARS_PER_STEP = 100  # … and characters built or compared (C speed), this many per step
NODES_PER_STEP = 1  # each run of a loop/macro body also costs its size: a step per syntax node

_BUDGET: ContextVar[_Budget | None] = ContextVar("tracewatch_template_budget", default=None)


class TemplateLimitError(RenderError):
    """A template would exceed a size limit or its step budget (see the limits above)."""


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps


def _charge(steps: int) -> None:
    budget = _BUDGET.get()
    if budget is None:  # compile time (constant folding) or lint: nothing to count
        return
    budget.left -= steps
    if budget.left < 0:
        raise TemplateLimitError(
            f"the template did more than {MAX_STEPS:,} steps of work (loop items, calls, filters, "
            f"operators, {CHARS_PER_STEP} characters built; a step's templates share them); simplify it")


def _too_big(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what} would be larger than {MAX_VALUE_SIZE:,} characters/items")


def _measure(value: Any, limit: int = MAX_VALUE_SIZE) -> tuple[int, int, int]:
    """(characters, items, depth) of ``value``, nested values included; stops once past ``limit``.

    Walking costs a step per item, so a walk longer than the steps left ends the render.
    """
    budget = _BUDGET.get()
    max_items = budget.left if budget is not None else limit
    chars = items = depth = 0
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        depth = max(depth, d)
        if isinstance(v, (str, bytes)):
            chars += len(v)
        elif isinstance(v, bool) or v is None or isinstance(v, float):
            chars += 1
        elif isinstance(v, int):
            chars += 1 + v.bit_length() // 3
        elif isinstance(v, (list, tuple, set, frozenset)):
            items += len(v)
            if chars + items <= limit:
                stack.extend((x, d + 1) for x in v)
        elif isinstance(v, dict):
            items += len(v)
            if chars + items <= limit:
                stack.extend((x, d + 1) for x in v)
                stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, Namespace):  # {% set ns.attr = ... %} can hide a big value in a small one
            try:
                stack.append((object.__getattribute__(v, "_Namespace__attrs"), d + 1))
            except AttributeError:  # pragma: no cover - another Jinja version: count the object as one
                chars += 1
        else:
            chars += 1
        if chars + items > limit:
            break
        if items > max_items:
            _charge(items)  # more than is left: raises
    return chars, items, depth


def _size(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    chars, items, _ = _measure(value, limit)
    return chars + items


def _cost(value: Any) -> int:
    chars, items, _ = _measure(value)
    return items + chars // CHARS_PER_STEP


def _built(value: Any, what: str = "the result") -> Any:
    """Check and charge a value the template just built."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would be an integer of more than {MAX_INT_BITS:,} bits")
    chars, items, _ = _measure(value)
    if chars + items > MAX_VALUE_SIZE:
        raise _too_big(what)
    _charge(1 + items + chars // CHARS_PER_STEP)
    return value


def _check_int_args(what: str, args: tuple, kwargs: dict) -> None:
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_VALUE_SIZE:
            raise TemplateLimitError(f"{what}: the argument {arg!r} is larger than {MAX_VALUE_SIZE:,}")


def _check_pad(what: str, *values: Any) -> None:
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_PAD:
            raise TemplateLimitError(f"{what}: a width, precision or indent of {v} is over {MAX_PAD:,}")


_PERCENT = re2.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.?)")
_FORMAT_SPEC = re2.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?")


def _check_percent(fmt: str, args: Any) -> None:
    """``fmt % args`` (and ``|format``): widths and precisions are bounded, and so is the result."""
    fields = 0
    for m in _PERCENT.finditer(fmt):
        if m.group(3) == "%":
            continue
        if "*" in (m.group(1), m.group(2)):
            raise TemplateLimitError("a '*' width or precision is not allowed in a % format")
        _check_pad("a % format", *(int(g) for g in m.group(1, 2) if g))
        fields += 1
    _check_fields(fmt, fields, args.values() if isinstance(args, dict) else
                  args if isinstance(args, tuple) else (args,))


def _check_braces(fmt: str, args: tuple, kwargs: dict) -> None:
    """``fmt.format(...)``: no nested fields in a format spec, bounded widths, bounded result."""
    fields = 0
    for _, name, spec, _ in _Formatter().parse(fmt):
        if name is None:
            continue
        if spec and "{" in spec:
            raise TemplateLimitError("a nested {…} inside a format spec is not allowed")
        m = _FORMAT_SPEC.match(spec or "")
        _check_pad("a format spec", *(int(g) for g in m.group(1, 2) if g) if m else ())
        fields += 1
    _check_fields(fmt, fields, (*args, *kwargs.values()))


def _check_fields(fmt: str, fields: int, args: Any) -> None:
    biggest = max((_size(a) for a in args), default=0)
    if len(fmt) + fields * (biggest + MAX_PAD) > MAX_VALUE_SIZE:
        raise _too_big(f"a format with {fields} field(s)")


def _check_method(obj: Any, args: tuple, kwargs: dict) -> tuple:
    """Before calling a builtin method (``s.replace(...)``, ``sep.join(...)``): may its result be too big?"""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    _check_int_args(f".{name}()", args, kwargs)
    if isinstance(owner, (str, bytes)):
        if name == "join" and args:
            parts = list(args[0]) if not isinstance(args[0], (list, tuple)) else args[0]
            if sum(_size(p) for p in parts) + len(owner) * len(parts) > MAX_VALUE_SIZE:
                raise _too_big(".join()")
            args = (parts, *args[1:])
        elif name == "replace" and len(args) >= 2 and isinstance(args[0], type(owner)):
            old, new = args[0], args[1]
            times = len(owner) + 1 if not old else owner.count(old)
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                times = min(times, args[2])
            if len(owner) + times * max(0, _size(new) - len(old)) > MAX_VALUE_SIZE:
                raise _too_big(".replace()")
        elif name == "expandtabs":
            tab = args[0] if args else kwargs.get("tabsize", 8)
            if isinstance(tab, int) and len(owner) + owner.count(type(owner)("\t")) * tab > MAX_VALUE_SIZE:
                raise _too_big(".expandtabs()")
        elif name == "translate" and args and isinstance(args[0], dict):
            widest = max((_size(v) for v in args[0].values()), default=1)
            if len(owner) * max(widest, 1) > MAX_VALUE_SIZE:
                raise _too_big(".translate()")
    return args


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_filter(name: str, value: Any, args: tuple, kwargs: dict) -> None:
    """Before running filter ``name``: refuse arguments that would build too big a value."""
    _check_int_args(f"|{name}", args, kwargs)
    text = value if isinstance(value, str) else None
    length = len(text) if text is not None else _size(value)
    if name == "indent":
        width = _arg(args, kwargs, 0, "width", 4)
        pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        lines = text.count("\n") + 1 if text is not None else length + 1
        if length + lines * pad > MAX_VALUE_SIZE:
            raise _too_big("|indent")
    elif name == "wordwrap":
        width = _arg(args, kwargs, 0, "width", 79)
        wrap = _arg(args, kwargs, 2, "wrapstring", None)
        lines = length // max(width, 1) + (text.count("\n") if text is not None else length) + 1 \
            if isinstance(width, int) else length + 1
        if length + lines * (_size(wrap) if wrap is not None else 1) > MAX_VALUE_SIZE:
            raise _too_big("|wordwrap")
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), args[1]
        times = (len(text) + 1 if not old else text.count(old)) if text is not None else length + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            times = min(times, args[2])
        if length + times * max(0, _size(new) - len(old)) > MAX_VALUE_SIZE:
            raise _too_big("|replace")
    elif name == "join":
        sep = _arg(args, kwargs, 0, "d", "")
        items = len(value) if isinstance(value, (list, tuple, dict, str)) else length
        if length + items * _size(sep) > MAX_VALUE_SIZE:
            raise _too_big("|join")
    elif name == "format" and text is not None:
        _check_percent(text, kwargs if kwargs else tuple(args))
    elif name == "tojson":
        indent = _arg(args, kwargs, 0, "indent", None)
        if isinstance(indent, int) and not isinstance(indent, bool):
            if indent > MAX_JSON_INDENT:
                raise TemplateLimitError(f"|tojson: indent {indent} is over {MAX_JSON_INDENT}")
            chars, items, depth = _measure(value)
            if chars + items * (4 + indent * depth) > MAX_VALUE_SIZE:
                raise _too_big("|tojson")
    elif name == "sum":
        start = _arg(args, kwargs, 1, "start", 0)
        if not isinstance(start, (int, float)):
            raise TemplateLimitError("|sum adds numbers only (start must be a number)")


# Filters run at different speeds: (steps per item, characters per step) of their input, so that a
# step is about a microsecond of work whatever the filter.
_FILTER_RATES: dict[str, tuple[int, int]] = {
    "pprint": (10, 10), "sort": (3, CHARS_PER_STEP), "unique": (3, CHARS_PER_STEP),
    "groupby": (3, CHARS_PER_STEP), "dictsort": (3, CHARS_PER_STEP), "min": (3, CHARS_PER_STEP),
    "max": (3, CHARS_PER_STEP), "urlize": (1, 1), "wordwrap": (1, 3), "title": (1, 5), "xmlattr": (1, 5),
    "urlencode": (1, 10), "striptags": (1, 20), "wordcount": (1, 20), "capitalize": (1, 50),
}
# These iterate a string character by character: each character is an item.
_ITERATING = frozenset({"batch", "slice", "list", "unique", "sort", "groupby", "map", "select", "reject",
                        "selectattr", "rejectattr", "sum", "min", "max", "join", "random", "first", "last"})


def _filter_cost(name: str, value: Any, args: tuple, kwargs: dict) -> int:
    chars, items, _ = _measure(value)
    if isinstance(value, str) and name in _ITERATING:
        chars, items = 0, len(value)
    per_item, chars_per_step = _FILTER_RATES.get(name, (1, CHARS_PER_STEP))
    return 2 + per_item * items + chars // chars_per_step + sum(_cost(a) for a in (*args, *kwargs.values()))


def _bounded_filter(name: str, func: Callable) -> Callable:
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    def bounded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if name in ("join", "sum", "list", "unique", "sort") and isinstance(value, Iterator):
            value = [_built(v, f"|{name}") for v in value]  # a lazy map()/select(): count it as it comes
        _charge(_filter_cost(name, value, args, kwargs))
        _check_filter(name, value, args, kwargs)
        if pass_arg is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return result if isinstance(result, Iterator) else _built(result, f"|{name}")

    return bounded


def _bounded_test(func: Callable) -> Callable:
    pass_arg = _PassArg.from_obj(func)

    @pass_context
    def bounded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        _charge(1 + _cost(value) + sum(_cost(a) for a in (*args, *kwargs.values())))
        if pass_arg is _PassArg.context:
            return func(context, value, *args, **kwargs)
        if pass_arg is _PassArg.eval_context:
            return func(context.eval_ctx, value, *args, **kwargs)
        if pass_arg is _PassArg.environment:
            return func(context.environment, value, *args, **kwargs)
        return func(value, *args, **kwargs)

    return bounded


def _range(*args: Any) -> range:
    _charge(1)
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise TemplateLimitError(f"range() of {len(items):,} items; the limit is {MAX_RANGE:,}")
    return items


def _binop(op: str, left: Any, right: Any) -> Any:
    """``left op right`` with its size checked first: no huge power, repetition, concatenation, format."""
    _charge(1)
    ints = all(isinstance(v, int) for v in (left, right))
    if op == "**" and ints and right > 0 and abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
        raise TemplateLimitError(f"{left} ** {right} would be an integer of more than {MAX_INT_BITS:,} bits")
    if op == "*":
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"the product would be an integer of more than {MAX_INT_BITS:,} bits")
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(times, int) and isinstance(seq, (str, bytes, list, tuple)) and times > 0 \
                and _size(seq) * times > MAX_VALUE_SIZE:
            raise _too_big(f"repeating a value {times:,} times")
    if op == "+" and all(isinstance(v, (str, bytes, list, tuple)) for v in (left, right)) \
            and _size(left) + _size(right) > MAX_VALUE_SIZE:
        raise _too_big("the sum")
    if op == "%" and isinstance(left, str):
        _check_percent(left, right)
    return _built(_BINOPS[op](left, right))


_BINOPS: dict[str, Callable[[Any, Any], Any]] = dict(SandboxedEnvironment.default_binop_table)


def _concat(parts: tuple) -> str:
    """``a ~ b``: checked before the strings are made."""
    if sum(_size(p) for p in parts) > MAX_VALUE_SIZE:
        raise _too_big("the ~ concatenation")
    return _built("".join(map(str, parts)))


def _join_buffer(parts: Iterable[str]) -> str:
    """A captured block (macro body, ``{% set %}…{% endset %}``, ``{% filter %}``): bounded."""
    parts = list(parts)
    if sum(map(len, parts)) > MAX_VALUE_SIZE:
        raise _too_big("a captured block")
    return "".join(parts)


_COUNTED = "_tw_counted"  # the filter every {% for %} iterable is wrapped in (by _Sandbox._parse)


@pass_context  # never folded at compile time
def _counted(context: Any, iterable: Any) -> Iterator[Any]:
    """A ``{% for %}`` loop's items, one step each."""
    for item in iterable:
        _charge(1)
        yield item


_CHARGE = "_tw_charge"  # the filter that charges a body's size (by _Sandbox._parse)


@pass_context
def _charge_filter(context: Any, steps: int) -> None:
    _charge(steps)


def _charged(value: Any) -> Any:
    """The right side of ``==``, ``<``, ``in`` …: comparing costs what the value weighs."""
    _charge(1 + _cost(value))
    return value


def _template_text(value: str) -> str:
    """Literal template text being output."""
    _charge(1 + len(value) // CHARS_PER_STEP)
    return value


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


# ---- lint: what can never be safe -----------------------------------------------------------------

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


def new_budget() -> _Budget:
    """A step budget of ``MAX_STEPS`` to share between renders (the engine gives each step attempt one,
    so a step with many templates — PagerDuty custom details, Slack fields — is bounded as a whole)."""
    return _Budget(MAX_STEPS)


def render(template: str, data: dict[str, Any], escape: Escape, *, budget: _Budget | None = None) -> str:
    """Render the trusted ``template`` with ``data``, every value escaped for ``escape``.

    Output is collected as it is produced and stops at ``MAX_RENDERED_CHARS`` (an error, except for
    ``pagerduty``, which is cut to the Events API's 1024-character summary limit). The work is bounded
    by ``budget`` (default: a fresh ``MAX_STEPS``); any failure (a limit, an undefined name,
    ``MemoryError``, ``RecursionError`` …) is a ``RenderError``.
    """
    compiled = _compile(template, escape)
    token = _BUDGET.set(budget if budget is not None else new_budget())
    chunks = compiled.generate(data)
    parts: list[str] = []
    length = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            length += len(chunk)
            if length > MAX_RENDERED_CHARS:
                if escape == "pagerduty":
                    break
                raise RenderError(f"rendered text is longer than {MAX_RENDERED_CHARS} characters")
    except TemplateLimitError as exc:
        line = _template_line(exc)
        where = f" (template line {line})" if line else ""
        raise TemplateLimitError(f"template error{where}: {exc}") from None
    except RenderError:
        raise
    except TemplateError as exc:
        raise RenderError(f"template error: {exc.message or exc}") from None
    except (MemoryError, RecursionError) as exc:
        parts.clear()
        what = "too much memory" if isinstance(exc, MemoryError) else "recursion too deep"
        raise TemplateLimitError(f"template error: {what} ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a template failing in any other way is a failed step
        raise RenderError(f"template error: {type(exc).__name__}: {exc}") from None
    finally:
        chunks.close()
        _BUDGET.reset(token)
    out = "".join(parts)
    if escape == "pagerduty":
        return truncate(out.strip(), PAGERDUTY_SUMMARY_MAX)
    return out


def incident_url(api_url: str, incident_id: str) -> str:
    """``{api_url}/v1/incidents/{id}`` with the id percent-encoded."""
    return f"{api_url.rstrip('/')}/v1/incidents/{quote(incident_id, safe='')}"


def console_url(base_url: str, incident_id: str) -> str:
    """The incident's page in the console, ``{TRACEWATCH_PUBLIC_URL}/incidents/{id}`` (id percent-encoded)."""
    return f"{base_url.rstrip('/')}/incidents/{quote(incident_id, safe='')}"


def template_data(
    incident: Incident, event: IncidentEvent | None = None, extra: dict[str, Any] | None = None,
    *, api_url: str = "http://127.0.0.1:6066",
) -> dict[str, Any]:
    """The data a step template sees (plain dicts, lists and scalars only — nothing with methods).

    Keys: ``incident`` (every field but the finding list), ``event`` (opened | escalated | resolved),
    ``event_time``, ``labels``, ``target``, ``finding`` (the latest), ``evidence`` (its evidence),
    ``links`` (``incident``: the incident API URL), plus everything in ``extra`` (core keys win).
    """
    latest = incident.findings[-1].model_dump(mode="json") if incident.findings else {}
    core = {
        "incident": incident.model_dump(mode="json", exclude={"findings"}),
        "event": event.event if event is not None else "opened",
        "event_time": event.time if event is not None else incident.updated_at,
        "labels": dict(incident.labels),
        "target": incident.target.model_dump(mode="json"),
        "finding": latest,
        "evidence": latest.get("evidence", {}),
        "links": {"incident": incident_url(api_url, incident.id)},
    }
    return {**(extra or {}), **core}
