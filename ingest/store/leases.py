"""Device leases: which analysis worker owns which device's stream, and until when.

Several workers share a fleet by leasing devices in the store (``device_leases``, schema 4;
docs/operations.md, *Several workers*). A lease names its owner (a worker id) and
when it expires, in the database's own clock, so that workers on machines whose
clocks disagree still agree on who holds what. A worker renews its leases every few
seconds; one that dies stops renewing, its leases expire, and another worker takes
them over.

Taking and renewing are one atomic statement on both backends, an upsert with a
condition::

    INSERT INTO device_leases (device_id, owner, expires_s) VALUES (...)
    ON CONFLICT (device_id) DO UPDATE SET owner = excluded.owner, expires_s = excluded.expires_s
    WHERE device_leases.owner = excluded.owner OR device_leases.expires_s <= now
    RETURNING device_id

A row comes back only where the statement inserted or updated it, so the answer is
exactly the devices the caller holds now; two workers claiming one free device at
once both run it, and the database's row lock (PostgreSQL) or its single writer
(SQLite) lets only the first one through.

Most of a renewal is the leases the worker holds already. Those are renewed first, in
the same transaction, by a plain update of the rows it owns (the ones the upsert's
condition would renew)::

    UPDATE device_leases SET expires_s = now + lease WHERE owner = :me AND device_id IN (...)
    RETURNING device_id

and only the others go through the upsert, whose statement, built afresh for each
number of rows, cost 13 to 40 times as much (docs/operations.md, *What it costs*).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ingest.store.schema import Backend, device_leases

__all__ = [
    "CLAIM_CHUNK",
    "PRESENCE_PREFIX",
    "claim_statements",
    "database_now",
    "presence_key",
    "release_statement",
    "renew_statements",
]

#: Devices claimed per statement (three bound values each: far below SQLite's limit).
CLAIM_CHUNK = 500
#: Each worker also holds a lease on its own presence, ``worker/<worker id>``, so that the
#: workers alive can be counted; a device id never holds a slash (``ingest.topics``).
PRESENCE_PREFIX = "worker/"


def presence_key(worker_id: str) -> str:
    """The lease key of a worker's presence.

    >>> presence_key("w1")
    'worker/w1'
    """
    return PRESENCE_PREFIX + worker_id


def database_now(backend: Backend) -> sa.ColumnElement[float]:
    """The database's wall clock as Unix epoch seconds (a float), read where a statement runs."""
    if backend is Backend.POSTGRESQL:
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)
    # julianday('now') has millisecond resolution; 2440587.5 is the Julian day of the Unix epoch.
    return sa.cast((sa.func.julianday("now") - 2440587.5) * 86400.0, sa.Float)


def claim_statements(
    backend: Backend, insert: Callable[[sa.Table], Any], owner: str, device_ids: Sequence[str], lease_s: float
) -> list[Any]:
    """The statements that take or renew ``owner``'s leases of ``device_ids`` for ``lease_s``.

    Args:
        backend: The database engine (for its clock).
        insert: The dialect's ``insert`` (with ``on_conflict_do_update``).
        owner: The worker id.
        device_ids: The devices to take or renew, each once.
        lease_s: Seconds from now until the leases expire (0 gives a lease that is
            already expired: a test's way of letting one go stale).

    Returns:
        One statement per :data:`CLAIM_CHUNK` devices, each returning the devices it
        gave ``owner``.
    """
    now = database_now(backend)
    statements = []
    for start in range(0, len(device_ids), CLAIM_CHUNK):
        chunk = device_ids[start : start + CLAIM_CHUNK]
        statement = insert(device_leases).values(
            [{"device_id": d, "owner": owner, "expires_s": now + lease_s} for d in chunk]
        )
        statement = statement.on_conflict_do_update(
            index_elements=["device_id"],
            set_={"owner": statement.excluded.owner, "expires_s": statement.excluded.expires_s},
            where=(device_leases.c.owner == statement.excluded.owner) | (device_leases.c.expires_s <= now),
        ).returning(device_leases.c.device_id)
        statements.append(statement)
    return statements


def renew_statements(backend: Backend, owner: str, device_ids: Sequence[str], lease_s: float) -> list[sa.Update]:
    """The statements that renew, for ``lease_s``, the leases of ``device_ids`` that ``owner`` holds.

    Each returns the devices it renewed (one statement per :data:`CLAIM_CHUNK` devices);
    the others of ``device_ids`` are left to :func:`claim_statements`.
    """
    c = device_leases.c
    expires = database_now(backend) + lease_s
    return [
        sa.update(device_leases)
        .where(c.owner == owner, c.device_id.in_(device_ids[start : start + CLAIM_CHUNK]))
        .values(expires_s=expires)
        .returning(c.device_id)
        for start in range(0, len(device_ids), CLAIM_CHUNK)
    ]


def release_statement(owner: str, device_ids: Sequence[str] | None, *, lapse: bool = False) -> sa.Delete | sa.Update:
    """The statement that lets go of ``owner``'s leases of ``device_ids`` (None: all of them).

    With ``lapse`` the rows stay, expired, so that workers which do not hear the devices
    find them in the store (``Store.lease_candidates``); else they are deleted.
    """
    c = device_leases.c
    mine = c.owner == owner
    if device_ids is not None:
        mine = mine & c.device_id.in_(list(device_ids))
    if lapse:
        return sa.update(device_leases).where(mine).values(expires_s=0.0)
    return sa.delete(device_leases).where(mine)
