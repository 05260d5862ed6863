"""YAML alias bombs and recursive aliases: every loader reports ``file:line: …``, after bounded work.

The loaders: runbooks (runbooks/loader.py), detector config (detectors/config.py), injection
signatures (detectors/injection/signatures.py), prices (traces/prices.py), settings
(streams/settings.py). All of them compose through ``yamlconf.loader.SafeLoader``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import yamlconf
from detectors.config import lint_text as lint_detectors
from detectors.injection.signatures import lint_text as lint_signatures
from runbooks.loader import load_text
from streams.settings import load_settings
from traces.prices import PriceTableError, parse_prices
from yamlconf.loader import MAX_ALIAS_NODES, MAX_ALIASES, MAX_DEPTH, SafeLoader, compose, safe_load


def laughs(levels: int = 10, prefix: str = "") -> tuple[str, int]:
    """A billion-laughs document (9**levels strings once expanded) and the line where the expansion
    first passes MAX_ALIAS_NODES."""
    lines = prefix.splitlines() + ['x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    size, added, crossed = 10, 0, 0
    for i in range(1, levels):
        lines.append(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
        added += 9 * size
        size = 1 + 9 * size
        if not crossed and added > MAX_ALIAS_NODES:
            crossed = len(lines)
    return "\n".join(lines) + "\n", crossed


RECURSIVE = "a: 1\nb: &b\n  c: [1, 2]\n  d: *b\n"  # line 4 names the mapping it is inside


def load_runbook(text: str, name: str) -> list[str]:
    runbook, problems = load_text(text, name)
    assert runbook is None
    return [str(p) for p in problems]


def load_prices(text: str, name: str) -> list[str]:
    with pytest.raises(PriceTableError) as caught:
        parse_prices(text, name)
    return caught.value.errors


def load_settings_file(text: str, name: str, tmp_path: Path) -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_settings(path)
    return [str(caught.value).replace(str(tmp_path) + "/", "")]


LOADERS = {
    "runbook": (load_runbook, "invalid YAML"),
    "detectors": (lint_detectors, "invalid YAML"),
    "signatures": (lint_signatures, "not valid YAML"),
    "prices": (load_prices, "not valid YAML"),
    "settings": (None, "invalid YAML"),
}


def run(loader: str, text: str, name: str, tmp_path: Path) -> list[str]:
    if loader == "settings":
        return load_settings_file(text, name, tmp_path)
    return LOADERS[loader][0](text, name)


class Counting(SafeLoader):
    """Counts composed nodes: the work done before the error."""

    composed = 0

    def compose_node(self, parent, index):
        Counting.composed += 1
        return super().compose_node(parent, index)


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_billion_laughs_is_refused_with_file_and_line(loader: str, tmp_path: Path) -> None:
    text, line = laughs(prefix="name: x\n")
    [error] = run(loader, text, "bomb.yaml", tmp_path)
    assert error == (f"bomb.yaml:{line}: {LOADERS[loader][1]}: aliases expand to more than "
                     f"{MAX_ALIAS_NODES:,} nodes (an alias bomb?)")


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_recursive_alias_is_refused_with_file_and_line(loader: str, tmp_path: Path) -> None:
    [error] = run(loader, RECURSIVE, "loop.yaml", tmp_path)
    assert error == f"loop.yaml:4: {LOADERS[loader][1]}: recursive alias *b: it refers to &b, which contains it"


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_deep_nesting_is_refused_with_file_and_line(loader: str, tmp_path: Path) -> None:
    text = "a:\n  " + "[" * 5000 + "]" * 5000 + "\n"
    [error] = run(loader, text, "deep.yaml", tmp_path)
    assert error == f"deep.yaml:2: {LOADERS[loader][1]}: nested more than {MAX_DEPTH} levels deep"


def test_a_bomb_stops_after_composing_little() -> None:
    Counting.composed = 0
    text, line = laughs(levels=40)  # 9**40 strings once expanded
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        compose(text, Counting)
    assert caught.value.problem_mark.line + 1 == line
    assert Counting.composed < 100  # the lines up to the alias that passed the limit, nothing more


def test_too_many_aliases() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(yaml.MarkedYAMLError, match=f"more than {MAX_ALIASES:,} aliases"):
        safe_load(text)


def test_recursive_alias_in_a_sequence_and_through_a_merge_key() -> None:
    for text in ("&a [1, *a]\n", "a: &a\n  b: 1\n  c:\n    <<: *a\n"):
        with pytest.raises(yaml.MarkedYAMLError, match="recursive alias"):
            safe_load(text)


def test_ordinary_aliases_and_merge_keys_still_work() -> None:
    text = "base: &base {retries: 2, on_failure: continue}\nsteps:\n  - {<<: *base, page: {}}\n  - *base\n"
    assert safe_load(text) == {"base": {"retries": 2, "on_failure": "continue"},
                               "steps": [{"retries": 2, "on_failure": "continue", "page": {}},
                                         {"retries": 2, "on_failure": "continue"}]}


def test_limits_reset_per_document() -> None:
    one, _ = laughs(levels=4)  # 8,289 alias nodes: under the limit
    assert len(list(yaml.load_all(one + "---\n" + one, Loader=SafeLoader))) == 2


def test_every_yaml_loader_uses_the_bounded_loader() -> None:
    """No shipped module reads YAML with PyYAML's own loaders (yaml.safe_load, yaml.SafeLoader, …).
    (bench/ reads third-party data sets on a developer's machine; it is not shipped.)"""
    root = Path(yamlconf.__file__).resolve().parents[1]
    offenders = []
    for package in ("yamlconf", "traces", "detectors", "incidents", "runbooks", "streams", "demo"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for needle in ("yaml.safe_load(", "Loader=yaml.", "yaml.SafeLoader(", "yaml.full_load(",
                           "yaml.unsafe_load(", "yaml.load_all("):
                if needle in text and path != root / "yamlconf" / "loader.py":
                    offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
