"""``tracewatch broker`` is a real process that prints its bootstrap address and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.helpers.service import TRACEWATCH, wait_for

pytestmark = pytest.mark.integration


def _children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start_broker_cli() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([TRACEWATCH, "broker"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    assert line.startswith("bootstrap: 127.0.0.1:"), line
    return proc, line.split()[-1]


def test_broker_prints_bootstrap_and_stops_on_sigterm():
    proc, bootstrap = _start_broker_cli()
    children = _children_of(proc.pid)
    assert children, "the broker binary runs as a child process"
    import socket

    host, port = bootstrap.split(":")
    socket.create_connection((host, int(port)), timeout=5).close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    wait_for(lambda: not any(_alive(c) for c in children), timeout=10, message="broker child to exit")


def test_broker_dies_with_its_parent_on_sigkill():
    proc, _ = _start_broker_cli()
    children = _children_of(proc.pid)
    assert children
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    wait_for(lambda: not any(_alive(c) for c in children), timeout=10,
             message="broker child to die after its parent was SIGKILLed")


def test_fixture_broker_dies_with_a_sigkilled_python_parent(tmp_path):
    # The same code the fixtures use (EmbeddedBroker), in a parent that is killed without cleanup.
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from streams.broker import EmbeddedBroker\n"
        "b = EmbeddedBroker().start()\n"
        "print(b.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=os.getcwd())
    broker_pid = int(parent.stdout.readline())
    assert _alive(broker_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    wait_for(lambda: not _alive(broker_pid), timeout=10, message="broker to die with its parent")
