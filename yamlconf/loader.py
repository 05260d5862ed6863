"""The one YAML loader of every file tracewatch reads: PyYAML's SafeLoader with aliases bounded,
composing nodes that keep their line (``node.start_mark``), so every config reports ``file:line``.

PyYAML composes ``*alias`` as a shared node, so a "billion laughs" file (each level's list naming the
previous one nine times) is a few lines that every walk over the data — duplicate-key checks,
validation, printing — expands to billions of nodes; and ``&a [*a]`` is a node that contains itself,
which ends in a ``RecursionError``. ``SafeLoader`` here refuses, at the alias, with its line:

- a recursive alias (one inside the node it names);
- more than ``MAX_ALIASES`` aliases in a document;
- aliases adding more than ``MAX_ALIAS_NODES`` nodes in all (a node counts once per alias that reaches
  it, nested aliases multiplied out);
- nesting deeper than ``MAX_DEPTH`` (PyYAML composes recursively).

The errors are ``yaml.composer.ComposerError`` (a ``MarkedYAMLError``) with ``problem`` set and
``problem_mark`` at the alias; ``parse`` turns any YAML error into a ``YamlSyntaxError`` with the line.

>>> compose("a: &x [1, 2]\\nb: *x\\n").value[1][1].value[0].value
'1'
>>> try:
...     parse("a: 1\\nb: &x [1, *x]\\n")
... except YamlSyntaxError as exc:
...     print(exc.line, exc.problem)
2 recursive alias *x: it refers to &x, which contains it
>>> doc = parse("models:\\n  m: {input: 1}\\n")
>>> [(line_of(key), doc.value(value)) for key, value in doc.root.value]
[(1, {'m': {'input': 1}})]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError

__all__ = ["MAX_ALIASES", "MAX_ALIAS_NODES", "MAX_DEPTH", "Document", "SafeLoader", "YamlSyntaxError", "compose",
           "line_of", "load", "parse", "safe_load"]

MAX_ALIASES = 1_000  # *alias uses in one document
MAX_ALIAS_NODES = 10_000  # nodes that aliases add to a document once expanded
MAX_DEPTH = 100  # nested sequences / mappings


class SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with aliases and nesting bounded (see the module docstring). Subclass it to
    change resolvers; pass it as ``Loader=`` or build it with the text, like ``yaml.SafeLoader``."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._reset_limits()

    def _reset_limits(self) -> None:
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases expanded
        self._aliases = 0
        self._alias_nodes = 0
        self._depth = 0

    def compose_document(self) -> yaml.Node | None:
        self._reset_limits()
        try:
            return super().compose_document()
        finally:
            self._sizes.clear()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor
            if anchor in self._open_anchors:
                raise ComposerError(None, None, f"recursive alias *{anchor}: it refers to &{anchor}, "
                                    "which contains it", event.start_mark)
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise ComposerError(None, None, f"more than {MAX_ALIASES:,} aliases in one document",
                                    event.start_mark)
            node = super().compose_node(parent, index)  # an undefined alias raises here
            self._alias_nodes += self._sizes.get(id(node), 1)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise ComposerError(None, None, f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes "
                                    "(an alias bomb?)", event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)
        self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in _children(node))
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def compose(text: str, loader: type[SafeLoader] = SafeLoader) -> yaml.Node | None:
    """The node tree of the single document in ``text`` (``yaml.compose``, bounded)."""
    return yaml.compose(text, Loader=loader)


def safe_load(text: Any, loader: type[SafeLoader] = SafeLoader) -> Any:
    """``yaml.safe_load``, bounded."""
    return yaml.load(text, Loader=loader)


class YamlSyntaxError(ValueError):
    """The text is not YAML, or passes a bound: ``line`` (1-based) and PyYAML's ``problem``."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Document:
    """One YAML document as nodes (``root`` is None for an empty text), and their values on demand."""

    root: yaml.Node | None
    _loader: SafeLoader

    def value(self, node: yaml.Node) -> Any:
        """The Python value of ``node`` (what ``safe_load`` would give for it)."""
        return self._loader.construct_object(node, deep=True)


def parse(text: str, loader: type[SafeLoader] = SafeLoader) -> Document:
    """The single document in ``text``, composed (bounded); raises ``YamlSyntaxError`` with the line."""
    built = None
    try:
        built = loader(text)  # the reader refuses control characters here
        return Document(built.get_single_node(), built)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 if isinstance(text, str) else 1
        raise YamlSyntaxError(line, str(exc).splitlines()[0]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
        raise YamlSyntaxError(mark.line + 1 if mark else 1, problem) from None
    finally:
        if built is not None:
            built.dispose()


def load(text: str, loader: type[SafeLoader] = SafeLoader) -> Any:
    """The value of the single document in ``text`` (None when empty); ``YamlSyntaxError`` with the line."""
    document = parse(text, loader)
    return None if document.root is None else document.value(document.root)


def line_of(node: yaml.Node) -> int:
    """The 1-based line ``node`` starts on."""
    return node.start_mark.line + 1
