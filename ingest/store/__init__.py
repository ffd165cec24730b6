"""The store: raw batches, ingest counters, analysis events and worker state.

One interface, two backends chosen by URL (``ingest.store.schema``): a SQLite file in
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

The package's parts: ``schema`` (URLs, tables, migrations); ``base`` (opening,
transactions, counters); ``packets``, ``events`` and ``states``, each the part of
:class:`Store` that serves one family of tables; ``rows`` (what they take and return);
``leases`` (the lease statements) and ``copier`` (``sitless store-copy``).

A ``Store`` is used by one thread at a time (a service builds it, its handler thread
uses it, and it is closed after that thread has ended); each service opens its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ingest.store.base import DEFAULT_STORE_URL, add_store_argument
from ingest.store.events import EventStore
from ingest.store.packets import BATCH_PAGE, PacketStore
from ingest.store.rows import (
    BatchRow,
    DeviceState,
    EventKey,
    EventRow,
    Lease,
    StateRow,
    event_id,
    event_key,
    event_time,
    stored_object,
)
from ingest.store.schema import (
    DEVICE_TABLES,
    SCHEMA_VERSION,
    Backend,
    StoreUrl,
    devices,
    parse_store_url,
    wearer_settings,
)
from ingest.store.schema import events as events_table
from ingest.store.states import StateStore

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


class Store(PacketStore, EventStore, StateStore):
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

    def set_device_status(self, device_id: str, status: dict[str, Any]) -> None:
        """Keep the latest retained status a device published."""
        self.set_device_statuses({device_id: status})

    def set_device_statuses(self, statuses: Mapping[str, dict[str, Any]]) -> None:
        """Keep the latest retained status of each device, all in one transaction.

        A recorder subscribing to a broker that keeps many devices' statuses is handed
        them all at once: written one transaction each, 99,999 of them held its packets
        back for tens of seconds.
        """
        if not statuses:
            return
        now = time.time()
        rows = [{"device_id": d, "status": json.dumps(s), "updated_s": now} for d, s in statuses.items()]
        with self._transaction() as conn:
            conn.execute(self._upsert_many(devices, ["status", "updated_s"]), rows)

    def devices(self) -> dict[str, dict[str, Any]]:
        """Every known device (from its status or its analysis state) with its last status.

        A device whose stored status is not a JSON object is listed with an empty one,
        as a device that published none (:func:`~ingest.store.rows.stored_object`).
        """
        w, d = self._status_table().c, devices.c
        out: dict[str, dict[str, Any]] = {r[0]: {} for r in self._read(sa.select(w.device_id).order_by(w.device_id))}
        for device_id, status in self._read(sa.select(d.device_id, d.status).order_by(d.device_id)):
            out[device_id] = stored_object(status, "devices.status", device_id) or {}
        return dict(sorted(out.items()))

    def device_status(self, device_id: str) -> dict[str, Any] | None:
        """The latest retained status the device published, or None (it published none, or it is unreadable)."""
        d = devices.c
        rows = self._read(sa.select(d.status).where(d.device_id == device_id))
        return stored_object(rows[0][0], "devices.status", device_id) if rows else None

    def set_wearer_settings(self, device_id: str, body: dict[str, Any]) -> None:
        """Keep the settings the wearer chose last (``ingest.payloads.WearerSettings.to_dict``)."""
        row = {"device_id": device_id, "body": json.dumps(body), "updated_s": time.time()}
        with self._transaction() as conn:
            conn.execute(self._upsert(wearer_settings, row, ["body", "updated_s"]))

    def wearer_settings(self, device_id: str) -> dict[str, Any] | None:
        """The settings the wearer chose last, or None (none chosen, unreadable, or a store older than settings)."""
        if not self._has_table("wearer_settings"):
            return None  # a read-only view of a store no writer has opened since settings came in
        s = wearer_settings.c
        rows = self._read(sa.select(s.body).where(s.device_id == device_id))
        return stored_object(rows[0][0], "wearer_settings.body", device_id) if rows else None

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

    # --- whole tables (sitless store-copy) -------------------------------------------

    def table_pages(self, table: sa.Table, page: int = BATCH_PAGE) -> Iterator[list[dict[str, Any]]]:
        """Every row of one of the store's tables, ``page`` rows at a time, as dicts of its columns.

        Rows come in key order, events in the order they were stored, so that a copy
        stores them in that order too. An event's ``stored`` (PostgreSQL's number for
        that order) is left out: the store it is copied to numbers its own.
        """
        columns = [c for c in table.columns if c.name != "stored"]
        keys: list[sa.ColumnElement[Any]] = [self._order] if table is events_table else list(table.primary_key.columns)
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
