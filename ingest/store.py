"""The store: raw batches, ingest counters, analysis events and worker state.

One interface, two backends chosen by URL (``ingest.store_schema``): a SQLite file in
WAL mode by default (one writer per table family, readers in other processes; STACK.md
measured ~290k rows/s with batched writes), or PostgreSQL for an office or a clinic
(``postgresql://USER@HOST:PORT/DB``, the password from ``PGPASSWORD``/``PGPASSFILE``).
Statements are SQLAlchemy Core, with each dialect's own ``INSERT ... ON CONFLICT``.

Every write is one transaction and idempotent: raw batches on ``(device_id, seq)``,
events on ``(device_id, kind, event_id, t_s)``, counter additions on their save token
(``ingest.tally``), so a redelivered packet, a replayed event or a write tried again
after its answer was lost changes nothing. An event's ``event_id`` is its ``id``
field, which only user actions carry (the id of the action message, so that two
actions at the same time are two events, and the same action delivered twice is one);
it is ``''`` for every other event.

A ``Store`` is used by one thread at a time (a service builds it, its handler thread
uses it, and it is closed after that thread has ended); each service opens its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ingest.codec import Batch
from ingest.errors import StoreError
from ingest.leases import PRESENCE_PREFIX, claim_statements, database_now, release_statement, renew_statements
from ingest.store_schema import (
    DEVICE_TABLES,
    SCHEMA_VERSION,
    Backend,
    StoreUrl,
    batches,
    counters,
    create_schema,
    device_leases,
    devices,
    events,
    meta,
    parse_store_url,
    save_tokens,
    stored_order,
    wearer_settings,
    worker_state,
    worker_status,
)
from ingest.tally import Tally

__all__ = [
    "DEFAULT_STORE_URL",
    "SCHEMA_VERSION",
    "Backend",
    "BatchRow",
    "DeviceState",
    "EventKey",
    "EventRow",
    "Lease",
    "StateRow",
    "Store",
    "StoreUrl",
    "add_store_argument",
    "event_id",
    "event_key",
    "event_time",
    "parse_store_url",
]

log = logging.getLogger(__name__)

DEFAULT_STORE_URL = "sqlite:///var/sitless.sqlite"
BUSY_TIMEOUT_MS = 10_000
# Raw batches read per query when replaying a stream (~50 kB each of 25-sample packets).
BATCH_PAGE = 1000
# How long a PostgreSQL connection attempt may take before the store reports it down.
CONNECT_TIMEOUT_S = 10
# How long a writer's last save token is kept after its last counts (``ingest.tally``).
# Only a write tried again after a lost answer needs it, within the services' capped
# retry backoff of the store coming back; a month covers any outage of the database.
SAVE_TOKEN_KEEP_S = 30 * 86_400
#: Raw packets one transaction of ``Store.prune_batches`` deletes at most (a few MB).
PRUNE_PAGE = 10_000


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--store URL`` (default :data:`DEFAULT_STORE_URL`), the option of every command that uses the store."""
    parser.add_argument(
        "--store",
        default=DEFAULT_STORE_URL,
        help=f"store URL: sqlite:///PATH or postgresql://USER@HOST/DB (default {DEFAULT_STORE_URL})",
    )


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One raw packet as stored: its key, timing and the exact bytes received."""

    device_id: str
    seq: int
    t0_s: float
    n: int
    rate_hz: float
    payload: bytes

    @classmethod
    def of_packet(cls, device_id: str, batch: Batch, payload: bytes) -> BatchRow:
        """The row of a received packet: ``payload``, which decoded to ``batch``."""
        return cls(device_id, batch.seq, batch.t0_s, batch.n, batch.rate_hz, payload)


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
class Lease:
    """Who analyses a device (:mod:`ingest.leases`).

    Attributes:
        owner: The worker id holding it.
        expires_in_s: Seconds until it expires, by the database's clock (negative: expired).
    """

    owner: str
    expires_in_s: float


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The analysis worker's saved state for one device.

    Attributes:
        seq: The last packet sequence number the snapshot includes (-1 without one).
        snapshot: The analyzer's JSON-ready snapshot (empty: only a status was saved).
        status: The analyzer's live status (what the dashboard shows; empty without one).
        updated_s: Wall-clock time of the last save of the status, Unix epoch seconds.
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


def _reason(err: BaseException) -> str:
    """A database error's own message, without SQLAlchemy's statement echo."""
    if isinstance(err, DBAPIError) and err.orig is not None:
        return str(err.orig).strip()
    return str(err)


def _is_busy(err: BaseException) -> bool:
    """Whether a SQLite error is another connection holding the database (worth a retry)."""
    text = _reason(err)
    return isinstance(err, sa.exc.OperationalError) and ("locked" in text or "busy" in text)


def _engine(where: StoreUrl, *, read_only: bool) -> sa.Engine:
    """An engine of one connection in autocommit mode: the store opens its own transactions."""
    if where.backend is Backend.POSTGRESQL:
        # A write waiting on another's row locks gives up after the busy timeout, as on SQLite.
        options = f"-c lock_timeout={BUSY_TIMEOUT_MS}" + (" -c default_transaction_read_only=on" if read_only else "")
        return sa.create_engine(
            where.url,
            poolclass=sa.NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "options": options},
        )
    path = where.path
    assert path is not None

    def connect() -> sqlite3.Connection:
        if read_only:
            db = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        db.isolation_level = None
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not read_only:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    return sa.create_engine("sqlite://", creator=connect, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")


class Store:
    """A connection to the sitless store.

    Args:
        url: ``sqlite:///PATH`` (or a plain file path; the file and its folder are
            created) or ``postgresql://USER@HOST:PORT/DB`` (the database must exist; the
            tables are created).
        read_only: Open for reading only (the dashboard); the store must exist.

    Services opening a fresh SQLite store together (a recorder and a worker started at
    once) wait for each other: a store that is busy or locked while it is set up is tried
    again for up to the busy timeout, and only then does the open fail. On PostgreSQL
    they take turns on an advisory lock.

    Raises:
        StoreError: The URL is not a store's, or the database cannot be opened or its
            schema created.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.where = parse_store_url(url)
        self.backend = self.where.backend
        self.read_only = read_only
        self._engine = _engine(self.where, read_only=read_only)
        self._insert: Callable[[sa.Table], Any] = (
            postgresql.insert if self.backend is Backend.POSTGRESQL else sqlite.insert
        )
        self._order = stored_order(self.backend)
        self._conn: Connection | None = None
        self._statuses: sa.TableClause | None = None  # where the live statuses are (_status_table)
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.01
        while True:
            try:
                self._connect()
                return
            except SQLAlchemyError as err:
                if not _is_busy(err) or time.monotonic() + delay > deadline:
                    self._engine.dispose()
                    raise StoreError(f"cannot open store {self.where}: {_reason(err)}") from err
                log.info("store %s busy while opening (%s); trying again", self.where, _reason(err))
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except (StoreError, OSError) as err:  # OSError: its folder cannot be made
                self._engine.dispose()
                raise StoreError(f"cannot open store {self.where}: {err}") from err

    @staticmethod
    def exists(url: str) -> bool:
        """Whether a store is there to read: its SQLite file, or its tables in PostgreSQL.

        Lets a reader (the dashboard) show "no data yet" before any service has made
        the store, without assuming a file.

        Raises:
            StoreError: The URL is not a store's, or the PostgreSQL server cannot be reached.
        """
        where = parse_store_url(url)
        if where.path is not None:
            return where.path.exists()
        engine = _engine(where, read_only=True)
        try:
            with engine.connect() as conn:
                return sa.inspect(conn).has_table("meta")
        except SQLAlchemyError as err:
            raise StoreError(f"cannot reach store {where}: {_reason(err)}") from err
        finally:
            engine.dispose()

    def _connect(self) -> None:
        """Connect and, for writing, create or migrate the schema in one set-up transaction."""
        conn = self._engine.connect()
        try:
            if not self.read_only:
                with self._begun(conn):
                    create_schema(conn, self.backend)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @contextlib.contextmanager
    def _begun(self, conn: Connection) -> Iterator[Connection]:
        """A transaction on ``conn``: on SQLite ``BEGIN IMMEDIATE``, so writers queue up front."""
        conn.exec_driver_sql("BEGIN IMMEDIATE" if self.backend is Backend.SQLITE else "BEGIN")
        try:
            yield conn
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            with contextlib.suppress(SQLAlchemyError):
                conn.exec_driver_sql("ROLLBACK")
            raise

    def _connection(self) -> Connection:
        """The open connection, made again after a database restart dropped the last one."""
        if self._conn is None or self._conn.invalidated or self._conn.closed:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            try:
                self._connect()
            except SQLAlchemyError as err:
                raise StoreError(f"cannot reach store {self.where}: {_reason(err)}") from err
        assert self._conn is not None
        return self._conn

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error.

        Raises:
            StoreError: The database failed (locked past the busy timeout, disk full,
                server gone...).
        """
        conn = self._connection()
        try:
            with self._begun(conn):
                yield conn
        except SQLAlchemyError as err:
            raise StoreError(f"write to {self.where} failed: {_reason(err)}") from err

    def _insert_new(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[bool]:
        """Insert rows in one transaction, skipping keys already stored; return which rows were new.

        One ``INSERT ... ON CONFLICT DO NOTHING RETURNING key`` over all rows: a row is new
        when its key came back and no earlier row of the call had that key.
        """
        if not rows:
            return []
        key = [c.name for c in table.primary_key.columns]
        statement = self._insert(table).on_conflict_do_nothing(index_elements=key).returning(*table.primary_key)
        with self._transaction() as conn:
            added = {tuple(r) for r in conn.execute(statement, list(rows))}
        seen: set[tuple[Any, ...]] = set()
        new = []
        for row in rows:
            k = tuple(row[c] for c in key)
            new.append(k in added and k not in seen)
            seen.add(k)
        return new

    def _read(self, statement: sa.Executable) -> list[tuple[Any, ...]]:
        try:
            return [tuple(row) for row in self._connection().execute(statement)]
        except SQLAlchemyError as err:
            raise StoreError(f"read from {self.where} failed: {_reason(err)}") from err

    def _add_counts_in(self, conn: Connection, tally: Tally, *, dropped: Set[str] = frozenset()) -> None:
        """Add the batches of ``tally`` not added yet, and keep its last token as added.

        The batches up to the writer's stored token were added by an earlier write whose
        answer was lost; the others are added now (without the counts of the devices in
        ``dropped``). A writer's first write also deletes the tokens of writers silent
        for :data:`SAVE_TOKEN_KEEP_S` (runs of the services that ended), by the
        database's clock, so that a host whose clock runs fast cannot delete the token of
        a writer on another host that still writes.
        """
        held = tally.held
        if not held:
            return
        t = save_tokens.c
        added = conn.execute(sa.select(t.token).where(t.writer == tally.writer)).scalar()
        now = database_now(self.backend)  # as the leases: hosts whose clocks disagree agree on ages
        if added is None:
            conn.execute(sa.delete(save_tokens).where(t.updated_s < now - SAVE_TOKEN_KEEP_S))
        elif added >= held[-1].token:
            return
        total = tally.counts_after(0 if added is None else added)
        if values := [
            {"service": tally.service, "device_id": dev, "name": name, "value": n}
            for (dev, name), n in total.items()
            if dev not in dropped
        ]:
            insert = self._insert(counters)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["service", "device_id", "name"],
                    set_={"value": counters.c.value + insert.excluded.value},
                ),
                values,
            )
        token = {"writer": tally.writer, "token": held[-1].token, "updated_s": now}
        conn.execute(self._upsert(save_tokens, token, ["token", "updated_s"]))

    def _upsert(self, table: sa.Table, row: dict[str, Any], update: Sequence[str]) -> Any:
        """An insert of ``row`` that, where its key is stored, updates the ``update`` columns."""
        return self._upsert_many(table, update).values(row)

    def _upsert_many(self, table: sa.Table, update: Sequence[str]) -> Any:
        """An insert that, where a row's key is stored, updates its ``update`` columns: run it over a list of rows."""
        insert = self._insert(table)
        return insert.on_conflict_do_update(
            index_elements=[c.name for c in table.primary_key.columns],
            set_={name: insert.excluded[name] for name in update},
        )

    # --- raw batches (recorder) -------------------------------------------------

    def add_batches(self, rows: Sequence[BatchRow]) -> list[bool]:
        """Store raw batches in one transaction, ignoring ones already stored.

        Returns:
            For each row, True if it was new, False if ``(device_id, seq)`` was stored before.
        """
        received_s = time.time()
        return self._insert_new(
            batches,
            [
                {
                    "device_id": r.device_id,
                    "seq": r.seq,
                    "t0_s": r.t0_s,
                    "n": r.n,
                    "rate_hz": r.rate_hz,
                    "payload": r.payload,
                    "received_s": received_s,
                }
                for r in rows
            ],
        )

    def batches(self, device_id: str, *, after_seq: int = -1, limit: int | None = None) -> Iterator[BatchRow]:
        """Stored batches of one device with ``seq > after_seq``, in seq order, read page by page."""
        b = batches.c
        left = limit
        while left is None or left > 0:
            page = BATCH_PAGE if left is None else min(BATCH_PAGE, left)
            rows = self._read(
                sa.select(b.device_id, b.seq, b.t0_s, b.n, b.rate_hz, b.payload)
                .where(b.device_id == device_id, b.seq > after_seq)
                .order_by(b.seq)
                .limit(page)
            )
            for row in rows:
                yield BatchRow(row[0], int(row[1]), float(row[2]), int(row[3]), float(row[4]), bytes(row[5]))
            if len(rows) < page:
                return
            after_seq = rows[-1][1]
            if left is not None:
                left -= len(rows)

    def prune_batches(self, keep_s: float, *, page: int = PRUNE_PAGE) -> int:
        """Delete raw packets stored more than ``keep_s`` ago that the worker has analysed; return how many.

        A packet goes only once the device's saved analysis state includes it (its
        ``seq`` at most the state's), so that a worker restarted from that state, or one
        taking the device over, replays nothing that is gone; a device no worker has
        analysed keeps all its packets. Age is the time the recorder stored the packet,
        by the database's clock, whatever the device's own clock said. Events, states,
        statuses and counts stay.

        Each device's packets are read ``page`` at a time in sequence order (on the
        table's key, no other index needed) and the old ones of each page deleted in a
        transaction of their own, so that the services writing meanwhile wait for one
        short transaction at most. A device's first page with nothing old ends it: the
        rest was stored later (a late packet among old ones is kept for the next run).

        Raises:
            ValueError: ``keep_s`` is below 0.
            StoreError: The database failed; the packets deleted before stay deleted.
        """
        if not keep_s >= 0:
            raise ValueError(f"keep_s must be >= 0, got {keep_s}")
        b, w = batches.c, worker_state.c
        cutoff_s = float(self._read(sa.select(database_now(self.backend)))[0][0]) - keep_s
        analysed = self._read(sa.select(w.device_id, w.seq).where(w.seq.is_not(None)).order_by(w.device_id))
        deleted = 0
        for device_id, upto_seq in analysed:
            after = -1
            while True:
                rows = self._read(
                    sa.select(b.seq, b.received_s)
                    .where(b.device_id == device_id, b.seq > after, b.seq <= upto_seq)
                    .order_by(b.seq)
                    .limit(page)
                )
                if not any(received_s < cutoff_s for _, received_s in rows):
                    break
                last = int(rows[-1][0])
                with self._transaction() as conn:
                    deleted += conn.execute(
                        sa.delete(batches).where(
                            b.device_id == device_id, b.seq > after, b.seq <= last, b.received_s < cutoff_s
                        )
                    ).rowcount
                after = last
        return deleted

    def stored_size(self, device_id: str) -> tuple[int, int]:
        """How much of a device's stream is stored: ``(packets, samples)``."""
        b = batches.c
        row = self._read(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(b.n), 0)).where(b.device_id == device_id)
        )
        return int(row[0][0]), int(row[0][1])

    def seqs(self, device_id: str) -> list[int]:
        """All stored sequence numbers of one device, ascending."""
        b = batches.c
        return [int(r[0]) for r in self._read(sa.select(b.seq).where(b.device_id == device_id).order_by(b.seq))]

    def max_seq(self, device_id: str, *, below: int = 2**63 - 1) -> int | None:
        """The highest stored sequence number of a device under ``below``, or None."""
        b = batches.c
        row = self._read(sa.select(sa.func.max(b.seq)).where(b.device_id == device_id, b.seq < below))
        return None if row[0][0] is None else int(row[0][0])

    def gaps(self, device_id: str) -> list[tuple[int, int]]:
        """Packets missing from a device's stored stream, as ``(first_missing, last_missing)``.

        Computed from what is stored, so a packet that arrives late closes its gap.
        """
        b = batches.c
        stream = (
            sa.select(b.seq, sa.func.lag(b.seq).over(order_by=b.seq).label("prev"))
            .where(b.device_id == device_id)
            .subquery()
        )
        rows = self._read(
            sa.select(stream.c.prev + 1, stream.c.seq - 1)
            .where(stream.c.seq - stream.c.prev > 1)
            .order_by(stream.c.seq)
        )
        return [(int(a), int(z)) for a, z in rows]

    # --- counters ---------------------------------------------------------------

    def add_counts(self, tally: Tally) -> None:
        """Add the counts a tally holds to its service's counters, each batch once (:mod:`ingest.tally`).

        Counters are keyed ``(device_id, name)``; ``device_id`` may be ``"*"``. The tally's
        batches that an earlier call added already (its answer lost) are not added again.
        """
        if not tally.held:
            return
        with self._transaction() as conn:
            self._add_counts_in(conn, tally)

    def counters(self, service: str | None = None) -> dict[tuple[str, str, str], int]:
        """All counters as ``{(service, device_id, name): value}``."""
        c = counters.c
        statement = sa.select(c.service, c.device_id, c.name, c.value)
        if service:
            statement = statement.where(c.service == service)
        return {(s, d, n): int(v) for s, d, n, v in self._read(statement)}

    # --- devices ------------------------------------------------------------------

    def set_device_status(self, device_id: str, status: dict[str, Any]) -> None:
        """Keep the latest retained status a device published."""
        row = {"device_id": device_id, "status": json.dumps(status), "updated_s": time.time()}
        with self._transaction() as conn:
            conn.execute(self._upsert(devices, row, ["status", "updated_s"]))

    def devices(self) -> dict[str, dict[str, Any]]:
        """Every known device (from its status or its analysis state) with its last status."""
        w, d = self._status_table().c, devices.c
        out: dict[str, dict[str, Any]] = {r[0]: {} for r in self._read(sa.select(w.device_id).order_by(w.device_id))}
        for device_id, status in self._read(sa.select(d.device_id, d.status).order_by(d.device_id)):
            out[device_id] = json.loads(status)
        return dict(sorted(out.items()))

    def set_wearer_settings(self, device_id: str, body: dict[str, Any]) -> None:
        """Keep the settings the wearer chose last (``ingest.payloads.WearerSettings.to_dict``)."""
        row = {"device_id": device_id, "body": json.dumps(body), "updated_s": time.time()}
        with self._transaction() as conn:
            conn.execute(self._upsert(wearer_settings, row, ["body", "updated_s"]))

    def wearer_settings(self, device_id: str) -> dict[str, Any] | None:
        """The settings the wearer chose last, or None (none chosen, or a store older than settings)."""
        try:
            if not sa.inspect(self._connection()).has_table("wearer_settings"):
                return None  # a read-only view of a store no writer has opened since settings came in
        except SQLAlchemyError as err:
            raise StoreError(f"read from {self.where} failed: {_reason(err)}") from err
        s = wearer_settings.c
        rows = self._read(sa.select(s.body).where(s.device_id == device_id))
        return json.loads(rows[0][0]) if rows else None

    def delete_device(self, device_id: str) -> int:
        """Delete everything stored about one device, in one transaction; return the rows deleted.

        Raw packets, events, the analysis state and live status, the device's status,
        the wearer's settings and the services' counters all go. A worker still
        analysing the device saves a fresh status and state again with its next packet.
        """
        with self._transaction() as conn:
            return sum(
                conn.execute(sa.delete(table).where(table.c.device_id == device_id)).rowcount for table in DEVICE_TABLES
            )

    # --- device leases (workers) ---------------------------------------------------------

    def claim_leases(self, owner: str, device_ids: Sequence[str], lease_s: float) -> set[str]:
        """Take or renew ``owner``'s leases of devices, for ``lease_s`` from now, in one transaction.

        A device is taken when it has no lease, or its lease expired, or ``owner`` holds
        it already; a device another worker holds is left to it (:mod:`ingest.leases`).

        Returns:
            The devices of ``device_ids`` that ``owner`` holds now.
        """
        wanted = sorted(set(device_ids))  # one order for every worker: PostgreSQL row locks never deadlock
        if not wanted:
            return set()
        with self._transaction() as conn:
            # The leases held already are renewed by a plain update, the rest claimed (ingest.leases).
            held = {
                str(row[0])
                for statement in renew_statements(self.backend, owner, wanted, lease_s)
                for row in conn.execute(statement)
            }
            rest = [d for d in wanted if d not in held]
            return held | {
                str(row[0])
                for statement in claim_statements(self.backend, self._insert, owner, rest, lease_s)
                for row in conn.execute(statement)
            }

    def release_leases(self, owner: str, device_ids: Sequence[str] | None = None) -> None:
        """Let go of ``owner``'s leases of ``device_ids`` (None: all), so that another worker takes them at once."""
        if device_ids is not None and not device_ids:
            return
        with self._transaction() as conn:
            conn.execute(release_statement(owner, device_ids))

    def leases(self) -> dict[str, Lease]:
        """Every device's lease, by device id (the workers' own presence leases left out)."""
        c = device_leases.c
        rows = self._read(
            sa.select(c.device_id, c.owner, c.expires_s - database_now(self.backend)).where(
                sa.not_(c.device_id.startswith(PRESENCE_PREFIX))
            )
        )
        return {str(d): Lease(str(o), float(left)) for d, o, left in rows}

    def lease_census(self) -> tuple[int, int]:
        """How many workers are alive (their presence lease unexpired) and how many devices are leased."""
        c = device_leases.c
        presence = c.device_id.startswith(PRESENCE_PREFIX)
        alive = sa.and_(presence, c.expires_s > database_now(self.backend))
        row = self._read(
            sa.select(
                sa.func.coalesce(sa.func.sum(sa.case((alive, 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((presence, 0), else_=1)), 0),
            )
        )
        return int(row[0][0]), int(row[0][1])

    def claimable(self, device_ids: Sequence[str]) -> set[str]:
        """The devices of ``device_ids`` nobody holds: no lease, or an expired one."""
        wanted = set(device_ids)
        if not wanted:
            return set()
        c = device_leases.c
        held = self._read(
            sa.select(c.device_id).where(c.device_id.in_(sorted(wanted)), c.expires_s > database_now(self.backend))
        )
        return wanted - {str(d) for (d,) in held}

    # --- analysis events and state (worker) --------------------------------------------

    def add_events(self, device_id: str, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Store analysis events, each a JSON object with ``kind`` and ``t_s`` or ``start_s``.

        Returns:
            For each event, whether it was new: an event with the same device, kind,
            time and id (:func:`event_key`) is kept once, so replaying a stream after a
            restart stores nothing twice.
        """
        return self._insert_new(
            _events,
            [
                {
                    "device_id": device_id,
                    "kind": e["kind"],
                    "event_id": event_id(e),
                    "t_s": event_time(e),
                    "body": json.dumps(e),
                    "published": 0,
                }
                for e in events
            ],
        )

    def has_event(self, device_id: str, kind: str, event_id: str) -> bool:
        """Whether an event of this device, kind and id is stored (at any time)."""
        e = _events.c
        return bool(
            self._read(
                sa.select(sa.literal(1))
                .where(e.device_id == device_id, e.kind == kind, e.event_id == event_id)
                .limit(1)
            )
        )

    def mark_published(self, keys: Sequence[EventKey]) -> None:
        """Record that the broker acknowledged these events, keyed as :func:`event_key` gives."""
        if not keys:
            return
        e = _events.c
        statement = (
            sa.update(_events)
            .where(
                e.device_id == sa.bindparam("k_device"),
                e.kind == sa.bindparam("k_kind"),
                e.t_s == sa.bindparam("k_t"),
                e.event_id == sa.bindparam("k_id"),
            )
            .values(published=1)
        )
        with self._transaction() as conn:
            conn.execute(statement, [{"k_device": d, "k_kind": k, "k_t": t, "k_id": i} for d, k, t, i in keys])

    def unpublished_events(self, *, limit: int = 10_000) -> list[EventRow]:
        """Stored events whose publish was never acknowledged (the worker stopped in between), oldest first."""
        e = _events.c
        rows = self._read(
            sa.select(e.device_id, e.kind, e.t_s, e.body)
            .where(e.published == 0)
            .order_by(e.t_s, self._order)
            .limit(limit)
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
        e = _events.c
        statement = sa.select(e.device_id, e.kind, e.t_s, e.body).where(
            e.device_id == device_id, e.t_s >= since_s, e.t_s < until_s
        )
        if kinds is not None:
            statement = statement.where(e.kind.in_(list(kinds)))
        rows = self._read(statement.order_by(e.t_s, e.kind, self._order))
        return [EventRow(d, k, float(t), json.loads(b)) for d, k, t, b in rows]

    def save_state(self, device_id: str, seq: int, snapshot: dict[str, Any], status: dict[str, Any]) -> None:
        """Save the worker's analysis state for a device (replacing the previous one)."""
        self.save_states([StateRow(device_id, seq, snapshot, status)])

    def save_states(
        self,
        rows: Sequence[StateRow],
        *,
        counts: Tally | None = None,
        owner: str | None = None,
    ) -> set[str]:
        """Save several devices' states in one transaction.

        A row without a snapshot updates only the live status and keeps the last snapshot
        (and its ``seq``), so a restart resumes from a consistent pair.

        Args:
            rows: The states.
            counts: Counts added to the counters in the same transaction, each batch once
                (:meth:`add_counts`): counts of what the snapshots include (packets
                analysed), so that the packets a restarted worker replays are counted once.
            owner: A worker id: save only the devices whose lease it holds (with their
                counts), so that a worker that stalled past its lease and lost a device
                cannot write over the state of the worker that took it over. The lease
                rows are locked until the commit, so a take-over waits for this save and
                then reads it.

        Returns:
            The devices not saved: their lease is not ``owner``'s (none without ``owner``).
        """
        now = time.time()
        with self._transaction() as conn:
            lost: set[str] = set()
            dropped: set[str] = set()  # devices whose counts are left out: not owner's
            if owner is not None:
                counted = {d for b in counts.held for d, _ in b.counts} - {"*"} if counts is not None else set()
                wanted = {r.device_id for r in rows} | counted
                if wanted:
                    dropped = wanted - self._held_in(conn, owner, list(wanted))
                    lost = {r.device_id for r in rows} & dropped
                    rows = [r for r in rows if r.device_id not in lost]
            if counts is not None:
                self._add_counts_in(conn, counts, dropped=dropped)
            # One statement per table, run over all its rows (a statement built per row cost
            # about 2 ms a row, most of a worker's save of a thousand wearers).
            statuses = [{"device_id": r.device_id, "status": json.dumps(r.status), "updated_s": now} for r in rows]
            snapshots = [
                {"device_id": r.device_id, "seq": r.seq, "snapshot": json.dumps(r.snapshot), "updated_s": now}
                for r in rows
                if r.snapshot is not None
            ]
            if statuses:
                conn.execute(self._upsert_many(worker_status, ["status", "updated_s"]), statuses)
            if snapshots:
                conn.execute(self._upsert_many(worker_state, ["seq", "snapshot", "updated_s"]), snapshots)
        return lost

    def _held_in(self, conn: Connection, owner: str, device_ids: Sequence[str]) -> set[str]:
        """The devices of ``device_ids`` whose lease ``owner`` holds, their lease rows locked until the commit."""
        c = device_leases.c
        statement = (
            sa.select(c.device_id)
            .where(c.owner == owner, c.device_id.in_(sorted(set(device_ids))))
            .order_by(c.device_id)  # locked in one order by everyone, as claims do
            .with_for_update(read=True)  # FOR SHARE on PostgreSQL; SQLite's writers queue anyway
        )
        return {str(d) for (d,) in conn.execute(statement)}

    def load_state(self, device_id: str) -> DeviceState | None:
        """The worker's saved snapshot and live status of a device, or None when it has neither.

        A status saved alone comes with an empty snapshot and ``seq`` -1.
        """
        w = worker_state.c
        snapshots = self._read(sa.select(w.seq, w.snapshot).where(w.device_id == device_id))
        status = self.load_status(device_id)
        if not snapshots and status is None:
            return None
        seq, snapshot = (int(snapshots[0][0]), json.loads(snapshots[0][1])) if snapshots else (-1, {})
        body, updated_s = status if status is not None else ({}, 0.0)
        return DeviceState(seq, snapshot, body, updated_s)

    def load_status(self, device_id: str) -> tuple[dict[str, Any], float] | None:
        """The worker's last live status of a device and when it was saved (Unix epoch seconds), or None."""
        s = self._status_table().c
        rows = self._read(sa.select(s.status, s.updated_s).where(s.device_id == device_id))
        return (json.loads(rows[0][0]), float(rows[0][1])) if rows else None

    # --- whole tables (sitless store-copy) -------------------------------------------

    def schema_version(self) -> int:
        """The schema version the store is at (0 for a store older than versions)."""
        rows = self._read(sa.select(meta.c.value).where(meta.c.key == "schema_version"))
        return int(rows[0][0]) if rows else 0

    def table_pages(self, table: sa.Table, page: int = BATCH_PAGE) -> Iterator[list[dict[str, Any]]]:
        """Every row of one of the store's tables, ``page`` rows at a time, as dicts of its columns.

        Rows come in key order, events in the order they were stored, so that a copy
        stores them in that order too. An event's ``stored`` (PostgreSQL's number for
        that order) is left out: the store it is copied to numbers its own.
        """
        columns = [c for c in table.columns if c.name != "stored"]
        keys: list[sa.ColumnElement[Any]] = [self._order] if table is _events else list(table.primary_key.columns)
        names = [c.name for c in columns]
        n = len(columns)
        last: tuple[Any, ...] | None = None
        while True:
            statement = sa.select(*columns, *keys).order_by(*keys).limit(page)
            if last is not None:
                statement = statement.where(sa.tuple_(*keys) > sa.tuple_(*last) if len(keys) > 1 else keys[0] > last[0])
            rows = self._read(statement)
            if rows:
                yield [
                    {k: bytes(v) if isinstance(v, memoryview) else v for k, v in zip(names, row[:n], strict=True)}
                    for row in rows
                ]
                last = rows[-1][n:]
            if len(rows) < page:
                return

    def add_rows(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows into one of the store's tables in one transaction; how many were new.

        A row whose key the table holds already is left as the table has it.
        """
        return sum(self._insert_new(table, rows))

    def _status_table(self) -> sa.TableClause:
        """The table of the live statuses: ``worker_status``, or ``worker_state`` in a store of schema 5 or older.

        A writer has migrated its store on opening it; a reader (the dashboard) may be
        looking at a store no writer has opened since sitless was upgraded.
        """
        if self._statuses is None:
            version = self.schema_version() if self.read_only else 0
            self._statuses = worker_status if not self.read_only or version >= 6 else _WORKER_STATE_V5
        return self._statuses


# The live statuses' columns of ``worker_state`` up to schema 5 (``Store._status_table``).
_WORKER_STATE_V5 = sa.table("worker_state", sa.column("device_id"), sa.column("status"), sa.column("updated_s"))

# ``Store.add_events`` takes an ``events`` argument; the table goes by another name there.
_events = events
