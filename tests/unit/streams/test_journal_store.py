"""The journal's store and state directory: crash consistency, the lock, unusable directories."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.journal.state_dir import StateDir, StateDirError
from streams.journal.store import JournalStore, Record, StoreError

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from streams.journal.store import JournalStore, Record
    store = JournalStore(Path(sys.argv[1]))
    store.add_topic("t", 1, False)
    offset = 0
    while True:  # 500 records per transaction, 2 KB each, until killed
        store.append({("t", 0): [Record(offset + i, 0, b"k", b"x" * 2048) for i in range(500)]})
        offset += 500
        print(offset, flush=True)
""")


def test_a_kill_9_in_the_middle_of_writing_leaves_a_readable_store_of_whole_transactions(tmp_path):
    path = tmp_path / "journal.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    committed = 0
    while committed < 20_000:  # several WAL pages deep: the kill lands in the middle of some write
        line = writer.stdout.readline()
        assert line, "the writer died on its own"
        committed = int(line)
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    store = JournalStore(path)
    assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    offsets = [r.offset for r in store.read("t", 0)]
    assert len(offsets) >= committed and len(offsets) % 500 == 0  # whole transactions only
    assert offsets == list(range(len(offsets)))
    assert store.next_offsets() == {("t", 0): len(offsets)}


def test_compacted_topics_keep_the_latest_record_per_key(tmp_path):
    store = JournalStore(tmp_path / "journal.sqlite")
    store.add_topic("c", 1, True)
    store.append({("c", 0): [Record(0, 1, b"a", b"1"), Record(1, 1, b"b", b"2"), Record(2, 1, b"a", b"3")]})
    store.append({("c", 0): [Record(3, 1, b"b", None, (("h", b"v"),))]})
    assert [(r.offset, r.key, r.value, r.headers) for r in store.read("c", 0)] == [
        (2, b"a", b"3", ()), (3, b"b", None, (("h", b"v"),))]


def test_a_second_holder_of_the_state_directory_is_refused_with_the_pid(tmp_path):
    first = StateDir(tmp_path / "state").acquire()
    try:
        with pytest.raises(StateDirError, match=r"in use by a running `tracewatch up` \(pid \d+\)"):
            StateDir(tmp_path / "state").acquire()
    finally:
        first.release()
    StateDir(tmp_path / "state").acquire().release()  # free again once released


def test_up_refuses_a_state_directory_in_use(tmp_path, monkeypatch):
    held = StateDir(tmp_path / "state").acquire()
    monkeypatch.setenv("TRACEWATCH_STATE_DIR", str(tmp_path / "state"))
    try:
        result = CliRunner().invoke(app, ["up"])
    finally:
        held.release()
    assert result.exit_code == 2
    assert "in use by a running `tracewatch up`" in " ".join(result.output.split())


def test_an_unusable_state_directory_says_what_to_do(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StateDirError, match="cannot use the state directory .* set TRACEWATCH_STATE_DIR"):
        StateDir(tmp_path / "file" / "state").acquire()


def test_a_full_disk_is_refused_at_start(tmp_path):
    with pytest.raises(StateDirError, match=r"is full \(\d+ MiB free, at least \d+ MiB needed\)"):
        StateDir(tmp_path / "state", min_free_bytes=2**62).acquire()


def test_a_store_that_cannot_be_written_is_a_store_error(tmp_path):
    path = tmp_path / "journal.sqlite"
    JournalStore(path).close()
    store = JournalStore(path)
    store.db.execute("PRAGMA query_only=1")  # as a read-only file would answer
    with pytest.raises(StoreError, match="journal"):
        store.add_topic("t", 1, False)


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="move the file away"):
        JournalStore(path)


def test_large_values_are_stored_compressed_and_read_back_whole(tmp_path):
    store = JournalStore(tmp_path / "journal.sqlite")
    store.add_topic("t", 1, False)
    event = b'{"trace_id": "tr-1", "model": "gpt-4o", "input": "How do I reset my password?"}' * 20
    store.append({("t", 0): [Record(0, 1, b"k", event), Record(1, 1, b"k", b"tiny"), Record(2, 1, b"k", None)]})
    assert [r.value for r in store.read("t", 0)] == [event, b"tiny", None]
    stored = store.db.execute("SELECT length(value) FROM records WHERE offset = 0").fetchone()[0]
    assert stored < len(event) / 4
