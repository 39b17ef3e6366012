"""A bounded, ordered, on-disk message queue (SQLite) for the MQTT sink.

Rows are deleted only when the broker acknowledges them (PUBACK), so messages survive a
broker outage and a restart of edge. The bound (``max_messages`` and ``max_bytes``) is
enforced at every insert by dropping the *oldest* rows: during a long outage the newest
events matter most. Drops are counted (``dropped``) and reported to the caller, which logs.

Durability: WAL journal with synchronous=NORMAL — survives a crash of edge; a power cut may
lose the last transactions. That trade keeps an insert well under a millisecond on an SD card.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class MessageQueue:
    def __init__(self, path: str | Path, max_messages: int = 10000,
                 max_bytes: int = 64 * 1024 * 1024, field: str = "mqtt.queue_path") -> None:
        if max_messages < 1 or max_bytes < 1:
            raise ValueError(f"max_messages and max_bytes must be >= 1, got {max_messages}, {max_bytes}")
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.dropped = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, "
                "retain INTEGER NOT NULL, created REAL NOT NULL)")
            self._count, self._bytes = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM messages").fetchone()
        except (OSError, sqlite3.Error) as e:
            raise RuntimeError(f"{field}: cannot open the message queue {self.path}: {e}") from e

    def __len__(self) -> int:
        return self._count

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        """Append one message; returns how many old messages were dropped to make room."""
        if len(payload) > self.max_bytes:
            raise ValueError(f"a {len(payload)}-byte message exceeds the queue's size bound "
                             f"({self.max_bytes} bytes)")
        with self._lock:
            self._db.execute("INSERT INTO messages (topic, payload, qos, retain, created) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (topic, sqlite3.Binary(payload), int(qos), int(retain), time.time()))
            self._count += 1
            self._bytes += len(payload)
            return self._trim()

    def _trim(self) -> int:
        dropped = 0
        while self._count > self.max_messages or self._bytes > self.max_bytes:
            excess = max(self._count - self.max_messages, 1)
            rows = self._db.execute("SELECT id, LENGTH(payload) FROM messages ORDER BY id LIMIT ?",
                                    (excess,)).fetchall()
            if not rows:
                break
            self._db.execute("DELETE FROM messages WHERE id <= ?", (rows[-1][0],))
            self._count -= len(rows)
            self._bytes -= sum(r[1] for r in rows)
            dropped += len(rows)
        self.dropped += dropped
        return dropped

    def after(self, last_id: int, limit: int) -> list[QueuedMessage]:
        """The oldest ``limit`` messages with id > ``last_id``, in order."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, qos, retain FROM messages "
                                    "WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)).fetchall()
        return [QueuedMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4])) for r in rows]

    def delete(self, msg_id: int) -> bool:
        """Remove an acknowledged message; False when it was already dropped."""
        with self._lock:
            row = self._db.execute("SELECT LENGTH(payload) FROM messages WHERE id = ?",
                                   (msg_id,)).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM messages WHERE id = ?", (msg_id,))
            self._count -= 1
            self._bytes -= row[0]
            return True

    def close(self) -> None:
        with self._lock:
            self._db.close()
