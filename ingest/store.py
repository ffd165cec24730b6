"""The store: raw batches, ingest counters, analysis events and worker state.

SQLite in WAL mode is the default (one writer per table family, readers in other
processes; STACK.md measured ~290k rows/s with batched writes). Every write is
idempotent: raw batches on ``(device_id, seq)``, events on ``(device_id, kind,
event_id, t_s)``, so a redelivered packet or a replayed event changes nothing. An
event's ``event_id`` is its ``id`` field, which only user actions carry (the id of the
action message, so that two actions at the same time are two events, and the same
action delivered twice is one); it is ``''`` for every other event. The class keeps its
SQL to portable statements so that a PostgreSQL backend can offer the same methods.

A ``Store`` is used by one thread at a time (a service builds it, its handler thread
uses it, and it is closed after that thread has ended); each service opens its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.errors import StoreError

__all__ = [
    "DEFAULT_STORE_URL",
    "BatchRow",
    "DeviceState",
    "EventKey",
    "EventRow",
    "StateRow",
    "Store",
    "event_id",
    "event_key",
    "event_time",
    "parse_store_url",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
DEFAULT_STORE_URL = "sqlite:///var/sitless.sqlite"
BUSY_TIMEOUT_MS = 10_000
# Raw batches read per query when replaying a stream (~50 kB each of 25-sample packets).
BATCH_PAGE = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    t0_s REAL NOT NULL,
    n INTEGER NOT NULL,
    rate_hz REAL NOT NULL,
    payload BLOB NOT NULL,
    received_s REAL NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX IF NOT EXISTS batches_time ON batches (device_id, t0_s);
CREATE TABLE IF NOT EXISTS counters (
    service TEXT NOT NULL,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (service, device_id, name)
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_id TEXT NOT NULL DEFAULT '',
    t_s REAL NOT NULL,
    body TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (device_id, kind, event_id, t_s)
);
CREATE INDEX IF NOT EXISTS events_time ON events (device_id, t_s);
CREATE TABLE IF NOT EXISTS wearer_settings (
    device_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS worker_state (
    device_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_s REAL NOT NULL
);
"""
# Schema 2: events remember whether the worker's MQTT publish of them was acknowledged
# (events stored by schema 1 were published as they were stored).
# Schema 3: an event's key includes its id (``event_id``), so that two user actions at
# the same time are both kept. SQLite cannot change a primary key in place: the table
# is rebuilt, in its order, and the events stored before have no id ('').
_MIGRATIONS = {
    2: ("ALTER TABLE events ADD COLUMN published INTEGER NOT NULL DEFAULT 1",),
    3: (
        "CREATE TABLE events_v3 (device_id TEXT NOT NULL, kind TEXT NOT NULL, event_id TEXT NOT NULL DEFAULT '',"
        " t_s REAL NOT NULL, body TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 1,"
        " PRIMARY KEY (device_id, kind, event_id, t_s))",
        "INSERT INTO events_v3 (device_id, kind, event_id, t_s, body, published)"
        " SELECT device_id, kind, '', t_s, body, published FROM events ORDER BY rowid",
        "DROP TABLE events",
        "ALTER TABLE events_v3 RENAME TO events",
        "CREATE INDEX IF NOT EXISTS events_time ON events (device_id, t_s)",
    ),
}
# The column each migration adds: a table that has it already was made by _SCHEMA.
_MIGRATION_COLUMNS = {2: "published", 3: "event_id"}
_ADD_COUNT = (
    "INSERT INTO counters (service, device_id, name, value) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (service, device_id, name) DO UPDATE SET value = value + excluded.value"
)
_UNPUBLISHED_INDEX = "CREATE INDEX IF NOT EXISTS events_unpublished ON events (device_id) WHERE published = 0"


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One raw packet as stored: its key, timing and the exact bytes received."""

    device_id: str
    seq: int
    t0_s: float
    n: int
    rate_hz: float
    payload: bytes


#: What an event is stored under: ``(device_id, kind, t_s, event_id)``.
EventKey = tuple[str, str, float, str]


@dataclass(frozen=True, slots=True)
class EventRow:
    """One analysis event: ``body`` is the event's JSON object (it includes ``kind``)."""

    device_id: str
    kind: str
    t_s: float
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StateRow:
    """A save of the worker's state for one device.

    Attributes:
        device_id: The device.
        seq: The last packet sequence number the snapshot includes.
        snapshot: The analyzer's JSON-ready snapshot, or None to save only the status.
        status: The analyzer's live status.
    """

    device_id: str
    seq: int
    snapshot: dict[str, Any] | None
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The analysis worker's saved state for one device.

    Attributes:
        seq: The last packet sequence number the snapshot includes.
        snapshot: The analyzer's JSON-ready snapshot.
        status: The analyzer's live status (what the dashboard shows).
        updated_s: Wall-clock time of the save, Unix epoch seconds.
    """

    seq: int
    snapshot: dict[str, Any]
    status: dict[str, Any]
    updated_s: float


def event_time(event: dict[str, Any]) -> float:
    """The time an event is keyed on: its ``t_s``, else its ``start_s``.

    >>> event_time({"kind": "posture_bout", "start_s": 3.0, "end_s": 9.0})
    3.0
    """
    return float(event["t_s"] if "t_s" in event else event["start_s"])


def event_id(event: dict[str, Any]) -> str:
    """The id an event is keyed on besides its kind and time: its ``id``, else ``''``.

    User actions carry the id of the message that asked for them, so two actions in
    the same instant are two events:

    >>> event_id({"kind": "action", "t_s": 3.0, "action": "done", "id": "7f3a"})
    '7f3a'
    >>> event_id({"kind": "alert", "t_s": 3.0})
    ''
    """
    return str(event.get("id", ""))


def event_key(device_id: str, event: dict[str, Any]) -> EventKey:
    """The key an event of a device is stored under (:data:`EventKey`).

    >>> event_key("desk-07", {"kind": "break", "start_s": 3.0, "end_s": 70.0})
    ('desk-07', 'break', 3.0, '')
    """
    return (device_id, str(event["kind"]), event_time(event), event_id(event))


def parse_store_url(url: str) -> Path:
    """The SQLite file of a store URL: ``sqlite:///relative.db``, ``sqlite:////abs.db`` or a path.

    Raises:
        StoreError: The URL names another database; only SQLite is built in so far.

    >>> parse_store_url("sqlite:///var/sitless.sqlite")
    PosixPath('var/sitless.sqlite')
    """
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if "://" in url:
        raise StoreError(f"unsupported store URL {url!r}: use sqlite:///PATH")
    return Path(url)


class Store:
    """A connection to the sitless store.

    Args:
        url: ``sqlite:///PATH`` or a plain file path; the file and its folder are created.
        read_only: Open for reading only (the dashboard); the file must exist.

    Services opening a fresh store together (a recorder and a worker started at once) wait
    for each other: a store that is busy or locked while it is set up is tried again for
    up to the busy timeout, and only then does the open fail.

    Raises:
        StoreError: The database cannot be opened or its schema created.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.path = parse_store_url(url)
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.01
        while True:
            try:
                self._db = self._open(read_only=read_only)
                return
            except sqlite3.OperationalError as err:
                busy = "locked" in str(err) or "busy" in str(err)
                if not busy or time.monotonic() + delay > deadline:
                    raise StoreError(f"cannot open store {self.path}: {err}") from err
                log.info("store %s busy while opening (%s); trying again", self.path, err)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except (sqlite3.Error, OSError) as err:  # OSError: its folder cannot be made
                raise StoreError(f"cannot open store {self.path}: {err}") from err

    def _open(self, *, read_only: bool) -> sqlite3.Connection:
        """Connect and, for writing, set WAL mode and create or migrate the schema."""
        if read_only:
            db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            return db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")  # one writer sets up the schema; the others wait their turn
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                self._migrate(db)
                db.execute(_UNPUBLISHED_INDEX)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Bring an older schema up to :data:`SCHEMA_VERSION` (inside the set-up transaction)."""
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:  # a new store: _SCHEMA is already the current one
            db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise sqlite3.OperationalError(f"store schema {version} is newer than this sitless ({SCHEMA_VERSION})")
        columns = {r[1] for r in db.execute("PRAGMA table_info(events)")}
        for target in range(version + 1, SCHEMA_VERSION + 1):
            if _MIGRATION_COLUMNS.get(target) in columns:
                continue  # made by this version's _SCHEMA already
            for statement in _MIGRATIONS.get(target, ()):
                db.execute(statement)
            log.info("store migrated to schema %d", target)
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any error.

        Raises:
            StoreError: The database failed (locked past the busy timeout, disk full...).
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise StoreError(f"write to {self.path} failed: {err}") from err

    def _write(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement over many rows in one transaction."""
        with self._transaction() as db:
            db.executemany(sql, rows)

    def _insert_each(self, sql: str, rows: Iterable[Sequence[Any]]) -> list[bool]:
        """Run an ``INSERT OR IGNORE`` per row in one transaction; return which rows were new."""
        with self._transaction() as db:
            return [db.execute(sql, row).rowcount == 1 for row in rows]

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"read from {self.path} failed: {err}") from err

    # --- raw batches (recorder) -------------------------------------------------

    def add_batches(self, rows: Sequence[BatchRow]) -> list[bool]:
        """Store raw batches in one transaction, ignoring ones already stored.

        Returns:
            For each row, True if it was new, False if ``(device_id, seq)`` was stored before.
        """
        received_s = time.time()
        return self._insert_each(
            "INSERT OR IGNORE INTO batches (device_id, seq, t0_s, n, rate_hz, payload, received_s)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((r.device_id, r.seq, r.t0_s, r.n, r.rate_hz, r.payload, received_s) for r in rows),
        )

    def batches(self, device_id: str, *, after_seq: int = -1, limit: int | None = None) -> Iterator[BatchRow]:
        """Stored batches of one device with ``seq > after_seq``, in seq order, read page by page."""
        left = limit
        while left is None or left > 0:
            page = BATCH_PAGE if left is None else min(BATCH_PAGE, left)
            rows = self._read(
                "SELECT device_id, seq, t0_s, n, rate_hz, payload FROM batches"
                " WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (device_id, after_seq, page),
            )
            for row in rows:
                yield BatchRow(row[0], row[1], row[2], row[3], row[4], bytes(row[5]))
            if len(rows) < page:
                return
            after_seq = rows[-1][1]
            if left is not None:
                left -= len(rows)

    def seqs(self, device_id: str) -> list[int]:
        """All stored sequence numbers of one device, ascending."""
        return [r[0] for r in self._read("SELECT seq FROM batches WHERE device_id = ? ORDER BY seq", (device_id,))]

    def max_seq(self, device_id: str, *, below: int = 2**63 - 1) -> int | None:
        """The highest stored sequence number of a device under ``below``, or None."""
        row = self._read("SELECT MAX(seq) FROM batches WHERE device_id = ? AND seq < ?", (device_id, below))
        return None if row[0][0] is None else int(row[0][0])

    def gaps(self, device_id: str) -> list[tuple[int, int]]:
        """Packets missing from a device's stored stream, as ``(first_missing, last_missing)``.

        Computed from what is stored, so a packet that arrives late closes its gap.
        """
        rows = self._read(
            "SELECT prev + 1, seq - 1 FROM (SELECT seq, LAG(seq) OVER (ORDER BY seq) AS prev"
            " FROM batches WHERE device_id = ?) WHERE seq - prev > 1 ORDER BY seq",
            (device_id,),
        )
        return [(int(a), int(b)) for a, b in rows]

    # --- counters ---------------------------------------------------------------

    def add_counts(self, service: str, counts: dict[tuple[str, str], int]) -> None:
        """Add to named counters, keyed ``(device_id, name)``; ``device_id`` may be ``"*"``."""
        if not counts:
            return
        self._write(_ADD_COUNT, [(service, dev, name, n) for (dev, name), n in counts.items()])

    def counters(self, service: str | None = None) -> dict[tuple[str, str, str], int]:
        """All counters as ``{(service, device_id, name): value}``."""
        sql = "SELECT service, device_id, name, value FROM counters"
        rows = self._read(sql + " WHERE service = ?", (service,)) if service else self._read(sql)
        return {(s, d, n): int(v) for s, d, n, v in rows}

    # --- devices ------------------------------------------------------------------

    def set_device_status(self, device_id: str, status: dict[str, Any]) -> None:
        """Keep the latest retained status a device published."""
        self._write(
            "INSERT INTO devices (device_id, status, updated_s) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET status = excluded.status, updated_s = excluded.updated_s",
            [(device_id, json.dumps(status), time.time())],
        )

    def devices(self) -> dict[str, dict[str, Any]]:
        """Every known device (from its status or its analysis state) with its last status."""
        out: dict[str, dict[str, Any]] = {
            d: {} for (d,) in self._read("SELECT device_id FROM worker_state ORDER BY device_id")
        }
        for device_id, status in self._read("SELECT device_id, status FROM devices ORDER BY device_id"):
            out[device_id] = json.loads(status)
        return dict(sorted(out.items()))

    def set_wearer_settings(self, device_id: str, body: dict[str, Any]) -> None:
        """Keep the settings the wearer chose last (``ingest.payloads.WearerSettings.to_dict``)."""
        self._write(
            "INSERT INTO wearer_settings (device_id, body, updated_s) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET body = excluded.body, updated_s = excluded.updated_s",
            [(device_id, json.dumps(body), time.time())],
        )

    def wearer_settings(self, device_id: str) -> dict[str, Any] | None:
        """The settings the wearer chose last, or None (none chosen, or a store older than settings)."""
        if not self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'wearer_settings'"):
            return None  # a read-only view of a store no writer has opened since settings came in
        rows = self._read("SELECT body FROM wearer_settings WHERE device_id = ?", (device_id,))
        return json.loads(rows[0][0]) if rows else None

    def delete_device(self, device_id: str) -> int:
        """Delete everything stored about one device, in one transaction; return the rows deleted.

        Raw packets, events, the analysis state and live status, the device's status,
        the wearer's settings and the services' counters all go. A worker still
        analysing the device saves a fresh status and state again with its next packet.
        """
        tables = ("batches", "events", "worker_state", "devices", "wearer_settings", "counters")
        with self._transaction() as db:
            return sum(
                db.execute(f"DELETE FROM {table} WHERE device_id = ?", (device_id,)).rowcount for table in tables
            )

    # --- analysis events and state (worker) --------------------------------------------

    def add_events(self, device_id: str, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Store analysis events, each a JSON object with ``kind`` and ``t_s`` or ``start_s``.

        Returns:
            For each event, whether it was new: an event with the same device, kind,
            time and id (:func:`event_key`) is kept once, so replaying a stream after a
            restart stores nothing twice.
        """
        return self._insert_each(
            "INSERT OR IGNORE INTO events (device_id, kind, event_id, t_s, body, published) VALUES (?, ?, ?, ?, ?, 0)",
            ((device_id, e["kind"], event_id(e), event_time(e), json.dumps(e)) for e in events),
        )

    def has_event(self, device_id: str, kind: str, event_id: str) -> bool:
        """Whether an event of this device, kind and id is stored (at any time)."""
        return bool(
            self._read(
                "SELECT 1 FROM events WHERE device_id = ? AND kind = ? AND event_id = ? LIMIT 1",
                (device_id, kind, event_id),
            )
        )

    def mark_published(self, keys: Sequence[EventKey]) -> None:
        """Record that the broker acknowledged these events, keyed as :func:`event_key` gives."""
        if keys:
            self._write(
                "UPDATE events SET published = 1 WHERE device_id = ? AND kind = ? AND t_s = ? AND event_id = ?", keys
            )

    def unpublished_events(self, *, limit: int = 10_000) -> list[EventRow]:
        """Stored events whose publish was never acknowledged (the worker stopped in between), oldest first."""
        rows = self._read(
            "SELECT device_id, kind, t_s, body FROM events WHERE published = 0 ORDER BY t_s, rowid LIMIT ?", (limit,)
        )
        return [EventRow(d, k, float(t), json.loads(b)) for d, k, t, b in rows]

    def events(
        self,
        device_id: str,
        *,
        since_s: float = float("-inf"),
        until_s: float = float("inf"),
        kinds: Sequence[str] | None = None,
    ) -> list[EventRow]:
        """Events of one device with ``since_s <= t_s < until_s``, in time order (then as stored)."""
        sql = "SELECT device_id, kind, t_s, body FROM events WHERE device_id = ? AND t_s >= ? AND t_s < ?"
        params: list[Any] = [device_id, since_s, until_s]
        if kinds is not None:
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
            params.extend(kinds)
        rows = self._read(sql + " ORDER BY t_s, kind, rowid", params)
        return [EventRow(d, k, float(t), json.loads(b)) for d, k, t, b in rows]

    def save_state(self, device_id: str, seq: int, snapshot: dict[str, Any], status: dict[str, Any]) -> None:
        """Save the worker's analysis state for a device (replacing the previous one)."""
        self.save_states([StateRow(device_id, seq, snapshot, status)])

    def save_states(
        self, rows: Sequence[StateRow], *, counts: tuple[str, dict[tuple[str, str], int]] | None = None
    ) -> None:
        """Save several devices' states in one transaction.

        A row without a snapshot updates only the live status and keeps the last snapshot
        (and its ``seq``), so a restart resumes from a consistent pair.

        Args:
            rows: The states.
            counts: ``(service, {(device_id, name): n})`` added to the counters in the same
                transaction: counts of what the snapshots include (packets analysed), so
                that the packets a restarted worker replays are counted once.
        """
        now = time.time()
        with self._transaction() as db:
            if counts is not None and counts[1]:
                service, by_key = counts
                db.executemany(_ADD_COUNT, [(service, dev, name, n) for (dev, name), n in by_key.items()])
            for r in rows:
                if r.snapshot is None:
                    db.execute(
                        "INSERT INTO worker_state (device_id, seq, snapshot, status, updated_s)"
                        " VALUES (?, -1, '{}', ?, ?) ON CONFLICT (device_id)"
                        " DO UPDATE SET status = excluded.status, updated_s = excluded.updated_s",
                        (r.device_id, json.dumps(r.status), now),
                    )
                else:
                    db.execute(
                        "INSERT INTO worker_state (device_id, seq, snapshot, status, updated_s) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, snapshot = excluded.snapshot,"
                        " status = excluded.status, updated_s = excluded.updated_s",
                        (r.device_id, r.seq, json.dumps(r.snapshot), json.dumps(r.status), now),
                    )

    def load_state(self, device_id: str) -> DeviceState | None:
        """The worker's saved state for a device, or None."""
        rows = self._read("SELECT seq, snapshot, status, updated_s FROM worker_state WHERE device_id = ?", (device_id,))
        if not rows:
            return None
        seq, snapshot, status, updated_s = rows[0]
        return DeviceState(int(seq), json.loads(snapshot), json.loads(status), float(updated_s))
