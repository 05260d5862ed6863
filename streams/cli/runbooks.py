"""``tracewatch runbooks lint DIR`` and ``tracewatch runbooks test DIR``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from streams.cli import app

runbooks_app = typer.Typer(
    help="Check runbooks: lint the YAML, run their tests hermetically.", no_args_is_help=True,
)
app.add_typer(runbooks_app, name="runbooks")

_DIR = typer.Argument(..., help="A runbook file or a directory of *.yaml / *.yml runbooks.")


def _existing(path: Path) -> Path:
    if not path.exists():
        typer.echo(f"error: {path} does not exist; give a runbook file or a directory of runbooks", err=True)
        raise typer.Exit(2)
    return path


@runbooks_app.command("lint")
def lint(path: Path = _DIR) -> None:
    """Report every problem in the runbooks as file:line: path: message; exit 1 on any.

    Example: tracewatch runbooks lint runbooks/library
    """
    from runbooks.loader import load_directory

    result = load_directory(_existing(path))
    for problem in result.problems:
        typer.echo(str(problem))
    if result.problems:
        typer.echo(f"{len(result.problems)} problem(s) in {len(result.files)} file(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(result.runbooks)} runbook(s) OK in {len(result.files)} file(s)")


@runbooks_app.command("test")
def test(
    path: Path = _DIR,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show what each test did, even when it passes."),
) -> None:
    """Run each runbook's tests: incident in, expected actions out, fake clock, no network.

    Example: tracewatch runbooks test runbooks/library
    """
    from runbooks.loader import load_directory
    from runbooks.testing import format_outcome, run_tests

    result = load_directory(_existing(path))
    if result.problems:
        for problem in result.problems:
            typer.echo(str(problem))
        typer.echo("fix the problems above first (tracewatch runbooks lint)", err=True)
        raise typer.Exit(1)
    outcomes = asyncio.run(run_tests(result.runbooks))
    current = None
    for outcome in outcomes:
        if outcome.file != current:
            current = outcome.file
            typer.echo(f"{outcome.file} ({outcome.runbook})")
        for line in format_outcome(outcome, verbose=verbose):
            typer.echo(line)
    failed = sum(not o.passed for o in outcomes)
    untested = [rb.name for rb in result.runbooks if not rb.tests]
    if untested:
        typer.echo(f"no tests: {', '.join(untested)}")
    typer.echo(f"{len(outcomes) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
