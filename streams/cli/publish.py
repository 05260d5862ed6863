"""``tracewatch publish FILE``: send trace events from a JSONL or JSON file (or stdin) to Kafka."""

from __future__ import annotations

import asyncio
import sys
from typing import IO, Iterator, Optional

import orjson
import typer
from aiokafka import AIOKafkaProducer

from streams import topics
from streams.cli import app
from streams.cli._common import console, settings_or_exit


def records_of(stream: IO[bytes], name: str) -> Iterator[tuple[int, bytes, str | None]]:
    """Yield ``(line number, bytes to send, problem or None)``.

    A file whose first non-blank byte is ``[`` is one JSON array: each element becomes one message.
    Otherwise it is JSONL: one message per non-blank line. Lines that are not valid JSON are still sent
    (the worker dead-letters them with the reason, so nothing is lost) and reported here.
    """
    data = stream.read()
    if data.lstrip()[:1] == b"[":
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise typer.BadParameter(f"{name}: not a valid JSON array ({exc}); use JSONL to send line by line")
        for index, item in enumerate(items):
            yield index + 1, orjson.dumps(item), None
        return
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            orjson.loads(line)
            problem = None
        except orjson.JSONDecodeError as exc:
            problem = f"not valid JSON: {exc}"
        yield number, line, problem


async def _send_all(bootstrap: str, topic: str, records: list[tuple[int, bytes, str | None]],
                    skip_invalid: bool) -> tuple[int, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all",
                                max_request_size=8 << 20, client_id="tracewatch-publish")
    await producer.start()
    sent = skipped = 0
    try:
        pending = []
        for _number, value, problem in records:
            if problem and skip_invalid:
                skipped += 1
                continue
            pending.append(await producer.send(topic, value))
            sent += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent, skipped


@app.command()
def publish(
    file: str = typer.Argument(..., help="JSONL or JSON file of trace events; - reads stdin."),
    topic: str = typer.Option(topics.TRACES, help="Topic to publish to."),
    broker: Optional[str] = typer.Option(None, help="kafka://host:port; default TRACEWATCH_BROKER."),
    skip_invalid: bool = typer.Option(False, help="Do not send lines that are not valid JSON."),
) -> None:
    """Publish trace events to Kafka, one message per line (JSONL) or per array element (JSON).

    Example: [bold]tracewatch publish traces.jsonl --broker kafka://127.0.0.1:9092[/bold]
    """
    settings = settings_or_exit()
    url = broker or settings.broker
    if not url:
        raise typer.BadParameter("no broker: pass --broker kafka://host:port or set TRACEWATCH_BROKER",
                                 param_hint="--broker")
    try:
        stream = sys.stdin.buffer if file == "-" else open(file, "rb")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc
    with stream:
        records = list(records_of(stream, "stdin" if file == "-" else file))
    invalid = 0
    for number, _value, problem in records:
        if problem:
            invalid += 1
            action = "skipped" if skip_invalid else "sent; the worker will dead-letter it"
            print(f"{file}:{number}: {problem} ({action})", file=sys.stderr)
    try:
        sent, _ = asyncio.run(_send_all(topics.bootstrap_of(url), topic, records, skip_invalid))
    except Exception as exc:  # noqa: BLE001 - a connection problem is the user's to fix, say which
        console.print(f"[red]error:[/red] could not publish to {url}: {exc}")
        raise typer.Exit(1) from exc
    print(f"published {sent} message(s) to {topic}; {invalid} line(s) not valid JSON", flush=True)
