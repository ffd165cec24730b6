"""One store's data into another (``sitless store-copy``): a SQLite file into PostgreSQL as an office grows.

Copied, table by table, page by page, in one transaction a page: the raw packets, the
events (in the order they were stored), the analysis states and live statuses, the
devices' statuses, the wearers' settings and the services' counters. Left out: the
device leases and the services' save tokens, which belong to the running services of
the store copied from (stop them first, and start them on the new store after).

A row whose key the target holds already is kept as the target has it, so a copy that
was cut short is simply run again, and a second run adds nothing. The source is only
read; it must be at the current schema (a service of this version opening it once
migrates it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from ingest.errors import StoreError
from ingest.store import SCHEMA_VERSION, Store
from ingest.store.schema import batches, counters, devices, events, wearer_settings, worker_state, worker_status

__all__ = ["COPIED_TABLES", "TableCopy", "check_source", "copy_store"]

#: The tables copied, in this order.
COPIED_TABLES: tuple[sa.Table, ...] = (
    devices,
    wearer_settings,
    worker_state,
    worker_status,
    counters,
    events,
    batches,
)


@dataclass(frozen=True, slots=True)
class TableCopy:
    """What the copy of one table did.

    Attributes:
        table: The table's name.
        read: Rows read from the source.
        added: Rows the target did not hold and now does.
    """

    table: str
    read: int
    added: int


def check_source(source: Store) -> None:
    """Check that a store can be copied from: it is at the current schema.

    Raises:
        StoreError: It is not, or it cannot be read.
    """
    version = source.schema_version()
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{source.where} is at schema {version}, this sitless at {SCHEMA_VERSION}: "
            "start a sitless service on it once (it migrates its store), then copy"
        )


def copy_store(source: Store, target: Store, *, on_page: Callable[[TableCopy], None] | None = None) -> list[TableCopy]:
    """Copy every table of :data:`COPIED_TABLES` from ``source`` into ``target``.

    Args:
        source: The store to read (it may be opened read-only).
        target: The store to write.
        on_page: Called after each page written, with the table's counts so far.

    Returns:
        Each table's counts, in :data:`COPIED_TABLES` order.

    Raises:
        StoreError: Either store failed, or the source is not at the current schema.
            What was copied before stays copied.
    """
    check_source(source)
    done = []
    for table in COPIED_TABLES:
        read = added = 0
        for rows in source.table_pages(table):
            added += target.add_rows(table, rows)
            read += len(rows)
            if on_page is not None:
                on_page(TableCopy(table.name, read, added))
        done.append(TableCopy(table.name, read, added))
    return done
