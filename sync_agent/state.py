"""The agent's local state, in SQLite (WAL).

``state.db`` — owned by the backup thread, written in one long transaction
that is committed only at checkpoints (after every pack it refers to is
indexed on the portal), so a crash never leaves a cache row that points at
data the portal does not have:
- ``entries``: every tracked file, folder and symlink (dir, name → stat +
  chunk list), so an unchanged file is never read again;
- ``trees``: folder → tree id and subtree totals, reused while nothing under
  it changed;
- ``known``: chunk ids the portal is known to hold.

``journal.db`` — small, shared between threads under a lock, committed at
once: packs uploaded but maybe not indexed yet, and the watcher's dirty set.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

ID_SIZE = 32
BATCH = 500

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    dir TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, mode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0,
    inode INTEGER NOT NULL DEFAULT 0, chunks BLOB, target TEXT,
    PRIMARY KEY (dir, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trees (
    path TEXT PRIMARY KEY, tree_id TEXT NOT NULL, files INTEGER NOT NULL, dirs INTEGER NOT NULL,
    bytes INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS known (id BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
"""

JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS packs (pack_id TEXT PRIMARY KEY, size INTEGER NOT NULL, chunks TEXT NOT NULL,
                                  created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dirty (path TEXT PRIMARY KEY, recursive INTEGER NOT NULL, seq INTEGER NOT NULL);
"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-16000")  # 16 MB: the cache lives on disk, not in RAM
    return conn


def pack_ids(ids: Iterable[str]) -> bytes:
    return b"".join(bytes.fromhex(i) for i in ids)


def unpack_ids(blob: bytes | None) -> list[str]:
    if not blob:
        return []
    return [blob[i:i + ID_SIZE].hex() for i in range(0, len(blob), ID_SIZE)]


class Entry(NamedTuple):
    """One tracked file, folder or symlink (a tuple: millions are compared per scan)."""

    name: str
    type: str            # "file" | "dir" | "symlink"
    mode: int
    mtime_ns: int
    ctime_ns: int = 0
    size: int = 0
    inode: int = 0
    chunks: bytes | None = None   # packed raw ids, files only
    target: str | None = None     # symlinks only

    def same_file(self, other: "Entry") -> bool:
        """Same stat signature: the content need not be read again."""
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode) == (
            other.size, other.mtime_ns, other.ctime_ns, other.inode)

    def same_meta(self, other: "Entry") -> bool:
        return (self.type, self.mode, self.mtime_ns, self.target) == (
            other.type, other.mode, other.mtime_ns, other.target)


class State:
    def __init__(self, home: Path):
        self.path = home / "state.db"
        self.db = _connect(self.path)
        self.db.executescript(STATE_SCHEMA)
        self._readers = threading.local()
        self.in_transaction = False

    def close(self) -> None:
        if self.in_transaction:
            self.db.execute("ROLLBACK")
            self.in_transaction = False
        self.db.close()

    # --- transactions: one long one per backup, committed at checkpoints ---------------
    def begin(self) -> None:
        if not self.in_transaction:
            self.db.execute("BEGIN")
            self.in_transaction = True

    def commit(self) -> None:
        if self.in_transaction:
            self.db.execute("COMMIT")
            self.in_transaction = False

    def rollback(self) -> None:
        if self.in_transaction:
            self.db.execute("ROLLBACK")
            self.in_transaction = False

    def checkpoint(self) -> None:
        self.commit()
        self.begin()

    # --- entries --------------------------------------------------------------------
    def entries_in(self, directory: str) -> dict[str, Entry]:
        rows = self.db.execute(
            "SELECT name, type, mode, mtime_ns, ctime_ns, size, inode, chunks, target FROM entries WHERE dir=?",
            (directory,))
        make = Entry._make
        return {row[0]: make(row) for row in rows}

    def rows_in(self, directory: str) -> dict[str, tuple]:
        """Like ``entries_in`` but plain tuples in Entry's field order (the scanner's fast path)."""
        rows = self.db.execute(
            "SELECT name, type, mode, mtime_ns, ctime_ns, size, inode, chunks, target FROM entries WHERE dir=?",
            (directory,))
        return {row[0]: row for row in rows}

    def iter_entries(self, directory: str) -> Iterator[Entry]:
        rows = self.db.execute(
            "SELECT name, type, mode, mtime_ns, ctime_ns, size, inode, chunks, target FROM entries WHERE dir=?",
            (directory,))
        yield from map(Entry._make, rows)

    def put_entries(self, directory: str, entries: Iterable[Entry]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO entries (dir, name, type, mode, mtime_ns, ctime_ns, size, inode, chunks, target)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(directory, e.name, e.type, e.mode, e.mtime_ns, e.ctime_ns, e.size, e.inode, e.chunks, e.target)
             for e in entries])

    def put_rows(self, rows: list[tuple[str, Entry]]) -> None:
        """``(directory, entry)`` rows of several directories in one statement."""
        # One multi-row statement: sqlite3 drops and re-takes the GIL per statement step,
        # which costs far more than the insert when reader threads hold the GIL.
        for start in range(0, len(rows), 100):
            part = rows[start:start + 100]
            values = ",".join(["(?,?,?,?,?,?,?,?,?,?)"] * len(part))
            self.db.execute(
                "INSERT OR REPLACE INTO entries (dir, name, type, mode, mtime_ns, ctime_ns, size, inode, chunks,"
                f" target) VALUES {values}", [v for d, e in part for v in (d, *e)])

    def delete_entries(self, directory: str, names: Iterable[str]) -> None:
        for name in names:
            self.db.execute("DELETE FROM entries WHERE dir=? AND name=?", (directory, name))
            self.forget_subtree(_join(directory, name))

    def forget_subtree(self, path: str) -> None:
        """Drop every entry and tree below ``path`` (a folder that is gone or excluded)."""
        low, high = path.rstrip("/") + "/", path.rstrip("/") + "0"  # "0" sorts right after "/"
        self.db.execute("DELETE FROM entries WHERE dir=? OR (dir>=? AND dir<?)", (path, low, high))
        self.db.execute("DELETE FROM trees WHERE path=? OR (path>=? AND path<?)", (path, low, high))

    def count_files(self) -> int:
        return self.db.execute("SELECT count(*) FROM entries WHERE type='file'").fetchone()[0]

    # --- tree cache -------------------------------------------------------------------
    def tree_get(self, path: str) -> tuple[str, int, int, int] | None:
        return self.db.execute("SELECT tree_id, files, dirs, bytes FROM trees WHERE path=?", (path,)).fetchone()

    def tree_put(self, path: str, tree_id: str, files: int, dirs: int, size: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO trees VALUES (?,?,?,?,?)", (path, tree_id, files, dirs, size))

    def trees_invalidate(self, paths: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM trees WHERE path=?", [(p,) for p in paths])

    # --- known chunk ids --------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._readers.conn = conn
        return conn

    def is_known(self, cid: str) -> bool:
        """From any thread (its own read connection: sees committed rows only)."""
        row = self._reader().execute("SELECT 1 FROM known WHERE id=?", (bytes.fromhex(cid),)).fetchone()
        return row is not None

    def known_filter(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are known (main connection, sees this run's rows)."""
        found: set[str] = set()
        for start in range(0, len(ids), BATCH):
            part = [bytes.fromhex(i) for i in ids[start:start + BATCH]]
            marks = ",".join("?" * len(part))
            found.update(r[0].hex() for r in self.db.execute(f"SELECT id FROM known WHERE id IN ({marks})", part))
        return found

    def known_add(self, ids: Iterable[str]) -> None:
        ids = [bytes.fromhex(i) for i in ids]
        for start in range(0, len(ids), BATCH):  # multi-row statements: see put_rows
            part = ids[start:start + BATCH]
            self.db.execute(f"INSERT OR IGNORE INTO known VALUES {','.join(['(?)'] * len(part))}", part)

    def known_clear(self) -> None:
        self.db.execute("DELETE FROM known")
        self.db.execute("DELETE FROM trees")

    def forget_chunks(self) -> None:
        """Every chunk id this cache holds is of other keys (a new key set): the next run
        reads every file again and dedups only against what it uploads with the new keys."""
        self.known_clear()
        self.db.execute("UPDATE entries SET chunks=NULL WHERE type='file'")

    # --- meta -----------------------------------------------------------------------
    def meta_get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def meta_set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name if directory != "/" else "/" + name


class Journal:
    """Packs in flight and the dirty set; thread-safe, every write committed at once."""

    def __init__(self, home: Path):
        self.db = _connect(home / "journal.db")
        self.db.executescript(JOURNAL_SCHEMA)
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def pack_started(self, pack_id: str, size: int, chunks_json: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO packs VALUES (?,?,?,?)", (pack_id, size, chunks_json, time.time()))

    def pack_done(self, pack_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM packs WHERE pack_id=?", (pack_id,))

    def packs_pending(self) -> list[tuple[str, int, str]]:
        with self.lock:
            return self.db.execute("SELECT pack_id, size, chunks FROM packs ORDER BY created").fetchall()

    def mark_dirty(self, paths: Iterable[tuple[str, bool]]) -> None:
        seq = time.time_ns()
        with self.lock:
            self.db.executemany(
                "INSERT INTO dirty VALUES (?,?,?) ON CONFLICT(path) DO UPDATE SET "
                "recursive=max(recursive, excluded.recursive), seq=excluded.seq",
                [(p, int(r), seq) for p, r in paths])

    def dirty(self) -> tuple[list[tuple[str, bool]], int]:
        """The dirty set and a mark to clear exactly these later."""
        with self.lock:
            rows = self.db.execute("SELECT path, recursive, seq FROM dirty").fetchall()
        mark = max((r[2] for r in rows), default=0)
        return [(p, bool(r)) for p, r, _ in rows], mark

    def dirty_count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT count(*) FROM dirty").fetchone()[0]

    def clear_dirty(self, up_to: int) -> None:
        with self.lock:
            self.db.execute("DELETE FROM dirty WHERE seq<=?", (up_to,))
