"""``python -m streams.journal``: the journal process that ``tracewatch up`` starts beside its broker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from streams.journal.store import JournalStore, StoreError
from streams.journal.tail import Journal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.journal", description=__doc__)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--flush-interval", type=float, default=0.1)
    parser.add_argument("--offsets-interval", type=float, default=1.0)
    parser.add_argument("--retention", type=float, default=86_400.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="journal: %(levelname)s %(message)s")
    try:
        store = JournalStore(args.store)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    journal = Journal(store, args.bootstrap, flush_interval_s=args.flush_interval,
                      offsets_interval_s=args.offsets_interval, retention_s=args.retention)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await journal.run(stop)

    try:
        asyncio.run(run())
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
