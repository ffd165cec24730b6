"""Packets on disk until the broker has them: the gateway's buffer across outages and restarts.

A gateway stores each packet it makes (:meth:`Outbox.put`) before it publishes it, and
deletes it when the broker acknowledges it (:meth:`Outbox.ack`). While the broker is
unreachable the packets pile up here rather than only in the MQTT client's memory; a
gateway that starts again publishes every packet still here first (:meth:`Outbox.pending`),
in sequence order. A packet published twice (acknowledged, but the deletion lost in a
crash) reaches the recorder twice and is stored once: the store keys packets on
``(device_id, seq)``.

SQLite in WAL mode, one file per gateway, safe to use from the MQTT network thread and
the gateway's own thread (one connection behind a lock).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ingest.errors import StoreError

__all__ = ["Outbox"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID
"""


class Outbox:
    """Packets not yet acknowledged by the broker, per device (module docstring).

    Args:
        path: The SQLite file (created with its folder).

    Raises:
        StoreError: The file cannot be opened or is not an outbox.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the gateway outbox {path}: {err}") from err

    def put(self, device_id: str, seq: int, payload: bytes) -> None:
        """Keep a packet until :meth:`ack` (a packet already kept under that seq is replaced).

        Raises:
            StoreError: The disk refused the write (full, read-only).
        """
        self._run("INSERT OR REPLACE INTO outbox VALUES (?, ?, ?)", (device_id, seq, payload))

    def ack(self, device_id: str, seq: int) -> None:
        """Forget a packet the broker has acknowledged.

        Raises:
            StoreError: The disk refused the write.
        """
        self._run("DELETE FROM outbox WHERE device_id = ? AND seq = ?", (device_id, seq))

    def pending(self, device_id: str) -> list[tuple[int, bytes]]:
        """The packets of a device not acknowledged yet, ``(seq, payload)`` in sequence order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, payload FROM outbox WHERE device_id = ? ORDER BY seq", (device_id,)
            ).fetchall()
        return [(int(seq), bytes(payload)) for seq, payload in rows]

    def count(self, device_id: str | None = None) -> int:
        """Packets held, of one device or of all."""
        with self._lock:
            if device_id is None:
                (n,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            else:
                (n,) = self._db.execute("SELECT COUNT(*) FROM outbox WHERE device_id = ?", (device_id,)).fetchone()
        return int(n)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: tuple[object, ...]) -> None:
        try:
            with self._lock:
                self._db.execute(sql, params)
        except sqlite3.Error as err:
            raise StoreError(f"gateway outbox {self.path}: {err}") from err
