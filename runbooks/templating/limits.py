"""Bounded work and memory: the limits, the render's step budget, and the checks and hooks the sandbox
(``runbooks.templating.sandbox``) routes every operator, call, filter and test through."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from string import Formatter as _Formatter
from typing import Any, Callable

import re2
from jinja2 import pass_context
from jinja2.runtime import Namespace
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

from runbooks.templating.errors import TemplateLimitError

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
