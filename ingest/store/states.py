"""The worker's side of the store: device leases, and each device's saved analysis state and live status."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ingest.store.base import StoreBase
from ingest.store.leases import PRESENCE_PREFIX, claim_statements, database_now, release_statement, renew_statements
from ingest.store.rows import DeviceState, Lease, StateRow, stored_object
from ingest.store.schema import device_leases, worker_state, worker_status
from ingest.tally import Tally

__all__ = ["StateStore"]


class StateStore(StoreBase):
    """Who analyses each device (its lease), and what that worker saved of it."""

    def claim_leases(self, owner: str, device_ids: Sequence[str], lease_s: float) -> set[str]:
        """Take or renew ``owner``'s leases of devices, for ``lease_s`` from now, in one transaction.

        A device is taken when it has no lease, or its lease expired, or ``owner`` holds
        it already; a device another worker holds is left to it (:mod:`ingest.store.leases`).

        Returns:
            The devices of ``device_ids`` that ``owner`` holds now.
        """
        wanted = sorted(set(device_ids))  # one order for every worker: PostgreSQL row locks never deadlock
        if not wanted:
            return set()
        with self._transaction() as conn:
            # The leases held already are renewed by a plain update, the rest claimed (ingest.store.leases).
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

    def release_leases(self, owner: str, device_ids: Sequence[str] | None = None, *, lapse: bool = False) -> None:
        """Let go of ``owner``'s leases of ``device_ids`` (None: all), so that another worker takes them at once.

        With ``lapse`` the leases are left expired instead of deleted, for workers that
        find the devices to claim in the store (:meth:`lease_candidates`).
        """
        if device_ids is not None and not device_ids:
            return
        with self._transaction() as conn:
            conn.execute(release_statement(owner, device_ids, lapse=lapse))

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

    def lease_candidates(self, owner: str) -> set[str]:
        """The devices whose lease expired, and those ``owner`` holds: the ones ``owner`` may claim."""
        c = device_leases.c
        rows = self._read(
            sa.select(c.device_id).where(
                sa.not_(c.device_id.startswith(PRESENCE_PREFIX)),
                (c.expires_s <= database_now(self.backend)) | (c.owner == owner),
            )
        )
        return {str(d) for (d,) in rows}

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

        A status saved alone comes with an empty snapshot and ``seq`` -1, and so does a
        snapshot that is not a JSON object (:func:`~ingest.store.rows.stored_object`).
        """
        w = worker_state.c
        rows = self._read(sa.select(w.seq, w.snapshot).where(w.device_id == device_id))
        status = self.load_status(device_id)
        if not rows and status is None:
            return None
        snapshot = stored_object(rows[0][1], "worker_state.snapshot", device_id) if rows else None
        seq = -1 if snapshot is None else int(rows[0][0])
        body, updated_s = status if status is not None else ({}, 0.0)
        return DeviceState(seq, snapshot or {}, body, updated_s)

    def load_status(self, device_id: str) -> tuple[dict[str, Any], float] | None:
        """The worker's last live status of a device and when it was saved (Unix epoch seconds).

        None before the first, or when the stored one is not a JSON object
        (:func:`~ingest.store.rows.stored_object`).
        """
        table = self._status_table()
        rows = self._read(sa.select(table.c.status, table.c.updated_s).where(table.c.device_id == device_id))
        status = stored_object(rows[0][0], f"{table.name}.status", device_id) if rows else None
        return None if status is None else (status, float(rows[0][1]))
