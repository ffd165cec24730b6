"""Where the store lives and what it holds: store URLs, the tables and their versioned schema.

Two backends share one set of tables (``ingest.store.Store`` speaks to both through
SQLAlchemy Core): a SQLite file (``sqlite:///PATH``, the default) and a PostgreSQL
database (``postgresql://USER@HOST:PORT/DB``, driven by psycopg 3). A PostgreSQL
password never goes in the URL: libpq reads it from ``PGPASSWORD`` or the password file
``PGPASSFILE`` (default ``~/.pgpass``), so it is on no command line.

Each backend has its own DDL, written out, and its own migrations; ``meta`` holds the
schema version and :func:`create_schema` brings an older store up to date inside the
caller's set-up transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError

from ingest.errors import StoreError

__all__ = [
    "SCHEMA_VERSION",
    "Backend",
    "StoreUrl",
    "create_schema",
    "parse_store_url",
    "schema_version_of",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6
# Any constant: the key of the PostgreSQL advisory lock that lets one service set up the
# schema while the others starting at the same moment wait their turn.
_SETUP_LOCK = 0x517_1E55


class Backend(StrEnum):
    """The database engines the store runs on."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """A parsed store URL.

    Attributes:
        backend: The database engine.
        url: The SQLAlchemy URL to connect with (PostgreSQL through psycopg 3).
        path: The SQLite file; None for PostgreSQL.
    """

    backend: Backend
    url: sa.URL
    path: Path | None = None

    def __str__(self) -> str:
        """The store as a person reads it: the SQLite file, or the PostgreSQL URL."""
        if self.path is not None:
            return str(self.path)
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)


#: libpq's connection options that hold a secret (libpq documentation, *Parameter Key
#: Words*): refused in a store URL's query, as a password in its user part is.
_SECRET_OPTIONS = frozenset({"password", "sslpassword"})


def parse_store_url(url: str) -> StoreUrl:
    """Parse a store URL: ``sqlite:///relative.db``, ``sqlite:////abs.db``, a plain path, or PostgreSQL.

    PostgreSQL URLs are ``postgresql://USER@HOST:PORT/DB`` (also ``postgresql+psycopg://``),
    with libpq's query options (``?sslmode=require``...). The password comes from
    ``PGPASSWORD`` or ``PGPASSFILE``, never from the URL.

    Raises:
        StoreError: The URL names another database, is malformed, or carries a password.

    >>> parse_store_url("sqlite:///var/sitless.sqlite").path
    PosixPath('var/sitless.sqlite')
    >>> str(parse_store_url("postgresql://sitless@db.example:5433/office"))
    'postgresql://sitless@db.example:5433/office'
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return StoreUrl(Backend.SQLITE, sa.URL.create("sqlite", database=str(path)), path)
    if "://" not in url:
        return StoreUrl(Backend.SQLITE, sa.URL.create("sqlite", database=url), Path(url))
    scheme = url.split("://", 1)[0]
    if scheme not in ("postgresql", "postgresql+psycopg", "postgres"):
        raise StoreError(f"unsupported store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://USER@HOST/DB")
    try:
        parsed = make_url("postgresql" + url.removeprefix(scheme))
    except ArgumentError as err:
        raise StoreError(f"malformed store URL {url!r}: {err}") from err
    if parsed.password is not None or _SECRET_OPTIONS & set(parsed.query):
        raise StoreError(
            "a store URL must not carry a password, in its user part or as a query option"
            " (it would show in process lists and logs): set PGPASSWORD or a password file"
            " in PGPASSFILE instead"
        )
    if not parsed.database:
        raise StoreError(f"store URL {url!r} names no database: postgresql://USER@HOST:PORT/DB")
    return StoreUrl(Backend.POSTGRESQL, parsed.set(drivername="postgresql+psycopg"))


# --- the tables, for statements (the DDL of each backend is below) --------------------

metadata = sa.MetaData()
meta = sa.Table("meta", metadata, sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text))
batches = sa.Table(
    "batches",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("t0_s", sa.Float),
    sa.Column("n", sa.BigInteger),
    sa.Column("rate_hz", sa.Float),
    sa.Column("payload", sa.LargeBinary),
    sa.Column("received_s", sa.Float),
)
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.BigInteger),
)
devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text),
    sa.Column("updated_s", sa.Float),
)
events = sa.Table(
    "events",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("t_s", sa.Float, primary_key=True),
    sa.Column("body", sa.Text),
    sa.Column("published", sa.Integer),
    # PostgreSQL only: the order events were stored in (SQLite has its rowid).
    sa.Column("stored", sa.BigInteger),
)
wearer_settings = sa.Table(
    "wearer_settings",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("body", sa.Text),
    sa.Column("updated_s", sa.Float),
)
# The worker's analysis snapshot of each device (saved every ``snapshot_every_s``) and,
# apart, its live status (saved every second): a status written into the snapshot's row
# rewrote the whole row, some 22 kB, every second (docs/performance.md, *Statuses apart
# from snapshots, and messages read together*).
worker_state = sa.Table(
    "worker_state",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger),
    sa.Column("snapshot", sa.Text),
    sa.Column("updated_s", sa.Float),
)
worker_status = sa.Table(
    "worker_status",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text),
    sa.Column("updated_s", sa.Float),
)
device_leases = sa.Table(
    "device_leases",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text),
    sa.Column("expires_s", sa.Float),
)
# Each writer's last save token whose counts are in ``counters`` (``ingest.tally``).
save_tokens = sa.Table(
    "save_tokens",
    metadata,
    sa.Column("writer", sa.Text, primary_key=True),
    sa.Column("token", sa.BigInteger),
    sa.Column("updated_s", sa.Float),
)
#: Every table that holds something about one device (``device_id``).
DEVICE_TABLES = (batches, events, worker_state, worker_status, devices, wearer_settings, counters, device_leases)


def stored_order(backend: Backend) -> sa.ColumnElement[int]:
    """The column that orders events as they were stored."""
    return sa.literal_column("events.rowid") if backend is Backend.SQLITE else events.c.stored


# --- SQLite ----------------------------------------------------------------------------

_SQLITE_LEASES = """CREATE TABLE IF NOT EXISTS device_leases (
    device_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_s REAL NOT NULL
)"""

_SQLITE_SAVE_TOKENS = """CREATE TABLE IF NOT EXISTS save_tokens (
    writer TEXT PRIMARY KEY,
    token INTEGER NOT NULL,
    updated_s REAL NOT NULL
)"""

_SQLITE_WORKER_STATUS = """CREATE TABLE IF NOT EXISTS worker_status (
    device_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_s REAL NOT NULL
)"""

_SQLITE_SCHEMA = (
    """
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
    updated_s REAL NOT NULL
);
"""
    + _SQLITE_LEASES
    + ";"
    + _SQLITE_SAVE_TOKENS
    + ";"
    + _SQLITE_WORKER_STATUS
)
# Schema 2: events remember whether the worker's MQTT publish of them was acknowledged
# (events stored by schema 1 were published as they were stored).
# Schema 3: an event's key includes its id (``event_id``), so that two user actions at
# the same time are both kept. SQLite cannot change a primary key in place: the table
# is rebuilt, in its order, and the events stored before have no id ('').
# Schema 4: device leases, so that several workers share a fleet with each device
# analysed by one of them at a time (docs/operations.md, *Several workers*).
# Schema 5: save tokens, so that counts written again after a lost answer are added once.
# Schema 6: the live status moves out of ``worker_state`` into ``worker_status``.
_MOVE_STATUS = (
    "INSERT INTO worker_status (device_id, status, updated_s) SELECT device_id, status, updated_s FROM worker_state",
    "ALTER TABLE worker_state DROP COLUMN status",
)
_SQLITE_MIGRATIONS = {
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
    4: (_SQLITE_LEASES,),
    5: (_SQLITE_SAVE_TOKENS,),
    6: (_SQLITE_WORKER_STATUS, *_MOVE_STATUS),
}
# How to tell a migration's table was made by this version's DDL already (a store older
# than the table): it has the column the migration adds, or lacks the one it drops.
# (table, column, whether the column is there once migrated)
_MIGRATED_WHEN = {
    2: ("events", "published", True),
    3: ("events", "event_id", True),
    6: ("worker_state", "status", False),
}

# --- PostgreSQL --------------------------------------------------------------------------

_POSTGRESQL_LEASES = """CREATE TABLE IF NOT EXISTS device_leases (
    device_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_s DOUBLE PRECISION NOT NULL
)"""

_POSTGRESQL_SAVE_TOKENS = """CREATE TABLE IF NOT EXISTS save_tokens (
    writer TEXT PRIMARY KEY,
    token BIGINT NOT NULL,
    updated_s DOUBLE PRECISION NOT NULL
)"""

_POSTGRESQL_WORKER_STATUS = """CREATE TABLE IF NOT EXISTS worker_status (
    device_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_s DOUBLE PRECISION NOT NULL
)"""

# The same tables at schema 6 (PostgreSQL stores start at 3). Times are float8 like
# SQLite's REAL, sequence numbers and counts bigint; ``stored`` keeps the events' order.
_POSTGRESQL_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    device_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    t0_s DOUBLE PRECISION NOT NULL,
    n BIGINT NOT NULL,
    rate_hz DOUBLE PRECISION NOT NULL,
    payload BYTEA NOT NULL,
    received_s DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX IF NOT EXISTS batches_time ON batches (device_id, t0_s);
CREATE TABLE IF NOT EXISTS counters (
    service TEXT NOT NULL,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (service, device_id, name)
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_s DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_id TEXT NOT NULL DEFAULT '',
    t_s DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 1,
    stored BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (device_id, kind, event_id, t_s)
);
CREATE INDEX IF NOT EXISTS events_time ON events (device_id, t_s);
CREATE TABLE IF NOT EXISTS wearer_settings (
    device_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_s DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS worker_state (
    device_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    snapshot TEXT NOT NULL,
    updated_s DOUBLE PRECISION NOT NULL
);
"""
    + _POSTGRESQL_LEASES
    + ";"
    + _POSTGRESQL_SAVE_TOKENS
    + ";"
    + _POSTGRESQL_WORKER_STATUS
)
# A PostgreSQL store starts at schema 3; schema 4 adds the device leases, schema 5 the save tokens,
# schema 6 the live status's own table.
_POSTGRESQL_MIGRATIONS: dict[int, tuple[str, ...]] = {
    4: (_POSTGRESQL_LEASES,),
    5: (_POSTGRESQL_SAVE_TOKENS,),
    6: (_POSTGRESQL_WORKER_STATUS, *_MOVE_STATUS),
}

_UNPUBLISHED_INDEX = "CREATE INDEX IF NOT EXISTS events_unpublished ON events (device_id) WHERE published = 0"


def create_schema(conn: Connection, backend: Backend) -> None:
    """Create the tables, or bring an older schema up to :data:`SCHEMA_VERSION`.

    Runs inside the caller's set-up transaction (on SQLite a ``BEGIN IMMEDIATE`` one, so
    that services starting together set up the store one after the other).

    Raises:
        StoreError: The store was made by a newer sitless, or its version is no number.
    """
    if backend is Backend.POSTGRESQL:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SETUP_LOCK)))
        ddl, migrations = _POSTGRESQL_SCHEMA, _POSTGRESQL_MIGRATIONS
    else:
        ddl, migrations = _SQLITE_SCHEMA, _SQLITE_MIGRATIONS
    for statement in ddl.split(";"):
        conn.exec_driver_sql(statement)
    stored = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    version = None if stored is None else schema_version_of(stored)
    if version is None:  # a new store: the DDL is the current schema already
        conn.execute(sa.insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
    elif version > SCHEMA_VERSION:
        raise StoreError(f"store schema {version} is newer than this sitless ({SCHEMA_VERSION})")
    elif version < SCHEMA_VERSION:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            if _migrated_already(conn, target):
                continue  # made by this version's DDL
            for statement in migrations.get(target, ()):
                conn.exec_driver_sql(statement)
            log.info("store migrated to schema %d", target)
        conn.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
    conn.exec_driver_sql(_UNPUBLISHED_INDEX)


def schema_version_of(stored: str) -> int:
    """The schema version as ``meta`` holds it (text), as a number.

    Raises:
        StoreError: It is no whole number (a hand edit): which tables the store has, and
            which migrations it needs, are unknown.

    >>> schema_version_of("6")
    6
    >>> schema_version_of("seven")
    Traceback (most recent call last):
    ...
    ingest.errors.StoreError: store schema version 'seven' in its meta table is not a number
    """
    try:
        return int(stored)
    except ValueError:
        raise StoreError(f"store schema version {stored!r} in its meta table is not a number") from None


def _migrated_already(conn: Connection, target: int) -> bool:
    """Whether migration ``target``'s table has its new shape already (:data:`_MIGRATED_WHEN`)."""
    if target not in _MIGRATED_WHEN:
        return False
    table, column, present = _MIGRATED_WHEN[target]
    return (column in {c["name"] for c in sa.inspect(conn).get_columns(table)}) is present
