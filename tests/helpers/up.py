"""``tracewatch up`` as a real process for the durability tests: started, and killed with all its children."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.broker import free_port
from tests.helpers.service import TRACEWATCH, WorkerProcess


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux ``/proc``)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


@dataclass
class UpProcess(WorkerProcess):
    """``tracewatch up`` with its state in ``state_dir``; ``bootstrap`` is read from what it prints."""

    state_dir: Path = field(default=None)  # type: ignore[assignment]
    bootstrap: str = ""

    def start(self, wait: float = 120.0) -> "UpProcess":
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEWATCH_")}
        env.update({"TRACEWATCH_WEB_PORT": str(self.port), "TRACEWATCH_STATE_DIR": str(self.state_dir),
                    "TRACEWATCH_DATA_DIR": str(self.workdir), "PYTHONUNBUFFERED": "1"})
        env.update(self.env_extra)
        self.log = open(self.workdir / f"worker-{self.port}.log", "ab")
        self.proc = subprocess.Popen([TRACEWATCH, "up", "--loglevel", "info"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir)
        self.wait_healthy(wait)
        found = re.findall(r"embedded broker: bootstrap (\S+)", (self.workdir / f"worker-{self.port}.log").read_text())
        self.bootstrap = found[-1]
        self.broker_url = f"kafka://{self.bootstrap}"
        return self

    def kill_all(self) -> list[int]:
        """SIGKILL ``up``, its broker and its journal at the same moment; returns the pids killed."""
        pids = [self.proc.pid, *children(self.proc.pid)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # a short-lived child that exited (and was reaped) since it was listed
                if pid == self.proc.pid:
                    raise
        self.proc.wait(10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in pids[1:]):
            assert time.monotonic() < deadline, "a child of `up` outlived SIGKILL"
            time.sleep(0.05)
        return pids


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def new_up(workdir: Path, state_dir: Path, **env: str) -> UpProcess:
    return UpProcess(broker_url="", workdir=workdir, env_extra=env, port=free_port(), state_dir=state_dir)
