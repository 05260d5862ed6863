"""``tracewatch demo``: broker, worker, PagerDuty and Slack stand-ins and a synthetic app, five incidents."""

from __future__ import annotations

import json
import signal
import sys
import time

import typer
from rich import box
from rich.console import Console, Group
from rich.live import Live as RichLive
from rich.rule import Rule
from rich.text import Text
from rich.table import Table

from streams.cli import app
from streams.cli._common import console, settings_or_exit
from demo.runner import Demo, DemoError, Live, Outcome, Service, summary_rows
from demo.traffic import END_MIN, SCENARIOS


def _yes(value: bool) -> str:
    return "[green]yes[/green]" if value else "[red]no[/red]"


def _action(o: Outcome, name: str) -> str:
    value = getattr(o, name)
    if name not in o.expected:
        return "[green]yes[/green]" if value else "[dim]–[/dim]"
    return _yes(value)


def _pages(o: Outcome) -> str:
    if "page" not in o.expected and not o.pages:
        return "[dim]–[/dim]"
    return f"[green]{o.pages}[/green]" if o.page else "[red]0[/red]"


def summary_table(outcomes: dict[str, Outcome]) -> Table:
    table = Table(title="tracewatch demo — summary", box=box.SIMPLE_HEAD, padding=0, collapse_padding=True,
                  show_edge=False)
    for col in ("scenario", "incident", "detect", "pages", "slack", "block", "rollback", "pin", "ok"):
        table.add_column(col, no_wrap=True, min_width={"scenario": 14, "incident": 17}.get(col, len(col) + 1))
    for o in outcomes.values():
        ttd = f"{o.detect_s:.0f}s" if o.detect_s is not None else "–"
        table.add_row(o.scenario.split("_")[0], o.incident_id or "[red]none[/red]", ttd, _pages(o),
                      _action(o, "slack"), _action(o, "block"), _action(o, "rollback"), _action(o, "pin"),
                      _yes(o.handled))
    return table


def live_view(live: Live, notes: list[str]) -> Group:
    stats = (f"[bold]{live.events_per_s:,.0f}[/bold] events/s · [bold]{live.events_read:,.0f}[/bold] read · "
             f"[bold]{live.findings:,.0f}[/bold] findings · [bold]{live.open_incidents}[/bold] open · "
             f"[bold]{live.pages}[/bold] pages · [bold]{live.slack_posts}[/bold] Slack posts")
    head = f"{live.phase} — simulated minute {live.sim_minute:.0f} of {END_MIN:.0f} — Ctrl-C stops everything"
    log = [Text.from_markup(line, overflow="ellipsis") for line in live.lines[-6:]]
    for line in log:
        line.no_wrap = True
    return Group(Rule("tracewatch demo"), *notes, "", head, stats, summary_table(live.outcomes), *log)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # run the same clean-up as Ctrl-C


@app.command()
def demo(
    duration: float = typer.Option(180.0, min=20, help="Bound on the whole run, in wall seconds."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout (no live view)."),
    speed: float = typer.Option(60.0, min=10, max=600,
                                help="Simulated seconds per wall second (60: one wall second = one minute)."),
    durable: bool = typer.Option(False, "--durable",
                                 help="Keep the state in TRACEWATCH_STATE_DIR like `tracewatch up` (docs/durability.md)."),
    keep: bool = typer.Option(False, "--keep", help="After the scenarios, keep the worker and its console "
                              "(printed URL) up until Ctrl-C, so the incidents are there to click."),
) -> None:
    """Play five incidents through the whole product: embedded broker, worker, PagerDuty and Slack
    stand-ins (real ones when TRACEWATCH_PAGERDUTY_ROUTING_KEY / TRACEWATCH_SLACK_TOKEN are set) and a
    synthetic LLM application. Exit code 0 when every scenario was detected and acted on.

    Example: [bold]tracewatch demo --duration 120[/bold]   or   [bold]tracewatch demo --json > summary.json[/bold]
    """
    from streams.broker import _die_with_parent, free_port
    from streams.topics import TRACES, bootstrap_of
    from streams.journal import DurabilityError
    from streams.worker import broker_for

    settings = settings_or_exit()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _terminate)
    # in wall seconds, with start-up; the last scenario (a provider update) is found in about 7 minutes
    needed = (max(s.start_min for s in SCENARIOS) + 10) * 60 / speed + 20
    if duration < needed:
        console.print(f"[yellow]note:[/yellow] at --speed {speed:g} the five scenarios need about {needed:.0f}s; "
                      f"--duration {duration:g} will stop before the last ones (raise --duration or --speed)")
    started = time.monotonic()
    rich_live = None if json_out else RichLive(console=console, refresh_per_second=4, transient=False)
    service = Service(traces_topic=TRACES, bootstrap_of=bootstrap_of, api_port=free_port(),
                      worker_preexec=_die_with_parent)
    runner = Demo(settings, service, duration=duration, speed=speed, keep=keep,
                  on_update=(lambda lv: rich_live.update(live_view(lv, runner.notes))) if rich_live else None)
    interrupted = False
    try:
        with broker_for(settings, announce=False, durable=durable) as url:
            runner.notes.insert(0, "embedded broker" if not settings.broker else f"broker {settings.broker}")
            if rich_live:
                rich_live.start()
            try:
                outcomes = runner.run(url)
            finally:
                if rich_live:
                    rich_live.stop()
    except KeyboardInterrupt:
        interrupted = True
        outcomes = runner.live.outcomes
        console.print("[yellow]interrupted: stopped the worker, the stand-ins and the broker[/yellow]")
    except (DemoError, DurabilityError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    elapsed = time.monotonic() - started
    handled = all(o.handled for o in outcomes.values())
    if json_out:
        print(json.dumps({"handled": handled, "interrupted": interrupted, "elapsed_s": round(elapsed, 1),
                          "speed": speed, "worker_pid": runner.worker_pid,
                          "scenarios": summary_rows(outcomes)}, indent=2))
    else:
        out = Console()
        out.print(summary_table(outcomes))
        out.print(f"{'all five scenarios handled' if handled else 'NOT all scenarios handled'} "
                      f"in {elapsed:.0f}s")
    sys.stdout.flush()
    raise typer.Exit(0 if handled and not interrupted else 1)
