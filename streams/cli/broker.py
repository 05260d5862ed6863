"""``tracewatch broker``, ``tracewatch up`` and ``tracewatch worker``: starting the service."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Optional

import typer

from streams.broker import BrokerError, EmbeddedBroker
from streams.cli import app
from streams.cli._common import console, settings_or_exit


@app.command()
def broker(
    port: int = typer.Option(0, min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one."),
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, memory storage) until Ctrl-C.

    Example: [bold]tracewatch broker --port 9092[/bold], then
    [bold]TRACEWATCH_BROKER=kafka://127.0.0.1:9092 tracewatch worker[/bold]
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        embedded = EmbeddedBroker(port=port).start()
    except BrokerError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    print(f"bootstrap: {embedded.bootstrap}", flush=True)
    try:
        while not stop.wait(0.5):
            if embedded._proc is not None and embedded._proc.poll() is not None:
                console.print("[red]error:[/red] the broker exited unexpectedly")
                raise typer.Exit(1)
    finally:
        embedded.stop()
        print("broker stopped", file=sys.stderr, flush=True)


@app.command()
def up(
    config: Optional[str] = typer.Option(None, "--config", help="YAML settings file (env wins)."),
    loglevel: str = typer.Option("warning", help="Worker log level: debug, info, warning, error."),
    ephemeral: bool = typer.Option(False, "--ephemeral",
                                   help="Keep nothing: no state directory, everything gone at stop."),
) -> None:
    """Run everything: the embedded broker (unless TRACEWATCH_BROKER is set), a worker and the web API.

    The embedded broker's state (incidents, actions, blocks, prompts, baselines, positions) is kept in
    TRACEWATCH_STATE_DIR (printed at start) and restored by the next `up`; see docs/durability.md.

    Example: [bold]tracewatch up[/bold], then [bold]curl localhost:6066/healthz[/bold]
    """
    from streams.journal import DurabilityError
    from streams.worker import broker_for, run_worker

    settings = settings_or_exit(config)
    try:
        with broker_for(settings, durable=not ephemeral) as url:
            console.print(f"tracewatch: API on http://{settings.web_host}:{settings.web_port} — Ctrl-C stops")
            run_worker(settings, url, loglevel=loglevel)
    except (DurabilityError, BrokerError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2 if isinstance(exc, DurabilityError) else 1) from exc


@app.command()
def worker(
    config: Optional[str] = typer.Option(None, "--config", help="YAML settings file (env wins)."),
    loglevel: str = typer.Option("warning", help="Worker log level: debug, info, warning, error."),
) -> None:
    """Run one worker (and its web API) against TRACEWATCH_BROKER; start more to scale out.

    Example: [bold]TRACEWATCH_BROKER=kafka://kafka:9092 TRACEWATCH_WEB_PORT=6067 tracewatch worker[/bold]
    """
    from streams.worker import run_worker

    settings = settings_or_exit(config)
    if not settings.broker:
        console.print("[red]error:[/red] TRACEWATCH_BROKER is not set; e.g. kafka://127.0.0.1:9092 "
                      "(or use `tracewatch up`, which starts an embedded broker)")
        raise typer.Exit(2)
    run_worker(settings, settings.broker, loglevel=loglevel)
