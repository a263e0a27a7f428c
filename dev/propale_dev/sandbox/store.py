"""The sandbox's persistent state: JSON objects by kind and id, in one SQLite file.

Every stand-in (HubSpot, Stripe, mailbox, Slack) keeps its objects here so that state survives a
restart. Reads are served from memory; every write goes through to SQLite before it returns, so a
killed sandbox loses nothing it has answered for.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class Store:
    """Thread-safe object store; objects are plain JSON-serialisable dicts.

    Callers get copies, so mutating a returned object never changes the store behind its back:
    change it, then `put` it.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._objects: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
        self._seq = 0
        for kind, id_, seq, data in self._db.execute("SELECT kind, id, seq, data FROM objects ORDER BY seq"):
            self._objects.setdefault(kind, {})[id_] = (seq, json.loads(data))
            self._seq = max(self._seq, seq)

    def get(self, kind: str, id_: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._objects.get(kind, {}).get(str(id_))
            return copy.deepcopy(entry[1]) if entry else None

    def put(self, kind: str, id_: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Insert or replace; an object keeps its original position in `all()` order."""
        id_ = str(id_)
        data = json.dumps(obj, separators=(",", ":"))
        with self._lock:
            existing = self._objects.get(kind, {}).get(id_)
            if existing:
                seq = existing[0]
            else:
                self._seq += 1
                seq = self._seq
            self._db.execute(
                "INSERT OR REPLACE INTO objects (kind, id, seq, data) VALUES (?, ?, ?, ?)",
                (kind, id_, seq, data),
            )
            self._objects.setdefault(kind, {})[id_] = (seq, copy.deepcopy(obj))
        return obj

    def delete(self, kind: str, id_: str) -> bool:
        id_ = str(id_)
        with self._lock:
            if self._objects.get(kind, {}).pop(id_, None) is None:
                return False
            self._db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, id_))
            return True

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every object of a kind, oldest first."""
        with self._lock:
            return [copy.deepcopy(obj) for _, obj in self._objects.get(kind, {}).values()]

    def iter_ids(self, kind: str) -> Iterator[str]:
        with self._lock:
            ids = list(self._objects.get(kind, {}))
        return iter(ids)

    def count(self, kind: str) -> int:
        with self._lock:
            return len(self._objects.get(kind, {}))

    def next_value(self, name: str, start: int = 1) -> int:
        """A persistent sequence: object ids, invoice numbers."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            value = row[0] + 1 if row else start
            self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
            return value

    def transaction(self) -> threading.RLock:
        """Hold while a read-modify-write must not interleave with another request's."""
        return self._lock

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM objects")
            self._db.execute("DELETE FROM counters")
            self._objects.clear()
            self._seq = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
