"""Durable state for the embedded broker: ``tracewatch up`` journals every topic to a local store and
restores it into the next broker it starts (``docs/durability.md``).

- ``store``: the SQLite store (records with their offsets, compaction, retention, group positions);
- ``tail``: the journal that reads the broker as it is written (its own process: ``__main__``);
- ``restore``: puts the store back into a fresh broker before any worker starts;
- ``state_dir``: where the store lives, and the lock that keeps a second ``up`` out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from streams.broker import EmbeddedBroker, _die_with_parent
from streams.journal.restore import restore
from streams.journal.state_dir import StateDir, StateDirError, default_state_dir
from streams.journal.store import JournalStore, StoreError

if TYPE_CHECKING:
    from streams.settings import Settings

__all__ = ["DurabilityError", "durable_broker", "default_state_dir"]
log = logging.getLogger(__name__)


class DurabilityError(RuntimeError):
    """The state directory or its journal cannot be used; the message says why and what to do."""


class JournalProcess:
    """``python -m streams.journal`` beside the broker; it dies with its parent like the broker does."""

    def __init__(self, store_path: Path, bootstrap: str, lock_fd: int, settings: "Settings") -> None:
        self.args = [sys.executable, "-m", "streams.journal", "--store", str(store_path),
                     "--bootstrap", bootstrap,
                     "--flush-interval", str(settings.journal_flush_interval_s),
                     "--offsets-interval", str(settings.journal_offsets_interval_s),
                     "--retention", str(settings.journal_retention_s)]
        self.lock_fd = lock_fd
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def start(self) -> "JournalProcess":
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, pass_fds=(self.lock_fd,),
                                     preexec_fn=_die_with_parent)
        return self

    def watch(self, on_exit) -> None:
        """Call ``on_exit(returncode)`` if the journal ends while nobody asked it to."""
        def wait() -> None:
            code = self.proc.wait()
            if not self.stopping:
                on_exit(code)
        threading.Thread(target=wait, name="journal-watch", daemon=True).start()

    def stop(self, timeout: float) -> None:
        self.stopping = True
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # the journal stores a last consistent snapshot, then exits
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the journal did not stop within %.0f s; killed (the last second may be lost)", timeout)
            proc.kill()
            proc.wait(5)


def _stop_self(code: int) -> None:
    print(f"error: the journal stopped unexpectedly (exit code {code}); stopping tracewatch so that "
          "nothing runs without being kept (see the journal's error above)", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def durable_broker(settings: "Settings", *, announce: bool = True) -> Iterator[str]:
    """An embedded broker restored from the state directory and journaled into it while it runs."""
    try:
        state = StateDir(settings.state_dir or default_state_dir()).acquire()
    except StateDirError as exc:
        raise DurabilityError(str(exc)) from exc
    broker = journal = None
    try:
        try:
            store = JournalStore(state.journal_path)
        except StoreError as exc:
            raise DurabilityError(str(exc)) from exc
        broker = EmbeddedBroker().start()
        try:
            restored = asyncio.run(restore(store, broker.bootstrap))
        finally:
            store.close()
        if announce:
            print(f"state directory: {state.path} (restored {restored.records:,} records of "
                  f"{restored.topics} topics in {restored.seconds:.1f} s)", file=sys.stderr, flush=True)
            print(f"embedded broker: bootstrap {broker.bootstrap}", file=sys.stderr, flush=True)
        journal = JournalProcess(state.journal_path, broker.bootstrap, state.lock_fd, settings).start()
        journal.watch(_stop_self)
        yield broker.url
    finally:
        if journal is not None:
            journal.stop(settings.stop_timeout_s)
        if broker is not None:
            broker.stop()
        state.release()
