"""``tracewatch replay FILE`` (backtest the detectors on recorded traces) and
``tracewatch detectors lint PATH`` (check a detector configuration)."""

from __future__ import annotations

import asyncio

import sys
from collections import Counter
from pathlib import Path
from typing import IO, Optional

import orjson
import typer
from pydantic import ValidationError

from detectors.config import ConfigError, lint_file, load_config, build_suite, resolve_path
from streams.cli import app
from streams.cli._common import settings_or_exit
from traces.events import TraceEvent
from incidents.book import IncidentBook, IncidentPolicy
from runbooks.pipeline import Pipeline, Tick
from traces.prices import PriceTable

MAX_BAD_SHOWN = 20

detectors_app = typer.Typer(help="Detector configuration tools.", no_args_is_help=True)
app.add_typer(detectors_app, name="detectors")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "event"
        return f"{loc}: {err['msg']}"
    if isinstance(exc, orjson.JSONDecodeError):
        return f"not JSON ({str(exc).split(':')[0]})"
    return str(exc)


def read_events(stream: IO[bytes]) -> tuple[list[tuple[float, int, TraceEvent]], list[tuple[int, str]]]:
    """Parse JSONL (one event, or a JSON array of events, per line); bad lines are collected, not raised."""
    events: list[tuple[float, int, TraceEvent]] = []
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
            items = data if isinstance(data, list) else [data]
            parsed = []
            for item in items:
                if not isinstance(item, dict):
                    raise ValueError("expected a JSON object (or an array of objects)")
                parsed.append(TraceEvent.model_validate(item))
        except (ValueError, ValidationError) as exc:
            bad.append((number, _reason(exc)))
            continue
        events.extend((e.epoch, number, e) for e in parsed)
    events.sort(key=lambda x: (x[0], x[1]))  # event time; the file order breaks ties
    return events, bad


@app.command("replay")
def replay_command(
    file: str = typer.Argument(..., help="JSONL file of trace events, or - for stdin."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Detector config YAML (default: $TRACEWATCH_DETECTORS or the shipped one)."),
    injection_state: Optional[Path] = typer.Option(
        None, "--injection-state", help="Injection classifier state file (default: the detector's own)."),
    runbooks: Optional[Path] = typer.Option(
        None, "--runbooks", help="Also backtest these runbooks: print the actions they would have taken "
                                 "(nothing is sent) instead of the findings."),
) -> None:
    """Run the detectors over recorded trace events in event time, without a broker.

    Prints one finding per line as JSON on stdout and a summary on stderr (events, findings per
    detector, bad lines with their line numbers — bad lines are skipped). Deterministic.

    Example: [bold]tracewatch replay traces.jsonl --config my-detectors.yaml > findings.jsonl[/bold]
    """
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        typer.echo("error: the detector configuration is invalid (see above)", err=True)
        raise typer.Exit(2) from exc
    except OSError as exc:
        typer.echo(f"error: cannot read the detector configuration {resolve_path(config)}: {exc.strerror}",
                   err=True)
        raise typer.Exit(2) from exc
    if file == "-":
        events, bad = read_events(sys.stdin.buffer)
    else:
        try:
            with open(file, "rb") as fh:
                events, bad = read_events(fh)
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc.strerror}; give a JSONL file or - for stdin",
                                     param_hint="FILE") from exc
    settings = settings_or_exit()
    policy = IncidentPolicy(resolve_after_s=settings.resolve_after_s, reopen_within_s=settings.reopen_within_s)
    pipeline = Pipeline(book=IncidentBook({}, policy), prices=PriceTable.load(settings.prices),
                        suite=build_suite(cfg, injection_state=injection_state))
    loaded = _load_runbooks(runbooks) if runbooks is not None else None
    per_detector: Counter[str] = Counter()
    out = sys.stdout
    findings = []
    for finding in pipeline.detect(event for _, _, event in events):
        per_detector[finding.detector] += 1
        if loaded is None:
            out.write(finding.model_dump_json() + "\n")
        else:
            findings.append(finding)
    if loaded is not None:
        planned = asyncio.run(backtest(findings, loaded, pipeline))
        for line in planned:
            out.write(orjson.dumps(line).decode() + "\n")
        typer.echo(f"actions: {len(planned)} (backtest: nothing was sent)", err=True)
    out.flush()
    typer.echo(f"events: {len(events)}", err=True)
    typer.echo(f"findings: {sum(per_detector.values())}", err=True)
    for name in sorted(per_detector):
        typer.echo(f"  {name}: {per_detector[name]}", err=True)
    typer.echo(f"bad lines: {len(bad)}", err=True)
    for number, reason in bad[:MAX_BAD_SHOWN]:
        typer.echo(f"  line {number}: {reason}", err=True)
    if len(bad) > MAX_BAD_SHOWN:
        typer.echo(f"  … and {len(bad) - MAX_BAD_SHOWN} more", err=True)


def _load_runbooks(path: Path) -> list:
    from runbooks.loader import load_directory

    result = load_directory(path)
    for problem in result.problems:
        typer.echo(str(problem), err=True)
    if result.problems:
        typer.echo(f"error: the runbooks in {path} have problems (see above)", err=True)
        raise typer.Exit(2)
    return result.runbooks


async def backtest(findings: list, runbooks: list, pipeline: Pipeline | None = None) -> list[dict]:
    """What the runbooks would have done: findings → incidents → engine with recording actions, through
    the same Pipeline stages the worker runs (``pipeline``'s incident book; a fresh one by default)."""
    from runbooks.actions import ACTION_TYPES
    from runbooks.controls import InMemoryControls
    from runbooks.engine import Engine
    from runbooks.execution import InMemoryOutbox
    from runbooks.ports import Ports
    from runbooks.prompts import PromptRegistry
    from runbooks.testing import STEP_KEY, FakeClock, RecordingAction, in_step_order

    clock = FakeClock(findings[0].time if findings else 0.0)
    calls: list[dict] = []
    actions = {name: RecordingAction(name, calls) for name in ACTION_TYPES}
    ports = Ports(clock=clock, controls=InMemoryControls(clock), prompts=PromptRegistry(clock))
    pipeline = Pipeline(book=pipeline.book if pipeline is not None else IncidentBook({}),
                        engine=Engine(runbooks, actions, ports, InMemoryOutbox()))
    planned: list[dict] = []
    for finding in findings:
        clock.t = max(clock.t, finding.time)
        for change in pipeline.group(Tick(None, finding.time)) + pipeline.group(finding):
            event = change.runbook_event()
            if event is None:
                continue
            executions = await pipeline.respond(event)
            await pipeline.engine.deliveries_done()  # notifications go out in their own queue
            runbook_of = {e.execution_id: e.runbook for e in executions}
            for call in in_step_order([c for c in calls if c[STEP_KEY][0] in runbook_of], executions, keep=True):
                xid = call.pop(STEP_KEY)[0]
                planned.append({"time": event.time, "incident": event.incident.id, "event": event.event,
                                "runbook": runbook_of[xid], "action": call})
            calls[:] = [c for c in calls if c[STEP_KEY][0] not in runbook_of]
    return planned


@detectors_app.command("lint")
def lint_command(
    path: Optional[Path] = typer.Argument(None, help="Detector config YAML (default: the one in use)."),
) -> None:
    """Check a detector configuration: prints file:line: path: message per problem, exit 1 if any.

    Example: [bold]tracewatch detectors lint my-detectors.yaml[/bold]
    """
    target = resolve_path(path)
    try:
        errors = lint_file(target)
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {target}: {exc.strerror}", param_hint="PATH") from exc
    for line in errors:
        typer.echo(line)
    if errors:
        raise typer.Exit(1)
    typer.echo(f"{target}: ok")
