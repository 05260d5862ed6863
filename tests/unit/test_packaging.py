"""A wheel carries every data file the packages read: the shipped injection model, the console's static
files, the YAML libraries. ``pip install .`` (not ``-e``) builds the package from ``pyproject.toml``'s
``package-data``; a file it leaves out is missing on the user's machine only, never here."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _package_data() -> tuple[list[str], dict[str, list[str]]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return setuptools["packages"]["find"]["include"], setuptools["package-data"]


def _data_files(include: list[str]) -> list[Path]:
    """Every file under the packages that is not Python source or a cache."""
    roots = {pattern.rstrip("*") for pattern in include}
    return sorted(p for root in roots for p in (ROOT / root).rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)


def _packaged(path: Path, package_data: dict[str, list[str]]) -> bool:
    """Whether setuptools' ``package-data`` takes ``path``: a pattern of a package that holds it (every
    directory is a package: namespace packages are found too), or of ``"*"``, relative to the package's
    directory; as in a glob, ``*`` does not cross a ``/``."""
    parts = path.relative_to(ROOT).parts
    for depth in range(1, len(parts)):
        package, inside = ".".join(parts[:depth]), "/".join(parts[depth:])
        for pattern in package_data.get(package, []) + package_data.get("*", []):
            if pattern.count("/") == inside.count("/") and fnmatch.fnmatch(inside, pattern):
                return True
    return False


def test_every_data_file_of_the_packages_is_in_the_wheel():
    include, package_data = _package_data()
    files = _data_files(include)
    assert any(p.name == "model.npz" for p in files)  # the walk sees the shipped model
    missing = [str(p.relative_to(ROOT)) for p in files if not _packaged(p, package_data)]
    assert missing == ["runbooks/library/README.md"], f"not in pyproject.toml's package-data: {missing}"
