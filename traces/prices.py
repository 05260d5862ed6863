"""The price table: what a model call cost, when the event does not say.

Shipped as ``traces/prices.yaml`` (USD per million input and output tokens per model, and optionally
per million cached input tokens read from or written to the provider's prompt cache);
``Settings.prices`` (``TRACEWATCH_PRICES``) names a user file whose models are merged over it.
A model matches exactly, or else by the longest known name it starts with followed by ``-``, ``@``
or ``:`` (dated releases such as ``gpt-4o-2024-08-06``); case and a ``provider/`` prefix are
ignored. An unknown model, or an event without token counts, gets no cost: the table never guesses.

>>> table = PriceTable.load()
>>> from traces.events import TraceEvent
>>> e = TraceEvent(trace_id="t", timestamp=0, model="gpt-4o-2024-08-06",
...                input_tokens=1000, output_tokens=500)
>>> table.price(e)
0.0075
>>> table.apply(e), e.cost_usd
(True, 0.0075)
>>> table.price(TraceEvent(trace_id="t", timestamp=0, model="my-own-model", input_tokens=5)) is None
True
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import yaml

from traces.events import TraceEvent
from yamlconf import Document, Report, YamlSyntaxError, line_of, message, parse

SHIPPED_PRICES = Path(__file__).with_name("prices.yaml")
_SEPARATORS = ("-", "@", ":")
_CACHE_LIMIT = 4096
_UNPRICED_LIMIT = 1000


#: the keys of one model's price: required, then optional (USD per million tokens)
REQUIRED_KEYS = ("input", "output")
OPTIONAL_KEYS = ("cached_input", "cache_write")
PRICE_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens. ``cached_input``: input tokens read from the provider's prompt cache;
    ``cache_write``: input tokens written to it. Either, when not given, is priced as ``input``.

    >>> ModelPrice(2.5, 10, cached_input=1.25).cost(1000, 100, cache_read=800)   # 200 + 800 cached
    0.0025
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(self, input_tokens: int | None, output_tokens: int | None, *, cache_read: int | None = None,
             cache_write: int | None = None, reasoning: int | None = None) -> float:
        """The cost of a call. As in the GenAI conventions, ``input_tokens`` includes the cached ones
        (``cache_read``, ``cache_write``) and ``output_tokens`` the reasoning ones, which are output.
        A count that does not fit in its total (an SDK that reports them apart) is not taken from it:
        the total is then read as the uncached part, and reasoning beyond the output as more output."""
        read, write = cache_read or 0, cache_write or 0
        cached = read + write
        total_in = input_tokens or 0
        uncached = total_in - cached if total_in >= cached else total_in
        out = max(output_tokens or 0, reasoning or 0)
        usd = (uncached * self.input + out * self.output
               + read * (self.input if self.cached_input is None else self.cached_input)
               + write * (self.input if self.cache_write is None else self.cache_write))
        return usd / 1_000_000

    def __repr__(self) -> str:  # (the optional prices only when set)
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in OPTIONAL_KEYS if getattr(self, k) is not None)
        return f"ModelPrice(input={self.input!r}, output={self.output!r}{extra})"


class PriceTableError(ValueError):
    """A price file is invalid. ``errors`` holds one ``file:line: message`` per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# ---- loading and linting ---------------------------------------------------------------------------


def parse_prices(text: str, source: str = "<prices>") -> dict[str, ModelPrice]:
    """Parse and lint a price file; raise :class:`PriceTableError` listing every problem.

    >>> parse_prices("models:\\n  m1: {input: 1, output: 2}\\n")
    {'m1': ModelPrice(input=1.0, output=2.0)}
    >>> parse_prices("models:\\n  m1: {input: 1}\\n  m2: {input: -1, output: 2, cached: 0}\\n", "p.yaml")
    Traceback (most recent call last):
    ...
    traces.prices.PriceTableError: p.yaml:2: m1: missing 'output' (USD per million output tokens)
    p.yaml:3: m2: 'input' must be a number ≥ 0, got -1
    p.yaml:3: m2: unknown key 'cached' (allowed: input, output, cached_input, cache_write)
    """
    report = Report(source)
    try:
        document = parse(text)  # aliases bounded: no alias bomb, no recursive alias
    except YamlSyntaxError as exc:
        report.add(exc.line, "not_yaml", problem=exc.problem)
        raise PriceTableError(report.lines()) from None
    root = document.root
    if not isinstance(root, yaml.MappingNode):
        report.add(root, "prices_top" if root is not None else "prices_empty")
        raise PriceTableError(report.lines())

    def scalar(node: yaml.Node) -> object:
        return document.value(node) if isinstance(node, yaml.ScalarNode) else None

    models_node = None
    for key_node, value_node in root.value:
        if scalar(key_node) == "models":
            models_node = value_node
        else:
            report.add(key_node, "prices_unknown_key", key=scalar(key_node), allowed="models")
    if not isinstance(models_node, yaml.MappingNode):
        report.add(models_node, "prices_no_models" if models_node is None else "prices_models")
        raise PriceTableError(report.lines())

    prices: dict[str, ModelPrice] = {}
    seen: dict[str, int] = {}
    for name_node, spec_node in models_node.value:
        name = scalar(name_node)
        if not isinstance(name, str) or not name.strip():
            report.add(name_node, "model_name", value=name)
            continue
        key = name.strip().lower()
        if key in seen:
            report.add(name_node, "model_twice", name, line=seen[key])
            continue
        seen[key] = line_of(name_node)
        if not isinstance(spec_node, yaml.MappingNode):
            report.add(spec_node, "model_price", name)
            continue
        price = _model_price(document, name, spec_node, report)
        if price is not None:
            prices[key] = price
    if report.problems:
        raise PriceTableError(report.lines())
    return prices


def _model_price(document: Document, name: str, spec_node: yaml.MappingNode, report: Report) -> ModelPrice | None:
    values: dict[str, float] = {}
    reported: set[str] = set()
    for field_node, value_node in spec_node.value:
        field = document.value(field_node) if isinstance(field_node, yaml.ScalarNode) else None
        if field not in PRICE_KEYS:
            report.add(field_node, "prices_unknown_key", name, key=field, allowed=", ".join(PRICE_KEYS))
            continue
        value = document.value(value_node) if isinstance(value_node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            report.add(value_node, "price", name, key=field, value=value)
            reported.add(field)
            continue
        values[field] = float(value)
    missing = [f for f in REQUIRED_KEYS if f not in values]
    for field in missing:
        if field not in reported:
            report.add(spec_node, "price_missing", name, key=field)
    if missing:
        return None
    return ModelPrice(values["input"], values["output"], values.get("cached_input"), values.get("cache_write"))


def _candidates(model: str) -> list[str]:
    """The names to try: as given, then without ``provider/`` or ``vendor.`` prefixes."""
    name = model.strip().lower()
    names = [name]
    if "/" in name:
        name = name.rsplit("/", 1)[1]
        names.append(name)
    while "." in name and name.split(".", 1)[0].isalpha():  # bedrock: "anthropic.claude-..."
        name = name.split(".", 1)[1]
        names.append(name)
    return names


class PriceTable:
    """Model name -> :class:`ModelPrice`, with exact-then-longest-prefix matching."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self.prices = {name.lower(): price for name, price in prices.items()}
        self._by_length = sorted(self.prices, key=len, reverse=True)
        self._cache: dict[str, ModelPrice | None] = {}
        #: Events that got no cost, by model name (bounded): what to add to the price file.
        self.unpriced: Counter[str] = Counter()

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> PriceTable:
        """The shipped table, with the models of ``path`` (if given) merged over it."""
        prices = parse_prices(SHIPPED_PRICES.read_text(encoding="utf-8"), str(SHIPPED_PRICES))
        if path is not None:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise PriceTableError([f"{path}:1: " + message("prices_unreadable", error=exc)]) from None
            prices.update(parse_prices(text, str(path)))
        return cls(prices)

    def __len__(self) -> int:
        return len(self.prices)

    def __repr__(self) -> str:
        return f"PriceTable({len(self.prices)} models)"

    def lookup(self, model: str) -> ModelPrice | None:
        """The price of ``model``: exact name, else the longest known prefix, else ``None``.

        >>> t = PriceTable({"gpt-4o": ModelPrice(2.5, 10), "gpt-4o-mini": ModelPrice(0.15, 0.6)})
        >>> t.lookup("gpt-4o-mini-2024-07-18"), t.lookup("openai/GPT-4o")
        (ModelPrice(input=0.15, output=0.6), ModelPrice(input=2.5, output=10))
        >>> t.lookup("gpt-4omega") is None
        True
        """
        if model in self._cache:
            return self._cache[model]
        found = None
        for name in _candidates(model):
            found = self.prices.get(name)
            if found is None:
                for known in self._by_length:
                    if name.startswith(known) and name[len(known):len(known) + 1] in _SEPARATORS:
                        found = self.prices[known]
                        break
            if found is not None:
                break
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[model] = found
        return found

    def price(self, event: TraceEvent) -> float | None:
        """The cost in USD of ``event`` by this table; ``None`` for an unknown model or no tokens.

        The model that answered (``response_model``) is priced when the table knows it, else the one
        requested. Cached input is priced at ``cached_input`` / ``cache_write`` when the table has them:

        >>> t = PriceTable({"gpt-4o": ModelPrice(2.5, 10, cached_input=1.25)})
        >>> e = TraceEvent(trace_id="t", timestamp=0, model="gpt-4o", response_model="gpt-4o-2024-11-20",
        ...                input_tokens=1000, output_tokens=500, cache_read_input_tokens=800,
        ...                reasoning_output_tokens=300)
        >>> t.price(e)     # 200 x 2.5 + 800 x 1.25 + 500 x 10, per million
        0.0065
        """
        if event.input_tokens is None and event.output_tokens is None and event.reasoning_output_tokens is None:
            return None
        found = self.lookup(event.response_model) if event.response_model else None
        if found is None:
            found = self.lookup(event.model)
        if found is None:
            return None
        return found.cost(event.input_tokens, event.output_tokens, cache_read=event.cache_read_input_tokens,
                          cache_write=event.cache_creation_input_tokens, reasoning=event.reasoning_output_tokens)

    def apply(self, event: TraceEvent) -> bool:
        """Set ``event.cost_usd`` when absent; return whether the event's cost is known."""
        if event.cost_usd is not None:
            return True
        cost = self.price(event)
        if cost is None:
            if event.model in self.unpriced or len(self.unpriced) < _UNPRICED_LIMIT:
                self.unpriced[event.model] += 1
            return False
        event.cost_usd = cost
        return True
