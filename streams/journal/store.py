"""The journal's store: the embedded broker's topics and consumer positions in one SQLite file.

SQLite in WAL mode with ``synchronous=FULL``: a transaction is on disk when ``commit`` returns, and a
process killed at any instruction (kill -9 mid-write) leaves the last committed transaction readable —
the write-ahead log is only ever appended to, and SQLite ignores a torn tail on open.

Records keep their original offsets (``records``). Topics that Kafka would compact keep one record per
key (``latest``), like Kafka's compaction, which also keeps offsets. The rest keep a time-bounded window
(``trim``), never cutting at or past what a consumer group has not yet committed, nor the last record of
a partition (so that a restored partition ends where it ended).
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, compacted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS partitions (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, ts INTEGER NOT NULL,
    key BLOB, value BLOB, headers BLOB, z INTEGER NOT NULL, PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, key BLOB NOT NULL, offset INTEGER NOT NULL,
    ts INTEGER NOT NULL, value BLOB, headers BLOB, z INTEGER NOT NULL, PRIMARY KEY (topic, partition, key));
CREATE INDEX IF NOT EXISTS latest_by_offset ON latest (topic, partition, offset);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)) WITHOUT ROWID;
"""


#: Values from this size on are stored zlib-compressed when that saves a tenth: trace events are JSON
#: and shrink several-fold, at a CPU cost paid in the journal's own process (docs/durability.md).
COMPRESS_FROM = 256


def pack(value: bytes | None) -> tuple[bytes | None, int]:
    """
    >>> v = b'{"model": "gpt-4o"}' * 40
    >>> unpack(*pack(v)) == v, pack(v)[1], pack(b"short")
    (True, 1, (b'short', 0))
    """
    if value is not None and len(value) >= COMPRESS_FROM:
        packed = zlib.compress(value, 1)
        if len(packed) < len(value) * 0.9:
            return packed, 1
    return value, 0


def unpack(value: bytes | None, z: int) -> bytes | None:
    return zlib.decompress(value) if z else value


class StoreError(RuntimeError):
    """The journal's store cannot be opened or written; the message says why and what to do."""


@dataclass(frozen=True)
class Record:
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def encode_headers(headers: Iterable[tuple[str, bytes]]) -> bytes | None:
    """Headers as length-prefixed name/value pairs (no JSON: values are arbitrary bytes)."""
    out = bytearray()
    for name, value in headers:
        raw = name.encode()
        value = value or b""
        out += len(raw).to_bytes(4, "big") + raw + len(value).to_bytes(4, "big") + value
    return bytes(out) if out else None


def decode_headers(blob: bytes | None) -> tuple[tuple[str, bytes], ...]:
    """
    >>> decode_headers(encode_headers([("a", b"1"), ("tracewatch.covered", b"")]))
    (('a', b'1'), ('tracewatch.covered', b''))
    """
    if not blob:
        return ()
    headers, i = [], 0
    while i < len(blob):
        n = int.from_bytes(blob[i:i + 4], "big")
        name = blob[i + 4:i + 4 + n].decode()
        i += 4 + n
        m = int.from_bytes(blob[i:i + 4], "big")
        headers.append((name, bytes(blob[i + 4:i + 4 + m])))
        i += 4 + m
    return tuple(headers)


class JournalStore:
    """One SQLite file; not shared between threads (each process opens its own)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the journal {path}: {exc} (move the file away to start "
                             "with an empty state)") from exc
        self._compacted = {name: bool(c) for name, c in self.db.execute("SELECT name, compacted FROM topics")}

    def close(self) -> None:
        self.db.close()

    # ---- writing ------------------------------------------------------------------------------------
    def add_topic(self, name: str, partitions: int, compacted: bool) -> None:
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO topics VALUES (?, ?, ?)", (name, partitions, int(compacted)))
        self._compacted[name] = compacted

    def append(self, batches: dict[tuple[str, int], list[Record]]) -> int:
        """Store the records of each partition and its next offset, all in one transaction."""
        count = 0
        with self._transaction():
            for (topic, partition), records in batches.items():
                if not records:
                    continue
                if self._compacted.get(topic, False):
                    # a record without a key cannot be compacted; Kafka refuses those on compacted topics
                    self.db.executemany(
                        "INSERT OR REPLACE INTO latest (topic, partition, key, offset, ts, value, z, headers) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(topic, partition, r.key, r.offset, r.timestamp_ms, *pack(r.value), encode_headers(r.headers))
                         for r in records if r.key is not None])
                else:
                    self.db.executemany(
                        "INSERT OR IGNORE INTO records (topic, partition, offset, ts, key, value, z, headers) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(topic, partition, r.offset, r.timestamp_ms, r.key, *pack(r.value), encode_headers(r.headers))
                         for r in records])
                self.db.execute(
                    "INSERT INTO partitions VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                    "DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)",
                    (topic, partition, records[-1].offset + 1))
                count += len(records)
        return count

    def save_group_offsets(self, offsets: dict[str, dict[tuple[str, int], int]]) -> None:
        """Replace the committed offsets of these groups (a consistent snapshot: see ``streams.journal.tail``)."""
        with self._transaction():
            for group, committed in offsets.items():
                self.db.execute("DELETE FROM group_offsets WHERE grp = ?", (group,))
                self.db.executemany("INSERT INTO group_offsets VALUES (?, ?, ?, ?)",
                                    [(group, t, p, o) for (t, p), o in committed.items() if o >= 0])

    def trim(self, older_than_ms: int, keep_whole: set[str]) -> int:
        """Drop records older than the cut from topics not kept whole; returns how many were dropped.

        Never at or past the lowest offset a consumer group has committed on the partition (a group
        that has not read a record must still find it), never the last record of a partition.
        """
        dropped = 0
        with self._transaction():
            rows = self.db.execute(
                "SELECT p.topic, p.partition, p.next_offset, "
                "(SELECT min(offset) FROM group_offsets g WHERE g.topic = p.topic AND g.partition = p.partition) "
                "FROM partitions p JOIN topics t ON t.name = p.topic WHERE t.compacted = 0").fetchall()
            for topic, partition, next_offset, committed in rows:
                if topic in keep_whole:
                    continue
                bound = min(next_offset - 1, committed if committed is not None else next_offset - 1)
                cur = self.db.execute(
                    "DELETE FROM records WHERE topic = ? AND partition = ? AND offset < ? AND ts < ?",
                    (topic, partition, bound, older_than_ms))
                dropped += cur.rowcount
        return dropped

    # ---- reading ------------------------------------------------------------------------------------
    def topics(self) -> dict[str, tuple[int, bool]]:
        return {name: (n, bool(c)) for name, n, c in self.db.execute("SELECT name, partitions, compacted FROM topics")}

    def next_offsets(self) -> dict[tuple[str, int], int]:
        return {(t, p): o for t, p, o in self.db.execute("SELECT topic, partition, next_offset FROM partitions")}

    def group_offsets(self) -> dict[str, dict[tuple[str, int], int]]:
        out: dict[str, dict[tuple[str, int], int]] = {}
        for group, topic, partition, offset in self.db.execute("SELECT grp, topic, partition, offset FROM group_offsets"):
            out.setdefault(group, {})[(topic, partition)] = offset
        return out

    def read(self, topic: str, partition: int) -> Iterator[Record]:
        """The partition's stored records in offset order."""
        table = "latest" if self._compacted.get(topic, False) else "records"
        cur = self.db.execute(
            f"SELECT offset, ts, key, value, z, headers FROM {table} WHERE topic = ? AND partition = ? ORDER BY offset",
            (topic, partition))
        for offset, ts, key, value, z, headers in cur:
            yield Record(offset, ts, key, unpack(value, z), decode_headers(headers))

    def counts(self) -> dict[str, int]:
        """Stored records per topic (for ``tracewatch`` status lines and tests)."""
        out: dict[str, int] = {}
        for table in ("records", "latest"):
            for topic, n in self.db.execute(f"SELECT topic, count(*) FROM {table} GROUP BY topic"):
                out[topic] = out.get(topic, 0) + n
        return out

    def _transaction(self) -> "_Transaction":
        return _Transaction(self)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; a full disk or a read-only file becomes a ``StoreError``."""

    def __init__(self, store: JournalStore) -> None:
        self.store = store

    def __enter__(self) -> None:
        try:
            self.store.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _store_error(self.store.path, exc) from exc

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        db = self.store.db
        if exc is not None:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise _store_error(self.store.path, exc) from exc
            return
        try:
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise _store_error(self.store.path, exc) from exc


def _store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "full" in text:
        return StoreError(f"the disk holding {path} is full ({text}); free space there or set "
                          "TRACEWATCH_STATE_DIR to a directory on another disk")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"cannot write {path} ({text}); make the directory writable or set TRACEWATCH_STATE_DIR")
    return StoreError(f"cannot write the journal {path}: {text}")
