"""When a worker analyses each device's packets: gathered, analysed in one call, and what a failure does.

For each device the worker keeps one :class:`analysis.Analyzer`, fed with the samples of
each packet in sequence order (:mod:`ingest.worker.intake`): the packets of one device
that follow on within a batch of messages are analysed in one call (the analysis gives the
same events however the samples are chunked), so a worker catching up on a backlog spends
far less per packet. Live, a device's packets are gathered until they span
``WorkerSettings.gather_s`` of its stream (0.5 s: two packets of a 50 Hz wearer) and
analysed together, which costs about 40 % less per packet than a call each; a device
whose next packet is late has them analysed once the oldest has waited twice that on the
wall clock (:attr:`AnalysisSchedule.late_s`).

No analysis failure stops the worker for every wearer. A packet whose analysis fails (a
bug the analysis did not foresee) is skipped, with the packets analysed in the same call:
that device's analysis starts afresh after them, and a device that fails again and again
is quarantined (its packets are counted and left to the store) while the others go on
(:meth:`AnalysisSchedule.failed`).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from analysis import Event
from ingest.codec import Batch
from ingest.metrics import ServiceMetrics
from ingest.worker.events import EventSender
from ingest.worker.settings import WorkerSettings
from ingest.worker.wearer import MAX_QUEUED_SAMPLES, Wearer, analysis_settings, fresh_analyzer

__all__ = ["AnalysisSchedule"]

log = logging.getLogger(__name__)


class AnalysisSchedule:
    """The packets each device has queued for its analysis, and the calls of the analysis on them.

    Args:
        settings: The worker's settings (``gather_s``, ``max_errors``, and those a fresh
            analysis is built with).
        wearers: The worker's wearers, by device (shared with it).
        busy: The devices that may have packets deferred or events held, shared with the
            worker: a device with new events comes in.
        events: Where new events are held until the worker's next flush.
        counts: The worker's per-device counters (analysis errors).
        metrics: The worker's metrics (the age of the samples analysed).
        clock: Monotonic wall-clock seconds (the worker's clock).
        save_soon: Has the next flush save a wearer's state (``Worker._save_soon``).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        wearers: dict[str, Wearer],
        busy: dict[str, None],
        events: EventSender,
        counts: Counter[tuple[str, str]],
        metrics: ServiceMetrics,
        clock: Callable[[], float],
        save_soon: Callable[[Wearer], None],
    ) -> None:
        self._settings = settings
        self._wearers = wearers
        self._busy = busy
        self._events = events
        self._counts = counts
        self._clock = clock
        self._save_soon = save_soon
        self._sample_age = metrics.histogram("sitless_sample_age_seconds")
        #: Devices with packets queued for the analysis, with the wall clock of the oldest
        #: (the dict's order is theirs: a device comes in when its queue starts, and leaves
        #: when it is analysed).
        self.gathering: dict[str, float] = {}
        #: Devices whose queued packets span ``WorkerSettings.gather_s`` of their stream.
        self.gathered: dict[str, None] = {}

    def queue(self, device_id: str, wearer: Wearer, batch: Batch) -> None:
        """Queue a packet for the analysis (:meth:`analyse`), its cost already within the device's budget.

        The device's queued packets are ready for the analysis once they span
        ``WorkerSettings.gather_s`` of its stream, from the oldest packet's newest sample
        to this packet's (:meth:`analyse_ready`).
        """
        if not wearer.queued:
            self.gathering[device_id] = self._clock()
            wearer.gathered_from_s = batch.last_s
        elif batch.last_s - wearer.gathered_from_s >= self._settings.gather_s - 0.5 / batch.rate_hz:  # 1/2 sample slack
            self.gathered[device_id] = None
        wearer.queued.append(batch)
        wearer.queued_samples += batch.n
        wearer.dirty = True
        if wearer.queued_samples >= MAX_QUEUED_SAMPLES:
            self.analyse(device_id, wearer)

    def analyse(self, device_id: str, wearer: Wearer) -> None:
        """Analyse the queued packets in one call; a failure skips them and starts the analysis afresh."""
        self.gathering.pop(device_id, None)
        self.gathered.pop(device_id, None)
        if not wearer.queued:
            return
        batches, wearer.queued, wearer.queued_samples = wearer.queued, [], 0
        wearer.unsaved_packets += len(batches)
        wearer.dirty = True
        if wearer.quarantined:
            return
        try:
            events = []
            # Packets with gyro and without (a device switched its gyro) go in separate calls.
            for has_gyro, run in itertools.groupby(batches, key=lambda b: b.gyro is not None):
                group = list(run)
                t_s = np.concatenate([b.times_s() for b in group])
                acc_g = np.concatenate([b.acc_g() for b in group])
                rates = [g for b in group if (g := b.gyro_dps()) is not None]
                gyro = np.concatenate(rates) if has_gyro else None
                events += wearer.analyzer.update(t_s, acc_g, gyro)
                now_s = time.time()
                for b in group:
                    self._sample_age.observe(now_s - b.last_s)
        except Exception:
            seqs = f"{batches[0].seq}" if len(batches) == 1 else f"{batches[0].seq}..{batches[-1].seq}"
            self.failed(device_id, wearer, f"packet {seqs}")
        else:
            self.emit(device_id, wearer, events)

    @property
    def late_s(self) -> float:
        """Longest wall-clock wait of gathered packets for their device's next one (late): twice ``gather_s``."""
        return 2 * self._settings.gather_s

    def next_late_s(self) -> float | None:
        """Wall clock at which the oldest queued packets are late (None: no packet is queued)."""
        if not self.gathering:
            return None
        return next(iter(self.gathering.values())) + self.late_s

    def analyse_ready(self, *, gather: bool = False) -> None:
        """Analyse the devices' queued packets.

        Args:
            gather: Analyse only the devices whose queued packets span
                ``WorkerSettings.gather_s`` of their stream (:meth:`queue`), or whose
                oldest queued packet has waited twice that on the wall clock (its next
                packet is late); the others wait for their next packets.
        """
        for device_id in list(self.gathered):
            if (wearer := self._wearers.get(device_id)) is not None:
                self.analyse(device_id, wearer)
        self.gathered.clear()  # of devices let go of
        newest = self._clock() - self.late_s if gather else math.inf
        gathering = self.gathering
        while gathering:
            device_id = next(iter(gathering))
            if gathering[device_id] > newest:
                break  # the rest came later still
            if (wearer := self._wearers.get(device_id)) is None:
                del gathering[device_id]
            else:
                self.analyse(device_id, wearer)

    def emit(self, device_id: str, wearer: Wearer, events: list[Event], *, action_id: str | None = None) -> None:
        """Hold new events for the worker's next flush (:meth:`EventSender.hold`)."""
        self._events.hold(wearer, events, action_id=action_id)
        if events:
            self._busy[device_id] = None

    def failed(self, device_id: str, wearer: Wearer, what: str) -> None:
        """The analysis of a device raised: skip what it was given, start afresh, or quarantine.

        The fresh analysis is saved at once, so a restarted worker resumes after the
        packet that failed instead of failing on it again.

        Args:
            device_id: The device.
            wearer: Its state in the worker.
            what: What the analysis failed on, for the log (``packet 7``).
        """
        wearer.errors += 1
        self._counts[(device_id, "analysis_errors")] += 1
        log.exception("%s: analysis failed on %s (failure %d)", device_id, what, wearer.errors)
        settings = self._settings
        wearer.analyzer = fresh_analyzer(settings, analysis_settings(settings, wearer.placement, wearer.chosen))
        self._save_soon(wearer)  # the fresh analysis
        if wearer.errors >= settings.max_errors:
            wearer.quarantined = True
            wearer.pending.clear()
            wearer.deferred.clear()
            wearer.deferred_samples = 0
            wearer.behind_seq = wearer.behind_short_s = None
            wearer.flooding = False
            log.error(
                "%s: quarantined after %d analysis failures; its packets are stored but not analysed until restart",
                device_id,
                wearer.errors,
            )
