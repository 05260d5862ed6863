"""The ``tracewatch`` command line. Each command group lives in its own module in this package
and registers itself on ``app`` here, so that areas of the product do not edit one another's code."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tracewatch",
    help="Incident responder for LLM applications: reads traces from Kafka, detects, acts.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

# Command modules; each adds its commands to `app` when imported.
from streams.cli import broker as _broker  # noqa: E402,F401
from streams.cli import publish as _publish  # noqa: E402,F401
from streams.cli import api as _api  # noqa: E402,F401
from streams.cli import replay as _replay  # noqa: E402,F401
from streams.cli import runbooks as _runbooks  # noqa: E402,F401
from streams.cli import scan as _scan  # noqa: E402,F401
from streams.cli import demo as _demo  # noqa: E402,F401


def main() -> None:
    app()
