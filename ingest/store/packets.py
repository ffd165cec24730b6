"""Raw packets in the store: stored by the recorder, replayed by the worker, pruned when old."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import sqlalchemy as sa

from ingest.store.base import StoreBase
from ingest.store.leases import database_now
from ingest.store.rows import BatchRow
from ingest.store.schema import batches, worker_state

__all__ = ["BATCH_PAGE", "PRUNE_PAGE", "PacketStore"]

#: Raw packets read per query when replaying a stream (~50 kB each of 25-sample packets).
BATCH_PAGE = 1000
#: Raw packets one transaction of ``Store.prune_batches`` deletes at most (a few MB).
PRUNE_PAGE = 10_000


class PacketStore(StoreBase):
    """The raw packets of every device, keyed ``(device_id, seq)``."""

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
