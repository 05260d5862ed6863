"""What the CLI modules share: settings loading with a clear error, and the console."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from streams.settings import Settings, load_settings

console = Console(stderr=True)


def settings_or_exit(config: str | None = None) -> Settings:
    try:
        return load_settings(config)
    except (ValidationError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] invalid configuration: {exc}")
        raise typer.Exit(2) from exc
