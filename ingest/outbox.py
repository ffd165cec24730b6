"""Packets on disk until the broker has them: the gateway's buffer across outages and restarts.

A gateway stores each packet it makes (:meth:`Outbox.put`) before it publishes it, and
deletes it when the broker acknowledges it (:meth:`Outbox.ack`). While the broker is
unreachable, or slower than the packets come, the packets pile up here and only here:
the gateway publishes them from this file once the broker takes them again, page by
page in sequence order (:meth:`Outbox.pending` with ``after_seq`` and ``limit``), and a
gateway that starts again publishes every packet still here first, the same way
(``ingest.gateway.publisher``). A packet published twice (acknowledged, but the
deletion lost in a crash) reaches the recorder twice and is stored once: the store keys
packets on ``(device_id, seq)``.

SQLite in WAL mode, one file per gateway, safe to use from the MQTT network thread and
the gateway's own thread (one connection behind a lock). Opening it checks every page
(``PRAGMA quick_check``: 0.04 s for a day of one sensor's packets, 63 MB, from the page
cache); a damaged file (cut short, a page overwritten: a failing disk, a copy
interrupted) raises :class:`OutboxDamagedError`. :func:`open_outbox`, which the gateway
uses, then moves the file aside as ``<name>.corrupt-<UTC time>`` and starts an empty outbox: the packets
in the damaged file are not published (they may be read back from it with
``sqlite3 <file> .recover``), and a warning says so, rather than the gateway refusing
to start.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.errors import StoreError

__all__ = ["Outbox", "OutboxDamagedError", "open_outbox"]

log = logging.getLogger(__name__)

#: SQLite's result codes for a damaged file: SQLITE_CORRUPT and SQLITE_NOTADB.
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID
"""


class OutboxDamagedError(StoreError):
    """The outbox file is damaged: not an SQLite file, cut short, or with pages that do not read."""


class Outbox:
    """Packets not yet acknowledged by the broker, per device (module docstring).

    Args:
        path: The SQLite file (created with its folder).

    Raises:
        OutboxDamagedError: The file is damaged (module docstring).
        StoreError: The file cannot be opened for another reason (a folder in the way,
            no permission, a read-only disk).
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
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check(3)")]
            self._total: int = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except sqlite3.DatabaseError as err:
            self._close_quietly()
            if getattr(err, "sqlite_errorcode", None) in _DAMAGED:
                raise OutboxDamagedError(f"the gateway outbox {path} is damaged: {err}") from err
            raise StoreError(f"cannot open the gateway outbox {path}: {err}") from err
        except (OSError, sqlite3.Error) as err:
            self._close_quietly()
            raise StoreError(f"cannot open the gateway outbox {path}: {err}") from err
        if problems != ["ok"]:
            self._close_quietly()
            raise OutboxDamagedError(f"the gateway outbox {path} is damaged: {'; '.join(problems)}")

    def put(self, device_id: str, seq: int, payload: bytes) -> None:
        """Keep a packet until :meth:`ack` (a packet already kept under that seq is replaced).

        Raises:
            StoreError: The disk refused the write (full, read-only).
        """
        with self._locked() as db:
            if db.execute("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?)", (device_id, seq, payload)).rowcount:
                self._total += 1
            else:
                db.execute("UPDATE outbox SET payload = ? WHERE device_id = ? AND seq = ?", (payload, device_id, seq))

    def ack(self, device_id: str, seq: int) -> None:
        """Forget a packet the broker has acknowledged.

        Raises:
            StoreError: The disk refused the write.
        """
        with self._locked() as db:
            self._total -= db.execute("DELETE FROM outbox WHERE device_id = ? AND seq = ?", (device_id, seq)).rowcount

    def pending(
        self, device_id: str, after_seq: int | None = None, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        """The packets of a device not acknowledged yet, ``(seq, payload)`` in sequence order.

        Args:
            device_id: The device.
            after_seq: Only the packets whose sequence number is above this one (the
                next page after the last packet read); None for all.
            limit: At most this many, the first in sequence order; None for all.

        Raises:
            StoreError: The file could not be read (a page damaged since it was opened).
        """
        after = -1 if after_seq is None else after_seq  # sequence numbers are >= 0
        rows = self._query(
            "SELECT seq, payload FROM outbox WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (device_id, after, -1 if limit is None else limit),  # LIMIT -1: no limit (SQLite)
        )
        return [(int(seq), bytes(payload)) for seq, payload in rows]

    def last_seq(self, device_id: str) -> int | None:
        """The highest sequence number of a device's packets not acknowledged yet; None if none.

        Raises:
            StoreError: The file could not be read.
        """
        ((seq,),) = self._query("SELECT MAX(seq) FROM outbox WHERE device_id = ?", (device_id,))
        return None if seq is None else int(seq)

    def count(self, device_id: str | None = None) -> int:
        """Packets held, of one device or of all.

        Of all, it is the count kept as packets come and go (counted once, at the
        opening): a metrics scrape asks for it, and counting hundreds of thousands of rows
        under the lock the writes take held them back by a quarter of a second.

        Raises:
            StoreError: The file could not be read.
        """
        if device_id is None:
            with self._lock:
                return self._total
        ((n,),) = self._query("SELECT COUNT(*) FROM outbox WHERE device_id = ?", (device_id,))
        return int(n)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; an SQLite error raised as :class:`StoreError`."""
        try:
            with self._lock:
                yield self._db
        except sqlite3.Error as err:
            raise StoreError(f"gateway outbox {self.path}: {err}") from err

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._locked() as db:
            return list(db.execute(sql, params).fetchall())

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()


def open_outbox(path: Path) -> Outbox:
    """The outbox at ``path``; a damaged one is moved aside and an empty one started (module docstring).

    The SQLite file goes to ``<name>.corrupt-<UTC time>``, with its ``-wal`` and
    ``-shm`` files beside it (a new file must not take an old write-ahead log), and
    a warning names it and says its packets are lost to the broker.

    Raises:
        StoreError: The outbox cannot be opened for a reason other than damage, or the
            damaged file cannot be moved.
    """
    try:
        return Outbox(path)
    except OutboxDamagedError as err:
        damaged = err
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.replace(aside.with_name(aside.name + suffix))
    except OSError as err:
        raise StoreError(f"{damaged}; and it cannot be moved aside: {err}") from err
    log.warning(
        "%s; moved to %s and started with an empty outbox: the packets it held that the broker had not "
        "acknowledged are lost to the broker (sqlite3 %s .recover may read some back)",
        damaged,
        aside,
        aside,
    )
    return Outbox(path)
