"""The state directory of ``tracewatch up``: where it is, and one ``up`` at a time.

The lock is an ``flock`` on ``<state dir>/lock``: the kernel releases it when every process holding it
has exited, however it exited (a SIGKILL or a reboot leaves no stale lock behind). ``up`` and its
journal process share it, so a restarted ``up`` cannot start while the old journal still writes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from pathlib import Path

#: Below this much free space ``up`` refuses to start rather than fill the disk while running.
MIN_FREE_BYTES = 64 * 1024 * 1024


class StateDirError(RuntimeError):
    """The state directory cannot be used; the message says why and what to do."""


def default_state_dir() -> Path:
    """``$XDG_DATA_HOME/tracewatch/state``, else ``~/.local/share/tracewatch/state`` (the XDG default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tracewatch" / "state"


class StateDir:
    """Open with ``acquire()``: creates the directory, checks it is writable with room, takes the lock."""

    def __init__(self, path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
        self.path = Path(path).expanduser().resolve()
        self.min_free_bytes = min_free_bytes
        self.lock_fd: int | None = None

    @property
    def journal_path(self) -> Path:
        return self.path / "journal.sqlite"

    def acquire(self) -> "StateDir":
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateDirError(f"cannot use the state directory {self.path}: {exc.strerror}; make it "
                                "writable or set TRACEWATCH_STATE_DIR to another directory") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise StateDirError(f"the state directory {self.path} is in use by a running `tracewatch up` "
                                    f"(pid {holder}); stop it first, or set TRACEWATCH_STATE_DIR to another "
                                    "directory") from exc
            raise
        if not os.access(self.path, os.W_OK):  # root ignores modes when creating; the check says it plainly
            os.close(fd)
            raise StateDirError(f"the state directory {self.path} is not writable; make it writable or set "
                                "TRACEWATCH_STATE_DIR to another directory")
        free = shutil.disk_usage(self.path).free
        if free < self.min_free_bytes:
            os.close(fd)
            raise StateDirError(f"the disk holding {self.path} is full ({free // 2**20} MiB free, at least "
                                f"{self.min_free_bytes // 2**20} MiB needed); free space or set "
                                "TRACEWATCH_STATE_DIR to a directory on another disk")
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        os.set_inheritable(fd, True)  # the journal process holds it too
        self.lock_fd = fd
        return self

    def release(self) -> None:
        fd, self.lock_fd = self.lock_fd, None
        if fd is not None:
            os.close(fd)
