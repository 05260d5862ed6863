"""docs/architecture.md is the contract: every topic, setting, HTTP endpoint and CLI command it lists
exists in the code, and every one the code has is listed there."""

from __future__ import annotations

import re
from pathlib import Path

import faust.web
import pytest
import typer.main

from streams import topics
from streams.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
METHODS = ("get", "post", "put", "patch", "delete")


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/architecture.md has no section '## {title}'"
    return match.group(1)


def first_cells(title: str) -> list[str]:
    """The first column of the section's table, without backticks (the header row left out)."""
    rows = [line for line in section(title).splitlines() if line.startswith("| ")]
    return [row.split("|")[1].strip().strip("`") for row in rows[1:] if not row.startswith("| ---")]


def test_topics_are_the_ones_the_code_creates() -> None:
    assert set(first_cells("Topics")) == set(topics.ALL)


def test_settings_are_the_settings_model() -> None:
    documented = {name.removeprefix("TRACEWATCH_").lower() for name in first_cells("Settings")}
    assert documented == set(Settings.model_fields)


def served_routes() -> set[tuple[str, str]]:
    from streams.service import build_service

    tw = build_service(Settings(_env_file=None), "kafka://127.0.0.1:1")  # builds, connects to nothing
    routes = set()
    for path, view in tw.app.web.views.items():
        cls = view if isinstance(view, type) else type(view)
        plain = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)  # {id:[^/]+} -> {id}
        routes |= {(m.upper(), plain) for m in METHODS if getattr(cls, m) is not getattr(faust.web.View, m)}
    return routes


def test_http_endpoints_are_the_ones_served() -> None:
    rows = [line.split("|") for line in section("HTTP API").splitlines() if line.startswith("| ")]
    documented = {(r[1].strip(), r[2].strip().strip("`")) for r in rows[1:] if not r[1].startswith(" ---")}
    assert documented == served_routes()


def cli_commands() -> set[str]:
    from streams.cli import app

    found: set[str] = set()

    def walk(command, words: list[str]) -> None:  # noqa: ANN001 - click command or group
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, words + [name])
        else:
            found.add(" ".join(words))

    walk(typer.main.get_command(app), ["tracewatch"])
    return found


def test_cli_commands_are_the_ones_the_cli_has() -> None:
    assert set(first_cells("CLI")) == cli_commands()


@pytest.mark.parametrize("room", ["traces", "detectors", "incidents", "runbooks"])
def test_pure_rooms_import_no_kafka_no_faust_and_nothing_above_them(room: str) -> None:
    """The layout section's promise: imports point down the data flow; no stage but streams/ touches
    Kafka or Faust, and only runbooks' actions (and the Langfuse prompt backend) talk HTTP."""
    order = ["traces", "detectors", "incidents", "runbooks", "streams", "demo", "bench"]
    above = order[order.index(room) + 1:] + ["faust", "aiokafka"] + (["httpx"] if room != "runbooks" else [])
    forbidden = re.compile(r"^\s*(?:from|import)\s+(" + "|".join(above) + r")\b", re.M)
    root = DOC.parents[1]
    offenders = [
        f"{path.relative_to(root)}: {m.group(0).strip()}"
        for path in (root / room).rglob("*.py")
        for m in forbidden.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
