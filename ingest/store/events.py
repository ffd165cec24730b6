"""Analysis events in the store: each kept once under its key, and whether the broker has it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ingest.store.base import StoreBase
from ingest.store.rows import EventKey, EventRow, event_id, event_time, stored_object
from ingest.store.schema import events as events_table

__all__ = ["EventStore"]


class EventStore(StoreBase):
    """The worker's events, keyed ``(device_id, kind, event_id, t_s)`` (:func:`ingest.store.rows.event_key`)."""

    def add_events(self, device_id: str, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Store analysis events, each a JSON object with ``kind`` and ``t_s`` or ``start_s``.

        Returns:
            For each event, whether it was new: an event with the same device, kind,
            time and id (:func:`event_key`) is kept once, so replaying a stream after a
            restart stores nothing twice.
        """
        return self._insert_new(
            events_table,
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
        e = events_table.c
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
        e = events_table.c
        statement = (
            sa.update(events_table)
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
        """Stored events whose publish was never acknowledged (the worker stopped in between), oldest first.

        An event whose body is not a JSON object is left out: there is nothing to publish.
        """
        e = events_table.c
        rows = self._read(
            sa.select(e.device_id, e.kind, e.t_s, e.body)
            .where(e.published == 0)
            .order_by(e.t_s, self._order)
            .limit(limit)
        )
        return _event_rows(rows)

    def events(
        self,
        device_id: str,
        *,
        since_s: float = float("-inf"),
        until_s: float = float("inf"),
        kinds: Sequence[str] | None = None,
    ) -> list[EventRow]:
        """Events of one device with ``since_s <= t_s < until_s``, in time order (then as stored).

        An event whose body is not a JSON object is left out (:func:`~ingest.store.rows.stored_object`).
        """
        e = events_table.c
        statement = sa.select(e.device_id, e.kind, e.t_s, e.body).where(
            e.device_id == device_id, e.t_s >= since_s, e.t_s < until_s
        )
        if kinds is not None:
            statement = statement.where(e.kind.in_(list(kinds)))
        rows = self._read(statement.order_by(e.t_s, e.kind, self._order))
        return _event_rows(rows)


def _event_rows(rows: Sequence[tuple[Any, ...]]) -> list[EventRow]:
    """Stored ``(device_id, kind, t_s, body)`` rows as events, without those whose body is not a JSON object.

    A time that is no number (text a hand edit left in SQLite's ``t_s``) leaves the row
    out too.
    """
    out = []
    for device_id, kind, t_s, text in rows:
        body = stored_object(text, "events.body", device_id)
        if body is not None and isinstance(t_s, int | float):
            out.append(EventRow(device_id, kind, float(t_s), body))
    return out
