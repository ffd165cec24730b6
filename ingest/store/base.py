"""The store's connection: engines for both backends, transactions, idempotent writes and counters.

:class:`StoreBase` is what every part of :class:`ingest.store.Store` builds on: it opens
the database (creating or migrating its schema for a writer), makes one transaction at a
time on one connection, made again after the database restarted, and turns the
database's errors into :class:`ingest.errors.StoreError`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence, Set
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError

from ingest.errors import StoreError, StoreRefusedError
from ingest.store.leases import database_now
from ingest.store.schema import (
    Backend,
    StoreUrl,
    counters,
    create_schema,
    meta,
    parse_store_url,
    save_tokens,
    schema_version_of,
    stored_order,
    worker_status,
)
from ingest.tally import Tally

__all__ = ["BUSY_TIMEOUT_MS", "DEFAULT_STORE_URL", "StoreBase", "add_store_argument"]

log = logging.getLogger(__name__)

DEFAULT_STORE_URL = "sqlite:///var/sitless.sqlite"
BUSY_TIMEOUT_MS = 10_000
# How long a PostgreSQL connection attempt may take before the store reports it down.
CONNECT_TIMEOUT_S = 10
# The same for a reader (the dashboard), whose every page run waits it out while a server
# takes connections but never answers; one that is up answers in milliseconds on a LAN.
READ_CONNECT_TIMEOUT_S = 3
# How long a writer's last save token is kept after its last counts (``ingest.tally``).
# Only a write tried again after a lost answer needs it, within the services' capped
# retry backoff of the store coming back; a month covers any outage of the database.
SAVE_TOKEN_KEEP_S = 30 * 86_400


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--store URL`` (default :data:`DEFAULT_STORE_URL`), the option of every command that uses the store."""
    parser.add_argument(
        "--store",
        default=DEFAULT_STORE_URL,
        help=f"store URL: sqlite:///PATH or postgresql://USER@HOST/DB (default {DEFAULT_STORE_URL})",
    )


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
            connect_args={
                "connect_timeout": READ_CONNECT_TIMEOUT_S if read_only else CONNECT_TIMEOUT_S,
                "options": options,
            },
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


def _unnest_insert(table: sa.Table, columns: list[str], key: list[str]) -> sa.Insert:
    """An insert of rows given as one array per column, skipping stored keys (PostgreSQL).

    ``INSERT INTO table (columns) SELECT * FROM unnest(:c1, :c2, ...) ON CONFLICT (key)
    DO NOTHING RETURNING key``. psycopg sends each array as one parameter, so a flush of
    500 packets is one short statement with seven parameters, where a multi-row VALUES
    list has 3,500: twice the packets a second (``python -m bench.fleet --store-rate``,
    docs/performance.md, *The store's write rate*).
    """
    arrays = [sa.bindparam(c, type_=postgresql.ARRAY(table.c[c].type)) for c in columns]
    source = sa.func.unnest(*arrays).table_valued(*columns).render_derived()
    return (
        postgresql.insert(table)
        .from_select(columns, sa.select(*(source.c[c] for c in columns)))
        .on_conflict_do_nothing(index_elements=key)
        .returning(*(table.c[c] for c in key))
    )


def _check_file(where: StoreUrl) -> None:
    """Refuse a SQLite store path that names a folder, saying so (SQLite says "unable to open database file").

    Raises:
        StoreError: The path is a folder.
    """
    if where.path is not None and where.path.is_dir():
        raise StoreError(f"cannot open store {where}: {where.path} is a folder, not a store file")


class StoreBase:
    """A connection to the sitless store: opening, transactions, inserts that skip stored keys, counters.

    The public class is :class:`ingest.store.Store`, which documents its arguments.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.where = parse_store_url(url)
        _check_file(self.where)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error.

        Raises:
            StoreError: The database failed (locked past the busy timeout, disk full,
                server gone...).
            StoreRefusedError: The database refused the values written.
        """
        conn = self._connection()
        try:
            with self._begun(conn):
                yield conn
        except DataError as err:
            raise StoreRefusedError(f"{self.where} refused the values written: {_reason(err)}") from err
        except SQLAlchemyError as err:
            raise StoreError(f"write to {self.where} failed: {_reason(err)}") from err

    def _insert_new(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[bool]:
        """Insert rows in one transaction, skipping keys already stored; return which rows were new.

        One ``INSERT ... ON CONFLICT DO NOTHING RETURNING key`` over all rows: a row is new
        when its key came back and no earlier row of the call had that key. On
        PostgreSQL the rows go as one array per column, unnested by the server
        (:func:`_unnest_insert`), so that the statement and its parameters do not grow
        with the rows; every row must then have the same columns.
        """
        if not rows:
            return []
        key = [c.name for c in table.primary_key.columns]
        if self.backend is Backend.POSTGRESQL:
            columns = list(rows[0])
            statement = _unnest_insert(table, columns, key)
            params: Any = {c: [r[c] for r in rows] for c in columns}
        else:
            statement = self._insert(table).on_conflict_do_nothing(index_elements=key).returning(*table.primary_key)
            params = list(rows)
        with self._transaction() as conn:
            added = {tuple(r) for r in conn.execute(statement, params)}
        seen: set[tuple[Any, ...]] = set()
        new = []
        for row in rows:
            k = tuple(row[c] for c in key)
            new.append(k in added and k not in seen)
            seen.add(k)
        return new

    def _read(self, statement: sa.Executable) -> list[tuple[Any, ...]]:
        """The rows of a query.

        Raises:
            StoreError: The database failed.
            StoreRefusedError: The database refused the values the query holds (NUL in a
                text, on PostgreSQL): not an outage, and no retry can succeed.
        """
        try:
            return [tuple(row) for row in self._connection().execute(statement)]
        except DataError as err:
            raise StoreRefusedError(f"{self.where} refused the values of a query: {_reason(err)}") from err
        except SQLAlchemyError as err:
            raise StoreError(f"read from {self.where} failed: {_reason(err)}") from err

    def _has_table(self, name: str) -> bool:
        """Whether the store has a table: a reader may look at a store older than it."""
        try:
            return sa.inspect(self._connection()).has_table(name)
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

    def add_counts(self, tally: Tally) -> None:
        """Add the counts a tally holds to its service's counters, each batch once (:mod:`ingest.tally`).

        Counters are keyed ``(device_id, name)``; ``device_id`` may be ``"*"``. The tally's
        batches that an earlier call added already (its answer lost) are not added again.
        """
        if not tally.held:
            return
        with self._transaction() as conn:
            self._add_counts_in(conn, tally)

    def counters(self, service: str | None = None, *, device_id: str | None = None) -> dict[tuple[str, str, str], int]:
        """The counters as ``{(service, device_id, name): value}``: all, or one service's, or one device's."""
        c = counters.c
        statement = sa.select(c.service, c.device_id, c.name, c.value)
        if service:
            statement = statement.where(c.service == service)
        if device_id is not None:
            statement = statement.where(c.device_id == device_id)
        return {(s, d, n): int(v) for s, d, n, v in self._read(statement)}

    def schema_version(self) -> int:
        """The schema version the store is at (0 for a store older than versions).

        Raises:
            StoreError: The store cannot be read, or its version is no number.
        """
        rows = self._read(sa.select(meta.c.value).where(meta.c.key == "schema_version"))
        return schema_version_of(rows[0][0]) if rows else 0

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
