"""A flooding device cannot starve the others: each device's analysis budget, and its deferred packets.

A device that sends far faster than real time (a forged client, a gateway replaying at
full speed) has an analysis budget in samples, topped up with wall time
(``WorkerSettings.flood_samples_per_s``, with a burst of ``flood_burst_samples``). Past
it, the device's packets are deferred behind the other devices' (``Wearer.deferred``)
and queued for the analysis as its budget grows again, or in spare time, when no
message waits (:meth:`FloodControl.catch_up`). Past ``flood_max_deferred_samples`` of
them its later packets are left to the store, where the recorder keeps them, and its
stream resumes from there (:meth:`FloodControl.resume_from_store`). Each episode of
deferral is logged as it starts and as it ends (docs/operations.md, *A flooding device*).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable

from ingest.codec import Batch, decode
from ingest.errors import PacketError, StoreError
from ingest.metrics import ServiceMetrics
from ingest.service import RateLimitedLog
from ingest.store import Store
from ingest.worker.settings import WorkerSettings
from ingest.worker.wearer import MAX_QUEUED_SAMPLES, Wearer

__all__ = ["RESUME_PACKETS", "FloodControl"]

log = logging.getLogger(__name__)

#: Most packets a device past its deferral bound takes back from the store at a time.
RESUME_PACKETS = 1000


class FloodControl:
    """The analysis budgets of a worker's devices, and the packets deferred past them.

    Args:
        settings: The worker's settings (``flood_*``, ``recorder_wait_s``).
        store: The worker's store, where a device past its deferral bound resumes.
        counts: The worker's per-device counters.
        metrics: The worker's metrics (samples received).
        troubles: The worker's rate-limited log of troubles.
        clock: Monotonic wall-clock seconds (the worker's clock).
        queue: Queues a packet of a device for the analysis (:meth:`AnalysisSchedule.queue`).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        store: Store,
        *,
        counts: Counter[tuple[str, str]],
        metrics: ServiceMetrics,
        troubles: RateLimitedLog,
        clock: Callable[[], float],
        queue: Callable[[str, Wearer, Batch], None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._counts = counts
        self._metrics = metrics
        self._troubles = troubles
        self._clock = clock
        self._queue_packet = queue
        #: Samples that may be analysed beyond their device's budget now (spare time, :meth:`catch_up`).
        self.spare_samples = 0
        #: Devices in an episode of deferral (``Wearer.flooding``), for :meth:`catch_up`,
        #: which drops those whose episode ended.
        self.flooding: dict[str, None] = {}
        self._turn = 0  # which deferred device is served first at the next catch-up

    def budget(self, wearer: Wearer) -> float:
        """The samples the device may still have analysed now: its budget, topped up with the time since."""
        now = self._clock()
        elapsed = now - wearer.budget_s
        gained = elapsed * self._settings.flood_samples_per_s if elapsed > 0 else 0.0
        wearer.budget_samples = min(float(self._settings.flood_burst_samples), wearer.budget_samples + gained)
        wearer.budget_s = now
        return wearer.budget_samples

    def spend(self, wearer: Wearer, n: int, *, force: bool = False) -> bool:
        """Whether ``n`` more samples of the device may be analysed now (then they are paid for).

        They are paid from its budget while any is left (the budget may end a packet in
        debt), else from the spare time of a catch-up; ``force`` pays from the budget
        whatever is left (an action, or a device let go of, must see every sample before it).
        """
        if math.isinf(self._settings.flood_samples_per_s):
            return True
        if force or self.budget(wearer) > 0:
            wearer.budget_samples -= n
            return True
        if self.spare_samples > 0:
            self.spare_samples -= n
            return True
        return False

    def chunk(self) -> float:
        """Samples worth one analysis call of deferred packets (the analysis costs least per sample in chunks)."""
        return float(min(MAX_QUEUED_SAMPLES, self._settings.flood_burst_samples))

    def release(self, device_id: str, wearer: Wearer, *, force: bool = False) -> None:
        """Queue the device's deferred packets for the analysis: all (``force``), else what its budget allows.

        Without ``force`` they wait for a chunk's worth of budget (or spare time), so that
        a device held to its rate is analysed in a few large calls rather than many small ones.
        """
        if not wearer.deferred:
            return
        waits = not force and self.spare_samples <= 0 and math.isfinite(self._settings.flood_samples_per_s)
        if waits and self.budget(wearer) < min(wearer.deferred_samples, self.chunk()):
            return
        while wearer.deferred and self.spend(wearer, wearer.deferred[0].n, force=force):
            batch = wearer.deferred.popleft()
            wearer.deferred_samples -= batch.n
            self._queue_packet(device_id, wearer, batch)

    def start_episode(self, device_id: str, wearer: Wearer) -> None:
        """The device's packets start to wait behind the others': an episode of deferral, logged once."""
        wearer.flooding = True
        self.flooding[device_id] = None
        wearer.episode_deferred = wearer.episode_stored = 0
        log.warning(
            "%s: sends faster than its analysis budget (%g samples/s after a burst of %d): its packets wait"
            " behind the other devices' and are analysed when there is time",
            device_id,
            self._settings.flood_samples_per_s,
            self._settings.flood_burst_samples,
        )

    def end_episode(self, device_id: str, wearer: Wearer) -> None:
        """Close the device's episode of deferral once nothing of it is left to analyse and it is within budget again.

        Spare time may clear its deferred packets between two bursts of a flood that goes
        on: the episode lasts until its budget has grown back, so that it is logged once.
        """
        if not wearer.flooding or wearer.deferred or wearer.behind_seq is not None or self.budget(wearer) <= 0:
            return
        wearer.flooding = False
        log.info(
            "%s: back within its analysis budget: %d packets were deferred, %d of them taken back from the store",
            device_id,
            wearer.episode_deferred,
            wearer.episode_stored,
        )

    def fall_behind(self, device_id: str, wearer: Wearer) -> None:
        """Past the deferral bound: the device's later packets are left to the store, and its stream resumes from there.

        The packets held after a gap are let go of too: the recorder has them.
        """
        if not wearer.flooding:
            self.start_episode(device_id, wearer)
        if wearer.episode_stored == 0:
            log.warning(
                "%s: more than %d samples deferred; its later packets are analysed from the store",
                device_id,
                self._settings.flood_max_deferred_samples,
            )
        wearer.behind_seq = wearer.seq
        held = sorted(wearer.pending)
        wearer.pending.clear()
        for seq in held:
            self.leave_to_store(device_id, wearer, seq)

    def leave_to_store(self, device_id: str, wearer: Wearer, seq: int) -> None:
        """Count a packet the device's stream takes back from the store later (it is past its deferral bound)."""
        wearer.behind_seq = seq if wearer.behind_seq is None else max(wearer.behind_seq, seq)
        self._counts[(device_id, "flood_deferred")] += 1
        self._counts[(device_id, "flood_left_to_store")] += 1
        wearer.episode_deferred += 1
        wearer.episode_stored += 1

    def resume_from_store(self, device_id: str, wearer: Wearer) -> None:
        """Take in the packets the device left to the store, as far as its budget and spare time allow.

        Once the store has no more after the last one taken, the stream is live again: a
        later packet the recorder has not stored yet is then a gap like any other, waited
        for and filled from the store (:meth:`StreamIntake.feed_pending`). While the store
        lacks some of the packets left to it, the recorder is waited for, up to
        ``recorder_wait_s`` without a new one; then the stream goes on without them (a
        gap skipped).
        """
        chunk = self.chunk()
        if self.spare_samples <= 0 and self.budget(wearer) < chunk:
            return
        rows = 0
        try:
            for row in self._store.batches(device_id, after_seq=wearer.seq, limit=RESUME_PACKETS):
                rows += 1
                if wearer.quarantined or not self.spend(wearer, row.n):
                    return
                try:
                    batch = decode(row.payload)
                except PacketError:
                    continue  # the recorder stores only packets that decoded
                self._metrics.add("sitless_samples_received", batch.n)
                wearer.seq = batch.seq
                self._queue_packet(device_id, wearer, batch)
        except StoreError as err:
            self._troubles.warning(
                f"resume:{device_id}", "%s: cannot read its packets from the store: %s", device_id, err
            )
            return
        if rows >= RESUME_PACKETS:
            return
        behind_seq = wearer.behind_seq
        if behind_seq is not None and wearer.seq < behind_seq:
            now = self._clock()
            if rows or wearer.behind_short_s is None:
                wearer.behind_short_s = now
            if now - wearer.behind_short_s < self._settings.recorder_wait_s:
                return  # the recorder has yet to store them
            self._counts[(device_id, "gaps_skipped")] += 1
            log.info(
                "%s: packets %d..%d never reached the store; going on without them",
                device_id,
                wearer.seq + 1,
                behind_seq,
            )
            wearer.seq = behind_seq  # the next packet follows on
        wearer.behind_seq = wearer.behind_short_s = None

    def catch_up(
        self, wearers: dict[str, Wearer], idle: Callable[[], bool], analyse: Callable[[str, Wearer], None]
    ) -> bool:
        """Analyse deferred packets: within each device's budget, and past it while no message waits.

        Each device gets at most a chunk past its budget per call, in turn, so that a
        message arriving meanwhile waits for one chunk at most.

        Returns:
            Whether anything was analysed and some is left, to be caught up on at once.
        """
        for gone in [d for d in self.flooding if d not in wearers or not wearers[d].flooding]:
            del self.flooding[gone]  # let go of (saved with its deferred packets analysed)
        waiting = list(self.flooding)
        if not waiting:
            return False
        self._turn = (self._turn + 1) % len(waiting)
        worked = left = False
        for device_id in waiting[self._turn :] + waiting[: self._turn]:
            wearer = wearers[device_id]
            before = wearer.seq, len(wearer.deferred)
            self.spare_samples = int(self.chunk()) if idle() else 0
            try:
                self.release(device_id, wearer)
                if not wearer.deferred and wearer.behind_seq is not None:
                    self.resume_from_store(device_id, wearer)
                analyse(device_id, wearer)
            finally:
                self.spare_samples = 0
            self.end_episode(device_id, wearer)
            worked = worked or (wearer.seq, len(wearer.deferred)) != before
            left = left or bool(wearer.deferred) or wearer.behind_seq is not None
        return worked and left
