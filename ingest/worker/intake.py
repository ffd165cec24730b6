"""A worker's intake of each device's packets, in sequence order: gaps waited for, filled from the store or skipped.

Each packet of a device is taken in the order of its sequence number (``Wearer.seq``):
one that follows on is queued for the analysis (:mod:`ingest.worker.schedule`), or
deferred past the device's analysis budget (:mod:`ingest.worker.flood`), and one already
taken is a duplicate. A packet after a gap is held (``Wearer.pending``) while the missing
ones may still come (``WorkerSettings.reorder_wait_s``, at most ``reorder_max_packets``
held); before a gap is skipped they are looked for in the store, where the recorder may
have them when the worker did not (its queue at the broker overflowed, or it took the
device over from another worker), and waited for while the recorder has not yet stored as
far as the gap's end (``recorder_wait_s``). A restarted worker, or one taking a device
over, first replays the packets the recorder stored after the device's saved snapshot
(:meth:`StreamIntake.replay_stored`), so that the running sitting bout goes on from where
it was. A sequence number far below the last one analysed starts a new sequence (a device
reset, or a forged number before it), unless the store holds that very packet.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from ingest.codec import Batch, decode
from ingest.errors import PacketError, StoreError
from ingest.metrics import ServiceMetrics
from ingest.service import Message, RateLimitedLog
from ingest.store import Store
from ingest.worker.flood import FloodControl
from ingest.worker.settings import WorkerSettings
from ingest.worker.wearer import Wearer

__all__ = ["StreamIntake"]

log = logging.getLogger(__name__)


class StreamIntake:
    """Takes each device's packets in sequence order, for its analysis.

    Args:
        settings: The worker's settings (``seq_restart_gap``, ``reorder_*``,
            ``recorder_wait_s``, ``flood_max_deferred_samples``).
        store: The worker's store, where the recorder keeps every packet.
        wearers: The worker's wearers, by device (shared with it).
        busy: The devices that may have packets deferred or events held, shared with the
            worker: a device with a packet deferred comes in.
        flood: The devices' analysis budgets and deferred packets.
        counts: The worker's per-device counters.
        metrics: The worker's metrics (packets and samples received).
        troubles: The worker's rate-limited log of troubles.
        clock: Monotonic wall-clock seconds (the worker's clock).
        wearer: The state of a device, restored and caught up on first use on the
            packets stored before ``upto_seq`` (``Worker._wearer``).
        queue: Queues a packet for the analysis (:meth:`AnalysisSchedule.queue`).
        analyse: Analyses a device's queued packets (:meth:`AnalysisSchedule.analyse`).
        analyse_now: Analyses every packet of a device taken in, deferred ones too
            (``Worker._analyse_now``).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        store: Store,
        *,
        wearers: dict[str, Wearer],
        busy: dict[str, None],
        flood: FloodControl,
        counts: Counter[tuple[str, str]],
        metrics: ServiceMetrics,
        troubles: RateLimitedLog,
        clock: Callable[[], float],
        wearer: Callable[[str, int], Wearer],
        queue: Callable[[str, Wearer, Batch], None],
        analyse: Callable[[str, Wearer], None],
        analyse_now: Callable[[str, Wearer], None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._wearers = wearers
        self._busy = busy
        self._flood = flood
        self._counts = counts
        self._metrics = metrics
        self._troubles = troubles
        self._clock = clock
        self._wearer = wearer
        self._queue = queue
        self._analyse = analyse
        self._analyse_now = analyse_now
        #: Devices that may hold packets after a gap (``Wearer.pending``), for :meth:`tick`.
        self._gapped: dict[str, None] = {}

    def take(self, device_id: str, m: Message) -> None:
        """Take a packet of a device: in order, held after a gap, or counted as a duplicate or a bad packet.

        The first packet of a device with nothing analysed yet starts its stream, but for
        a worker subscribed only to the devices it holds (``WorkerSettings.subscribe``):
        its subscription began after the device's first packets, so that one waits as
        after a gap while the recorder stores them (``feed_pending``, ``patient``), and
        they are analysed first.
        """
        self._metrics.add("sitless_packets_received")
        try:
            batch = decode(m.payload)
        except PacketError as err:
            self._counts[(device_id, "bad_packets")] += 1
            self._troubles.warning(f"bad:{device_id}", "bad packet on %s: %s", m.topic, err)
            return
        wearer = self._wearer(device_id, batch.seq)
        wearer.heard_s = self._clock()
        if wearer.quarantined:
            self._counts[(device_id, "quarantined")] += 1
            return
        if (
            batch.seq <= wearer.seq
            and wearer.seq - batch.seq >= self._settings.seq_restart_gap
            and not self._stored_already(device_id, batch.seq, m.payload)  # then a duplicate, below
        ):
            self._restart_sequence(device_id, wearer, batch.seq)
        if batch.seq <= wearer.seq or batch.seq in wearer.pending:
            self._counts[(device_id, "duplicates")] += 1
            return
        if wearer.behind_seq is not None:  # its stream resumes from the store, where this one is too
            if batch.seq <= wearer.behind_seq:
                self._counts[(device_id, "duplicates")] += 1
            else:
                self._flood.leave_to_store(device_id, wearer, batch.seq)
            return
        if batch.seq == wearer.seq + 1 or (wearer.seq < 0 and not self._settings.held_only):
            if not self._feed(device_id, wearer, batch):
                self._flood.leave_to_store(device_id, wearer, batch.seq)
                return
            self.feed_pending(device_id, wearer, skip_gaps=False)
            wearer.pending_since_s = self._clock()  # the stream flows: held packets wait on
            return
        if not wearer.pending:
            wearer.pending_since_s = self._clock()
        wearer.pending[batch.seq] = batch
        self._gapped[device_id] = None
        if len(wearer.pending) > self._settings.reorder_max_packets:
            self.feed_pending(device_id, wearer, skip_gaps=True)

    def _stored_already(self, device_id: str, seq: int, payload: bytes) -> bool:
        """Whether the store holds this very packet: replayed old data, whose analysis must not start again.

        A device that lost its counter sends new samples under old numbers, which differ
        from the stored ones; a replay (a packet resent, or kept by a broker) is the same.
        """
        stored = next(self._store.batches(device_id, after_seq=seq - 1, limit=1), None)
        return stored is not None and stored.seq == seq and stored.payload == payload

    def _restart_sequence(self, device_id: str, wearer: Wearer, seq: int) -> None:
        """Take a packet far below the last one analysed as the start of a new sequence.

        A device that lost its sequence memory starts again from 0, and a forged packet
        with a huge number must not make every later real packet a duplicate.
        """
        self._counts[(device_id, "seq_restarts")] += 1
        self._troubles.warning(
            f"seq:{device_id}",
            "%s: packet %d is far below the last one analysed (%d): a new sequence starts",
            device_id,
            seq,
            wearer.seq,
        )
        self._analyse_now(device_id, wearer)  # deferred packets belong to the old numbering
        if wearer.behind_seq is not None:  # so do those left to the store: not analysed
            self._counts[(device_id, "gaps_skipped")] += 1
            wearer.behind_seq = wearer.behind_short_s = None
            self._flood.end_episode(device_id, wearer)
        self._counts[(device_id, "gaps_skipped")] += len(wearer.pending)
        wearer.pending.clear()  # held packets belong to the old numbering
        wearer.seq = seq - 1

    def feed_pending(
        self, device_id: str, wearer: Wearer, *, skip_gaps: bool, fill_gaps: bool = False, patient: bool = False
    ) -> None:
        """Feed held packets in order: those that follow on, or all of them past a gap.

        Before a gap is skipped, the packets missing are looked for in the store: the
        recorder may have them when this worker did not (its queue at the broker
        overflowed, or it took the device over from another worker).

        Args:
            device_id: The device.
            wearer: Its state in the worker.
            skip_gaps: Go on past a gap the store cannot fill (else stop at it).
            fill_gaps: Without ``skip_gaps``, still fill gaps from the store where it can.
            patient: While the recorder has not yet stored as far as the gap's end, wait
                for it (up to ``WorkerSettings.recorder_wait_s``) rather than skip what
                it is about to store.
        """
        while wearer.pending and not wearer.quarantined and wearer.behind_seq is None:
            nxt = min(wearer.pending)
            if nxt != wearer.seq + 1:
                if not (skip_gaps or fill_gaps):
                    return
                if self._fill_from_store(device_id, wearer, nxt) or wearer.behind_seq is not None:
                    continue
                if not skip_gaps:
                    return
                if patient and self._recorder_behind(device_id, wearer, nxt):
                    return
                if wearer.seq >= 0:  # else nothing was analysed before: the stream starts here
                    self._counts[(device_id, "gaps_skipped")] += 1
                    log.info(
                        "%s: packets %d..%d did not arrive; going on without them", device_id, wearer.seq + 1, nxt - 1
                    )
            batch = wearer.pending.pop(nxt)
            if not self._feed(device_id, wearer, batch):
                self._flood.leave_to_store(device_id, wearer, batch.seq)
            wearer.pending_since_s = self._clock()

    def settle(self, device_id: str, wearer: Wearer) -> None:
        """Before the wearer is saved and let go of: feed the held packets that follow on, gaps filled from the store.

        The worker stops, or the device went quiet or is handed over. A held packet after
        a gap the store cannot fill is not fed, and the gap not skipped: it stays in the
        store, for when the stream goes on (:meth:`replay_stored`). Skipped here, a stray
        packet far ahead (a forged or damaged number) became the last one analysed, and
        every real packet after it a duplicate.
        """
        self.feed_pending(device_id, wearer, skip_gaps=False, fill_gaps=True)

    def _recorder_behind(self, device_id: str, wearer: Wearer, before_seq: int) -> bool:
        """Whether the recorder has not yet stored up to ``before_seq - 1`` and may still bring the gap's packets.

        A gap waits for it at most ``recorder_wait_s`` (a recorder that is down brings nothing).
        """
        if self._clock() - wearer.pending_since_s >= self._settings.recorder_wait_s:
            return False
        try:
            top = self._store.max_seq(device_id)
        except StoreError:
            return True  # the recorder cannot store either: wait for both
        return top is None or top < before_seq - 1

    def _fill_from_store(self, device_id: str, wearer: Wearer, before_seq: int) -> bool:
        """Feed the stored packets after the last one analysed and before ``before_seq``; whether there were any."""
        start = wearer.seq
        try:
            self.replay_stored(device_id, wearer, before_seq=before_seq, limit=max(0, before_seq - start - 1))
        except StoreError as err:
            self._troubles.warning(
                f"fill:{device_id}", "%s: cannot look for missing packets in the store: %s", device_id, err
            )
        if wearer.seq == start:
            return False
        self._counts[(device_id, "gaps_filled")] += 1
        log.info("%s: packets %d..%d came from the store", device_id, start + 1, wearer.seq)
        return True

    def replay_stored(
        self, device_id: str, wearer: Wearer, *, before_seq: int | None = None, limit: int | None = None
    ) -> int:
        """Feed the packets the recorder stored after the last one analysed (and before ``before_seq``); how many.

        Bounded by ``before_seq``, a packet the device has sent since, the replay goes on
        past a gap in the stored numbers: the stream went on past it. Without a bound (a
        wearer restored for an action, its settings or a take-over, with no packet of its
        own yet) it stops at the first gap: a stray number far ahead (forged, or damaged)
        is not taken for the stream's next packet, and what follows a real gap is fed once
        the device's next packet bounds it.

        Args:
            device_id: The device.
            wearer: Its state in the worker.
            before_seq: The first packet not to feed (None: every one stored up to a gap).
            limit: Most packets to read from the store (None: no limit).

        Raises:
            StoreError: The store cannot be read (the packets fed before stay fed).
        """
        fed = 0
        for row in self._store.batches(device_id, after_seq=wearer.seq, limit=limit):
            if (before_seq is not None and row.seq >= before_seq) or wearer.quarantined:
                break
            if before_seq is None and wearer.seq >= 0 and row.seq != wearer.seq + 1:
                break
            try:
                batch = decode(row.payload)
            except PacketError:
                continue  # the recorder stores only packets that decoded
            if not self._feed(device_id, wearer, batch):
                break  # past the deferral bound: the rest stays in the store, resumed from there
            fed += 1
        return fed

    def _feed(self, device_id: str, wearer: Wearer, batch: Batch) -> bool:
        """Take the next packet in order: queued for the analysis, or deferred past the device's budget.

        Returns:
            False when it is not taken: the device is past its deferral bound (or was
            already), and its stream resumes from the store (:meth:`FloodControl.resume_from_store`).
        """
        if wearer.behind_seq is not None:
            return False
        flood = self._flood
        if wearer.deferred or not flood.spend(wearer, batch.n):
            if wearer.deferred_samples + batch.n > self._settings.flood_max_deferred_samples:
                flood.fall_behind(device_id, wearer)
                return False
            if not wearer.flooding:
                flood.start_episode(device_id, wearer)
            wearer.deferred.append(batch)
            wearer.deferred_samples += batch.n
            self._busy[device_id] = None
            self._counts[(device_id, "flood_deferred")] += 1
            wearer.episode_deferred += 1
        else:
            self._queue(device_id, wearer, batch)
        self._metrics.add("sitless_samples_received", batch.n)
        wearer.seq = batch.seq
        wearer.dirty = True
        return True

    def tick(self) -> None:
        """Go on past the gaps that waited ``WorkerSettings.reorder_wait_s``, and analyse the packets after them.

        A gap's missing packets are looked for in the store first, and waited for while
        the recorder has not yet stored as far as its end (:meth:`feed_pending`, ``patient``).
        """
        now = self._clock()
        for device_id in list(self._gapped):
            wearer = self._wearers.get(device_id)
            if wearer is None or not wearer.pending:
                del self._gapped[device_id]
            elif now - wearer.pending_since_s >= self._settings.reorder_wait_s:
                self.feed_pending(device_id, wearer, skip_gaps=True, patient=True)
                self._analyse(device_id, wearer)
