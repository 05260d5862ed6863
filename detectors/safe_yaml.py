"""One YAML loader for every file tracewatch reads: PyYAML's SafeLoader with aliases bounded.

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
``problem_mark`` at the alias, so every loader's existing ``file:line: invalid YAML: …`` path reports them.

>>> compose("a: &x [1, 2]\\nb: *x\\n").value[1][1].value[0].value
'1'
>>> try:
...     compose("a: &x [1, *x]\\n")
... except yaml.MarkedYAMLError as exc:
...     print(exc.problem_mark.line + 1, exc.problem)
1 recursive alias *x: it refers to &x, which contains it
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError

__all__ = ["MAX_ALIASES", "MAX_ALIAS_NODES", "MAX_DEPTH", "SafeLoader", "compose", "safe_load"]

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
    return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
