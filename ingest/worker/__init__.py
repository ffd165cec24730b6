"""The analysis worker: runs the streaming analysis for every wearer it hears.

For each device it keeps one :class:`analysis.Analyzer`, fed with the samples of each
packet in sequence order: the packets of one device that follow on within a batch of
messages are analysed in one call (the analysis gives the same events however the
samples are chunked), so a worker catching up on a backlog spends far less per packet.
Live, a device's packets are gathered until they span ``WorkerSettings.gather_s`` of
its stream (0.5 s: two packets of a 50 Hz wearer) and analysed together, which costs
about 40 % less per packet than a call each.
Events go to the store and to ``.../event``; a sit-too-long alert also sends a buzz on
``.../cmd``. User actions (done, snooze, meeting) arrive on ``.../action``; each is
applied, stored and published once, however many arrive between two packets, and a
message delivered again (the same ``id``) is counted as a duplicate and changes nothing.
The analyzer's snapshot is saved with the last packet it includes, so a restarted worker
restores it and replays the packets the recorder stored since, and the running sitting
bout goes on from where it was instead of starting again from zero.

Several workers share a fleet through device leases in the store
(:mod:`ingest.ownership`): each analyses only the devices it holds, keeps the messages
of the others for a while, and takes over the devices of a worker that stopped renewing
its leases, from that device's saved snapshot on (docs/operations.md, *Several
workers*). A worker alone holds every device, and works as it always did.

No message can stop the worker for every wearer. A packet whose analysis fails (a bug
the analysis did not foresee) is skipped, with the packets analysed in the same call:
that device's analysis starts afresh after them, and a device that fails again and again
is quarantined (its packets are counted and left to the store) while the others go on. A
sequence number far below the last one analysed starts a new sequence (a device reset,
or a forged number before it). Events are stored, then published; each remembers in the
store whether the broker acknowledged it, and a restarted worker publishes those it had
not. The buzz of an alert goes out only while it is fresh
(``WorkerSettings.buzz_max_age_s``). Devices not heard from for a while are saved and
let go of, and there are at most ``max_wearers`` in memory.

A device that sends far faster than real time (a forged client, a gateway replaying at
full speed) cannot starve the others: each device has an analysis budget in samples,
topped up with wall time (``WorkerSettings.flood_samples_per_s``, with a burst of
``flood_burst_samples``). Past it, the device's packets are deferred behind the other
devices' and analysed as its budget grows again, or in spare time (when no message
waits); past ``flood_max_deferred_samples`` of them its later packets are left to the
store, where the recorder keeps them, and its stream resumes from there. Nothing is
lost, and a saved snapshot never claims packets it does not include.

The package's parts: :class:`Worker` here; its settings (``settings``); what it keeps of
each wearer (``wearer``); events stored, published and buzzed (``events``); the flood
budget and deferred packets (``flood``). ``sitless worker`` (:mod:`ingest.worker.cmd`)
runs it from the command line.
"""

from __future__ import annotations

import itertools
import logging
import math
import socket
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable

import numpy as np

from analysis import AnalysisSettings, Analyzer, Event, Placement
from analysis.detector import Detector
from analysis.sets import followed, recognition_detectors
from ingest.codec import Batch, decode
from ingest.errors import PacketError, PayloadError, StoreError
from ingest.ownership import DeviceOwnership, Handover
from ingest.payloads import Action, DeviceStatus, WearerSettings
from ingest.service import Message, MqttService
from ingest.store import StateRow, Store, event_key
from ingest.tally import Tally, writer_id
from ingest.topics import Kind, subscription
from ingest.worker.events import EventSender
from ingest.worker.flood import FloodControl
from ingest.worker.settings import WorkerSettings
from ingest.worker.wearer import MAX_QUEUED_SAMPLES, Wearer

__all__ = ["Worker", "WorkerSettings"]

log = logging.getLogger(__name__)

SERVICE = "worker"
#: How often a flush looks over every wearer in memory for saves that fall due and for
#: wearers to let go of. Between two looks a flush touches only the wearers with packets
#: or events to handle, so that its cost follows the traffic, not the wearers held.
SCAN_EVERY_S = 0.2


class Worker(MqttService):
    """Streaming analysis for every device on the broker (see the module docstring).

    Args:
        settings: The worker's settings.
        clock: Monotonic wall-clock seconds, for save cadence and reorder waits (a
            benchmark replaying traffic faster than real time passes its own).
    """

    def __init__(self, settings: WorkerSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(
            settings.broker,
            settings.client_id,
            [
                (subscription(Kind.IMU, share_group=settings.share_group), 1),
                (subscription(Kind.STATUS), 1),
                (subscription(Kind.ACTION), 1),
                (subscription(Kind.SETTINGS), 1),
            ],
            service=SERVICE,
        )
        self.settings = settings
        self.store = Store(settings.store_url)
        self.counts: Counter[tuple[str, str]] = Counter()
        self._wearers: dict[str, Wearer] = {}
        self._placements: OrderedDict[str, Placement] = OrderedDict()
        self._clock = clock
        self._republished = False
        self._closed = False
        self._idle_tick_s = self.tick_s
        self.events = EventSender(
            self.client,
            self.store,
            self.metrics,
            self.counts,
            buzz_max_age_s=settings.buzz_max_age_s,
            on_alert=self._save_soon,
        )
        self.client.on_publish = self.events.on_publish
        self.flood = FloodControl(
            settings,
            self.store,
            counts=self.counts,
            metrics=self.metrics,
            troubles=self.troubles,
            clock=clock,
            queue=self._queue,
        )
        self.metrics.read("sitless_held_packets", self._held_packets)
        self.metrics.read("sitless_wearers", lambda: len(self._wearers))
        self._sample_age = self.metrics.histogram("sitless_sample_age_seconds")
        #: The owner named in this worker's device leases.
        self.worker_id = settings.worker_id or f"{settings.client_id}@{socket.gethostname()}"
        # Counts held until the store has them, each added once (ingest.tally): the packets
        # the saved snapshots include, written with them, and the other counts.
        self._snapshot_counts = Tally(SERVICE, writer_id(f"{self.worker_id}/snapshots"))
        self._other_counts = Tally(SERVICE, writer_id(self.worker_id))
        self.ownership = DeviceOwnership(
            self.store,
            self.worker_id,
            lease_s=settings.lease_s,
            standby_messages=settings.standby_messages,
            max_standby_devices=settings.max_wearers,
            handover_after=settings.handover_after,
            handover_step=settings.handover_step,
            handover_cooldown_leases=settings.handover_cooldown_leases,
            clock=clock,
        )
        # Messages of devices heard of for the first time, until flush claims them.
        self._unclaimed: dict[str, list[Message]] = {}
        #: Devices that may have packets deferred, or events held (in order of work).
        self._busy: dict[str, None] = {}
        #: Devices with packets queued for the analysis, with the wall clock of the oldest
        #: (the dict's order is theirs: a device comes in when its queue starts, and leaves
        #: when it is analysed).
        self._gathering: dict[str, float] = {}
        #: Devices whose queued packets span ``WorkerSettings.gather_s`` of their stream.
        self._gathered: dict[str, None] = {}
        #: Devices that may hold packets after a gap (``Wearer.pending``), for :meth:`tick`.
        self._gapped: dict[str, None] = {}
        self._next_scan_s = -math.inf
        self.metrics.read("sitless_leases", lambda: len(self.ownership.held))
        self.metrics.read("sitless_standby_messages", self.ownership.standby_messages)

    # --- message handling -----------------------------------------------------------

    def absorb(self, messages: list[Message]) -> None:
        """Analyse a batch of packets and apply actions; their events wait for :meth:`flush`.

        A message that cannot be handled is counted and skipped; only a store failure
        (:class:`StoreError`) leaves the batch, to be taken in again. A device's packets
        that follow on are analysed together, in one call of the analysis per device and
        batch (the analysis gives the same events however the samples are chunked), which
        makes a backlog cheaper to catch up on than a live trickle. The messages of
        devices another worker holds are kept for a take-over, not analysed; those of
        devices heard of for the first time wait for :meth:`flush` to claim them
        (:mod:`ingest.ownership`), so that taking a batch in never writes to the store.
        """
        try:
            self.handle_each(messages, self._take)
        finally:
            self._analyse_all(gather=self._gathers())

    def _take(self, device_id: str, kind: Kind, m: Message) -> None:
        if kind is not Kind.STATUS and not self.ownership.holds(device_id):
            if self.ownership.knows(device_id):
                self.ownership.keep(device_id, kind, m)
            else:
                self._unclaimed.setdefault(device_id, []).append(m)
            return
        if kind is Kind.IMU:
            self._on_packet(device_id, m)
        elif kind is Kind.STATUS:
            self._on_status(device_id, m.payload)
        elif kind is Kind.ACTION:
            self._on_action(device_id, m)
        elif kind is Kind.SETTINGS:
            self._on_settings(device_id, m)

    def count(self, device_id: str, name: str) -> None:
        """Add one to a device's counter (:meth:`MqttService.count`)."""
        self.counts[(device_id, name)] += 1

    def _on_packet(self, device_id: str, m: Message) -> None:
        self.metrics.add("sitless_packets_received")
        try:
            batch = decode(m.payload)
        except PacketError as err:
            self.counts[(device_id, "bad_packets")] += 1
            self.troubles.warning(f"bad:{device_id}", "bad packet on %s: %s", m.topic, err)
            return
        wearer = self._wearer(device_id, upto_seq=batch.seq)
        wearer.heard_s = self._clock()
        if wearer.quarantined:
            self.counts[(device_id, "quarantined")] += 1
            return
        if (
            batch.seq <= wearer.seq
            and wearer.seq - batch.seq >= self.settings.seq_restart_gap
            and not self._stored_already(device_id, batch.seq, m.payload)  # then a duplicate, below
        ):
            self._restart_sequence(device_id, wearer, batch.seq)
        if batch.seq <= wearer.seq or batch.seq in wearer.pending:
            self.counts[(device_id, "duplicates")] += 1
            return
        if wearer.behind_seq is not None:  # its stream resumes from the store, where this one is too
            if batch.seq <= wearer.behind_seq:
                self.counts[(device_id, "duplicates")] += 1
            else:
                self.flood.leave_to_store(device_id, wearer, batch.seq)
            return
        if batch.seq == wearer.seq + 1 or wearer.seq < 0:
            if not self._feed(device_id, wearer, batch):
                self.flood.leave_to_store(device_id, wearer, batch.seq)
                return
            self._feed_pending(device_id, wearer, skip_gaps=False)
            wearer.pending_since_s = self._clock()  # the stream flows: held packets wait on
            return
        if not wearer.pending:
            wearer.pending_since_s = self._clock()
        wearer.pending[batch.seq] = batch
        self._gapped[device_id] = None
        if len(wearer.pending) > self.settings.reorder_max_packets:
            self._feed_pending(device_id, wearer, skip_gaps=True)

    def _stored_already(self, device_id: str, seq: int, payload: bytes) -> bool:
        """Whether the store holds this very packet: replayed old data, whose analysis must not start again.

        A device that lost its counter sends new samples under old numbers, which differ
        from the stored ones; a replay (a packet resent, or kept by a broker) is the same.
        """
        stored = next(self.store.batches(device_id, after_seq=seq - 1, limit=1), None)
        return stored is not None and stored.seq == seq and stored.payload == payload

    def _restart_sequence(self, device_id: str, wearer: Wearer, seq: int) -> None:
        """Take a packet far below the last one analysed as the start of a new sequence.

        A device that lost its sequence memory starts again from 0, and a forged packet
        with a huge number must not make every later real packet a duplicate.
        """
        self.counts[(device_id, "seq_restarts")] += 1
        self.troubles.warning(
            f"seq:{device_id}",
            "%s: packet %d is far below the last one analysed (%d): a new sequence starts",
            device_id,
            seq,
            wearer.seq,
        )
        self._analyse_now(device_id, wearer)  # deferred packets belong to the old numbering
        if wearer.behind_seq is not None:  # so do those left to the store: not analysed
            self.counts[(device_id, "gaps_skipped")] += 1
            wearer.behind_seq = wearer.behind_short_s = None
            self.flood.end_episode(device_id, wearer)
        self.counts[(device_id, "gaps_skipped")] += len(wearer.pending)
        wearer.pending.clear()  # held packets belong to the old numbering
        wearer.seq = seq - 1

    def _feed_pending(self, device_id: str, wearer: Wearer, *, skip_gaps: bool, patient: bool = False) -> None:
        """Feed held packets in order: those that follow on, or all of them past a gap.

        Before a gap is skipped, the packets missing are looked for in the store: the
        recorder may have them when this worker did not (its queue at the broker
        overflowed, or it took the device over from another worker). ``patient``: while
        the recorder has not yet stored as far as the gap's end, wait for it (up to
        ``WorkerSettings.recorder_wait_s``) rather than skip what it is about to store.
        """
        while wearer.pending and not wearer.quarantined and wearer.behind_seq is None:
            nxt = min(wearer.pending)
            if nxt != wearer.seq + 1:
                if not skip_gaps:
                    return
                if self._fill_from_store(device_id, wearer, nxt) or wearer.behind_seq is not None:
                    continue
                if patient and self._recorder_behind(device_id, wearer, nxt):
                    return
                self.counts[(device_id, "gaps_skipped")] += 1
                log.info("%s: packets %d..%d did not arrive; going on without them", device_id, wearer.seq + 1, nxt - 1)
            batch = wearer.pending.pop(nxt)
            if not self._feed(device_id, wearer, batch):
                self.flood.leave_to_store(device_id, wearer, batch.seq)
            wearer.pending_since_s = self._clock()

    def _recorder_behind(self, device_id: str, wearer: Wearer, before_seq: int) -> bool:
        """Whether the recorder has not yet stored up to ``before_seq - 1`` and may still bring the gap's packets.

        A gap waits for it at most ``recorder_wait_s`` (a recorder that is down brings nothing).
        """
        if self._clock() - wearer.pending_since_s >= self.settings.recorder_wait_s:
            return False
        try:
            top = self.store.max_seq(device_id)
        except StoreError:
            return True  # the recorder cannot store either: wait for both
        return top is None or top < before_seq - 1

    def _fill_from_store(self, device_id: str, wearer: Wearer, before_seq: int) -> bool:
        """Feed the stored packets after the last one analysed and before ``before_seq``; whether there were any."""
        start = wearer.seq
        try:
            self._replay_stored(device_id, wearer, before_seq=before_seq, limit=max(0, before_seq - start - 1))
        except StoreError as err:
            self.troubles.warning(
                f"fill:{device_id}", "%s: cannot look for missing packets in the store: %s", device_id, err
            )
        if wearer.seq == start:
            return False
        self.counts[(device_id, "gaps_filled")] += 1
        log.info("%s: packets %d..%d came from the store", device_id, start + 1, wearer.seq)
        return True

    def _replay_stored(
        self, device_id: str, wearer: Wearer, *, before_seq: int | None = None, limit: int | None = None
    ) -> int:
        """Feed the packets the recorder stored after the last one analysed (and before ``before_seq``); how many.

        Raises:
            StoreError: The store cannot be read (the packets fed before stay fed).
        """
        fed = 0
        for row in self.store.batches(device_id, after_seq=wearer.seq, limit=limit):
            if (before_seq is not None and row.seq >= before_seq) or wearer.quarantined:
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
        if wearer.deferred or not self.flood.spend(wearer, batch.n):
            if wearer.deferred_samples + batch.n > self.settings.flood_max_deferred_samples:
                self.flood.fall_behind(device_id, wearer)
                return False
            if not wearer.flooding:
                self.flood.start_episode(device_id, wearer)
            wearer.deferred.append(batch)
            wearer.deferred_samples += batch.n
            self._busy[device_id] = None
            self.counts[(device_id, "flood_deferred")] += 1
            wearer.episode_deferred += 1
        else:
            self._queue(device_id, wearer, batch)
        self.metrics.add("sitless_samples_received", batch.n)
        wearer.seq = batch.seq
        wearer.dirty = True
        return True

    def _queue(self, device_id: str, wearer: Wearer, batch: Batch) -> None:
        """Queue a packet for the analysis (``_analyse``), its cost already within the device's budget.

        The device's queued packets are ready for the analysis once they span
        ``WorkerSettings.gather_s`` of its stream, from the oldest packet's newest sample
        to this packet's (:meth:`_analyse_all`).
        """
        if not wearer.queued:
            self._gathering[device_id] = self._clock()
            wearer.gathered_from_s = batch.last_s
        elif batch.last_s - wearer.gathered_from_s >= self.settings.gather_s - 0.5 / batch.rate_hz:  # 1/2 sample slack
            self._gathered[device_id] = None
        wearer.queued.append(batch)
        wearer.queued_samples += batch.n
        wearer.dirty = True
        if wearer.queued_samples >= MAX_QUEUED_SAMPLES:
            self._analyse(device_id, wearer)

    def _analyse_now(self, device_id: str, wearer: Wearer) -> None:
        """Analyse every packet of the device taken in, deferred ones too (an action or a save must see them)."""
        self.flood.release(device_id, wearer, force=True)
        self._analyse(device_id, wearer)

    def _idle(self) -> bool:
        """Whether no message waits to be handled: time to spare for deferred packets."""
        return self._inbox.empty()

    def _analyse(self, device_id: str, wearer: Wearer) -> None:
        """Analyse the queued packets in one call; a failure skips them and starts the analysis afresh."""
        self._gathering.pop(device_id, None)
        self._gathered.pop(device_id, None)
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
            self._analysis_failed(device_id, wearer, f"packet {seqs}")
        else:
            self._emit(device_id, wearer, events)

    @property
    def _late_s(self) -> float:
        """Longest wall-clock wait of gathered packets for their device's next one (late): twice ``gather_s``."""
        return 2 * self.settings.gather_s

    def _gathers(self) -> bool:
        """Whether queued packets may wait to be analysed with their device's next ones.

        They may in the message loop (:meth:`run`, :meth:`start`); a caller handing
        batches to :meth:`handle` itself has them analysed at once.
        """
        return self.settings.gather_s > 0 and self.looping

    def _analyse_all(self, *, gather: bool = False) -> None:
        """Analyse the devices' queued packets, after their deferred ones as far as their budget allows.

        Args:
            gather: Analyse only the devices whose queued packets span
                ``WorkerSettings.gather_s`` of their stream (:meth:`_queue`), or whose
                oldest queued packet has waited twice that on the wall clock (its next
                packet is late); the others wait for their next packets.
        """
        for device_id in list(self._busy):
            if (wearer := self._wearers.get(device_id)) is not None:
                self.flood.release(device_id, wearer)
        for device_id in list(self._gathered):
            if (wearer := self._wearers.get(device_id)) is not None:
                self._analyse(device_id, wearer)
        self._gathered.clear()  # of devices let go of
        newest = self._clock() - self._late_s if gather else math.inf
        gathering = self._gathering
        while gathering:
            device_id = next(iter(gathering))
            if gathering[device_id] > newest:
                break  # the rest came later still
            if (wearer := self._wearers.get(device_id)) is None:
                del gathering[device_id]
            else:
                self._analyse(device_id, wearer)

    def _analysis_failed(self, device_id: str, wearer: Wearer, what: str) -> None:
        """The analysis of a device raised: skip what it was given, start afresh, or quarantine.

        The fresh analysis is saved at once, so a restarted worker resumes after the
        packet that failed instead of failing on it again.
        """
        wearer.errors += 1
        self.counts[(device_id, "analysis_errors")] += 1
        log.exception("%s: analysis failed on %s (failure %d)", device_id, what, wearer.errors)
        wearer.analyzer = self._fresh_analyzer(self._analysis_settings(wearer.placement, wearer.chosen))
        self._save_soon(wearer)  # the fresh analysis
        if wearer.errors >= self.settings.max_errors:
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

    def _save_soon(self, wearer: Wearer, *, snapshot: bool = True) -> None:
        """Have the next flush save the wearer's status, and its snapshot unless ``snapshot`` is off, due or not."""
        if snapshot:
            wearer.snapshot_saved_s = -math.inf
        else:
            wearer.status_saved_s = -math.inf
        self._next_scan_s = -math.inf

    def _analysis_settings(self, placement: Placement, chosen: WearerSettings | None) -> AnalysisSettings:
        """The analysis settings of a wearer: the worker's policy, with what the wearer chose in its place."""
        policy, slouch = self.settings.policy, self.settings.slouch
        if chosen is not None:
            policy, slouch = chosen.policy(policy), chosen.slouch(slouch)
        return AnalysisSettings(placement=placement, policy=policy, slouch=slouch)

    def _on_settings(self, device_id: str, m: Message) -> None:
        """Take the wearer's new settings: stored, and followed by the running analysis from its next sample."""
        if not m.payload:
            return  # retained settings cleared on the broker: the stored ones stay in force
        try:
            chosen = WearerSettings.parse(m.payload)
        except PayloadError as err:
            self.counts[(device_id, "bad_settings")] += 1
            self.troubles.warning(
                f"settings:{device_id}", "bad settings for %s: %r (%s)", device_id, m.payload[:100], err
            )
            return
        self.store.set_wearer_settings(device_id, chosen.to_dict())  # a StoreError takes the batch in again
        wearer = self._wearer(device_id)
        wearer.heard_s = self._clock()
        if wearer.chosen == chosen:
            return  # the retained settings again, after a reconnection
        log.info("%s: new settings %s", device_id, chosen.to_json())
        wearer.chosen = chosen
        if wearer.quarantined:
            return
        self._analyse_now(device_id, wearer)  # the samples before the change under the old settings
        analysis = self._analysis_settings(chosen.placement or wearer.placement, chosen)
        if analysis.placement is wearer.placement:
            wearer.analyzer.set_policy(analysis.policy, analysis.slouch)
        else:  # worn elsewhere: the running bouts close, and the analysis starts afresh for the new place
            log.info(
                "%s: placement %s -> %s; the analysis starts afresh", device_id, wearer.placement, analysis.placement
            )
            try:
                self._emit(device_id, wearer, wearer.analyzer.flush())
            except Exception:
                self._analysis_failed(device_id, wearer, "the change of placement")
            wearer.placement = analysis.placement
            wearer.analyzer = self._fresh_analyzer(analysis)
            self._save_soon(wearer)  # the fresh analysis
        wearer.dirty = True
        self._save_soon(wearer, snapshot=False)  # the status shows the new limit and hours right away

    def _on_status(self, device_id: str, payload: bytes) -> None:
        try:
            placement = DeviceStatus.parse(payload).placement
        except PayloadError:
            return  # the recorder counts bad statuses
        if placement is None:
            return  # statuses without a placement leave the default in force
        self._placements[device_id] = placement
        self._placements.move_to_end(device_id)
        while len(self._placements) > self.settings.max_wearers:  # ids come from any client: bounded
            self._placements.popitem(last=False)

    def _on_action(self, device_id: str, m: Message) -> None:
        """Apply a user action once: its event is keyed on the action's id (:func:`_action_id`)."""
        try:
            request = Action.parse(m.payload)
        except PayloadError as err:
            self._bad_action(device_id, m, err)
            return
        action, exercise, action_id = request.action, request.exercise, _action_id(request, m)
        wearer = self._wearer(device_id)
        wearer.heard_s = self._clock()
        if wearer.quarantined:
            self.counts[(device_id, "quarantined")] += 1
            return
        if exercise is not None:
            try:
                followed(exercise, wearer.placement)
            except ValueError as err:
                self._bad_action(device_id, m, err)
                return
        if self._action_seen(device_id, wearer, action_id):
            self.counts[(device_id, "duplicate_actions")] += 1
            log.info("action %s for %s (id %s) was applied before; ignored", action, device_id, action_id)
            return
        log.info("action %s for %s (id %s)", action, device_id, action_id)
        self._analyse_now(device_id, wearer)  # the samples before the action first
        # Before any sample the analysis has no clock of its own: the action takes the time it arrived.
        at_s = m.received_s if wearer.analyzer.status().t_s is None else None
        try:
            events = wearer.analyzer.act(action, at_s, exercise=exercise)
        except Exception:
            self._analysis_failed(device_id, wearer, f"action {action}")
            return
        self._emit(device_id, wearer, events, action_id=action_id)
        wearer.dirty = True
        self._save_soon(wearer)  # the state with the action in it

    def _bad_action(self, device_id: str, m: Message, err: Exception) -> None:
        self.counts[(device_id, "bad_actions")] += 1
        self.troubles.warning(f"action:{device_id}", "bad action for %s: %r (%s)", device_id, m.payload[:100], err)

    def _action_seen(self, device_id: str, wearer: Wearer, action_id: str) -> bool:
        """Whether the action with this id was applied already: held for the store, or stored."""
        held = any(e["kind"] == "action" and e.get("id") == action_id for e in wearer.outbox)
        return held or self.store.has_event(device_id, "action", action_id)

    # --- per-device state ---------------------------------------------------------------

    def _wearer(self, device_id: str, upto_seq: int | None = None) -> Wearer:
        """The device's analysis, restored from the store and caught up on first use.

        Packets the recorder stored after the saved snapshot, and before ``upto_seq``,
        are replayed first: they were received before a restart but not yet analysed.
        """
        wearer = self._wearers.get(device_id)
        if wearer is not None:
            return wearer
        wearer = self._restored(device_id)
        wearer.heard_s = self._clock()
        self._wearers[device_id] = wearer
        self._save_soon(wearer, snapshot=False)  # its first status
        replayed = self._replay_stored(device_id, wearer, before_seq=upto_seq)
        if replayed:
            log.info("%s: replayed %d stored packets", device_id, replayed)
        return wearer

    def _restored(self, device_id: str) -> Wearer:
        """The device's saved analysis, or a fresh one when there is none or it cannot be used.

        The placement is the one the wearer chose (settings), else the one the device's
        status names, else the one the saved state was for, else the default. A snapshot
        of an older analysis version (after an upgrade) or of another placement cannot be
        resumed: the analysis starts afresh with the packets stored after it.
        """
        saved = self.store.load_state(device_id)
        saved_placement = None if saved is None else saved.status.get("placement")
        chosen = self._chosen(device_id)
        placement = (
            (chosen and chosen.placement)
            or self._placements.get(device_id)
            or (
                Placement(saved_placement)
                if saved_placement in {str(p) for p in Placement}
                else self.settings.placement
            )
        )
        analysis_settings = self._analysis_settings(placement, chosen)
        if saved is None or not saved.snapshot:
            return Wearer(self._fresh_analyzer(analysis_settings), placement, chosen=chosen)
        try:
            analyzer = Analyzer.restore(analysis_settings, saved.snapshot, self._recognition(analysis_settings))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
            log.warning("%s: saved analysis state not usable (%s); starting afresh", device_id, err)
            return Wearer(self._fresh_analyzer(analysis_settings), placement, seq=saved.seq, chosen=chosen)
        log.info("%s: resumed analysis after packet %d", device_id, saved.seq)
        return Wearer(analyzer, placement, seq=saved.seq, chosen=chosen)

    def _recognition(self, settings: AnalysisSettings) -> list[Detector]:
        """The detectors every wearer's analysis runs besides posture: exercise done unprompted, unless left out."""
        return recognition_detectors(settings.placement, settings.tuning.frame_s) if self.settings.recognition else []

    def _fresh_analyzer(self, settings: AnalysisSettings) -> Analyzer:
        """A new analysis for a wearer."""
        return Analyzer(settings, self._recognition(settings))

    def _chosen(self, device_id: str) -> WearerSettings | None:
        """The settings the wearer chose, as stored (None: none, or unreadable)."""
        body = self.store.wearer_settings(device_id)
        if body is None:
            return None
        try:
            return WearerSettings.from_dict(body)
        except PayloadError as err:
            log.warning("%s: stored settings not usable (%s); the worker's own apply", device_id, err)
            return None

    def _emit(self, device_id: str, wearer: Wearer, events: list[Event], *, action_id: str | None = None) -> None:
        """Hold new events for :meth:`flush` (:meth:`EventSender.hold`)."""
        self.events.hold(wearer, events, action_id=action_id)
        if events:
            self._busy[device_id] = None

    def _send_events(self) -> None:
        """Store held events, publish the new ones, and buzz the wearable on a fresh alert or a slouch nudge."""
        for device_id in list(self._busy):
            wearer = self._wearers.get(device_id)
            if wearer is None or not (wearer.outbox or wearer.queued or wearer.deferred):
                del self._busy[device_id]  # nothing left to do for it
                continue
            try:
                self.events.send(device_id, wearer)
            except StoreError:
                # Its commit may have landed with the answer lost: written again, the events
                # are not new, so the next flush publishes the stored ones not yet published.
                self._republished = False
                raise

    def _republish(self) -> None:
        """Publish the events a previous run stored but the broker never acknowledged."""
        rows = self.store.unpublished_events()
        self.ownership.claim_new(row.device_id for row in rows)
        rows = [row for row in rows if self.ownership.holds(row.device_id)]  # the others' owners publish them
        sent = self.events.in_flight()  # published by an earlier attempt of this flush
        for row in rows:
            if event_key(row.device_id, row.body) in sent:
                continue
            wearer = self._wearers.get(row.device_id)
            if wearer is None and row.kind == "alert":
                wearer = self._wearer(row.device_id)  # to judge whether its buzz is still due
            self.events.publish(row.device_id, row.body, wearer)
        if rows:
            log.info("published %d stored events the broker had not acknowledged", len(rows))
        self._republished = True

    def _save(self, *, force: bool = False, due: frozenset[str] = frozenset()) -> None:
        """Save, in one transaction, the status and snapshots that are due (all with ``force``).

        The packets each snapshot includes are counted in the same transaction, so that
        the packets replayed after a crash are counted once.

        Args:
            force: Save every device's snapshot now.
            due: Devices whose snapshot is saved now whatever the cadence (being let go of).
        """
        now = self._clock()
        rows: list[StateRow] = []
        counts: dict[tuple[str, str], int] = {}
        saved: list[tuple[str, Wearer, bool]] = []
        for device_id, wearer in self._wearers.items():
            if wearer.quarantined:
                continue
            snapshot_due = force or device_id in due or now - wearer.snapshot_saved_s >= self.settings.snapshot_every_s
            status_due = snapshot_due or now - wearer.status_saved_s >= self.settings.status_every_s
            if not wearer.dirty or not status_due:
                continue
            try:
                status = wearer.analyzer.status().to_dict()
                snapshot = wearer.analyzer.snapshot() if snapshot_due else None
            except Exception:
                self._analysis_failed(device_id, wearer, "its saved state")
                continue
            analysis = wearer.analyzer.settings
            policy = analysis.policy
            status.update(
                max_sitting_s=policy.max_sitting_s,
                slouch_deg=analysis.slouch.slouch_deg,
                working_hours=None if policy.working_hours is None else list(policy.working_hours),
                weekly_hours=None if policy.weekly_hours is None else [h and list(h) for h in policy.weekly_hours],
                quiet_hours=[list(q) for q in policy.quiet_hours],
                utc_offset_h=policy.utc_offset_h,
                placement=str(wearer.placement),
                exercise=wearer.analyzer.exercise,
                worker_lag_s=round(self.lag_s, 3),
                worker=self.worker_id,
            )
            # Packets queued or deferred are not in the snapshot: a restarted worker takes
            # them from the store (queued ones come before deferred ones).
            waiting = wearer.queued or wearer.deferred
            seq = waiting[0].seq - 1 if waiting else wearer.seq
            rows.append(StateRow(device_id, seq, snapshot, status))
            if snapshot is not None and wearer.unsaved_packets:
                counts[(device_id, "packets")] = wearer.unsaved_packets
                wearer.unsaved_packets = 0  # held by the tally from here
            saved.append((device_id, wearer, snapshot is not None))
        self._snapshot_counts.hold(counts)
        if not rows and not self._snapshot_counts.held:
            return
        # A StoreError leaves every wearer due, to be saved next time, and the counts held:
        # if this save was committed and only its answer lost, the next adds them no more.
        lost = self.store.save_states(rows, counts=self._snapshot_counts, owner=self.worker_id)
        self._snapshot_counts.written()
        if lost:
            self._take_over(self.ownership.lost(lost))
        every = self.settings.snapshot_every_s
        for device_id, wearer, snapshot_saved in saved:
            wearer.status_saved_s = now
            if snapshot_saved:
                # A first snapshot (or one asked for at once) is followed by the next one at
                # the device's own point of the interval, so that the periodic snapshots of
                # wearers that started together spread over it instead of falling due at once.
                first = wearer.snapshot_saved_s == -math.inf and math.isfinite(every)
                wearer.snapshot_saved_s = now - every * _phase(device_id) if first else now
                wearer.dirty = False

    def tick(self) -> None:
        """Give up on gaps that waited too long, and catch up on deferred packets (:meth:`FloodControl.catch_up`).

        While deferred packets are left and the worker has time to spare, the loop comes
        back at once rather than waiting for a message.
        """
        now = self._clock()
        for device_id in list(self._gapped):
            wearer = self._wearers.get(device_id)
            if wearer is None or not wearer.pending:
                del self._gapped[device_id]
            elif now - wearer.pending_since_s >= self.settings.reorder_wait_s:
                self._feed_pending(device_id, wearer, skip_gaps=True, patient=True)
                self._analyse(device_id, wearer)
        self.tick_s = 0.0 if self.flood.catch_up(self._wearers, self._idle, self._analyse) else self._idle_tick_s

    def _to_let_go(self) -> list[str]:
        """Devices to save and drop from memory: idle ones, and the longest idle past ``max_wearers``."""
        now = self._clock()
        idle = [d for d, w in self._wearers.items() if now - w.heard_s >= self.settings.evict_idle_s]
        over = len(self._wearers) - len(idle) - self.settings.max_wearers
        if over > 0:
            gone = set(idle)
            busy = sorted((w.heard_s, d) for d, w in self._wearers.items() if d not in gone)
            idle += [d for _, d in busy[:over]]
        return idle

    def flush(self, *, force: bool = False) -> None:
        """Store and send held events, then save the due states (all with ``force``) and the counts.

        Events go first, so a saved snapshot never includes events that were not stored:
        after a crash the replay of stored packets makes them again. Devices let go of
        (idle, or handed over to a worker with fewer) are saved first, and dropped only
        once saved, and their leases let go of. The
        leases are renewed first, with the devices taken over caught up from their saved
        snapshot (:meth:`_take_over`).
        """
        self._claim_heard()
        self._take_over(self.ownership.renew())
        if not self._republished:
            self._republish()
        self.events.record_published()
        now = self._clock()
        scan = force or now >= self._next_scan_s
        leaving = self._to_let_go() if scan else []
        handing = sorted(self.ownership.handing_over - set(leaving))  # to another worker (ingest.ownership)
        for device_id in [*leaving, *handing]:
            if device_id in self._wearers:
                self._feed_pending(device_id, self._wearers[device_id], skip_gaps=True)
                self._analyse_now(device_id, self._wearers[device_id])
        self._analyse_all(gather=not force and self._gathers())
        self._send_events()
        if scan or handing:
            self._save(force=force, due=frozenset([*leaving, *handing]))
        self._hand_over(handing)
        let_go = []
        for device_id in leaving:
            wearer = self._wearers[device_id]
            if not wearer.dirty or wearer.quarantined:
                del self._wearers[device_id]
                self.counts[("*", "evicted")] += 1
                let_go.append(device_id)
        self.ownership.release(let_go)
        if scan:  # saved: the next look is due in a while (a failed save is tried again at the next flush)
            self._next_scan_s = now + SCAN_EVERY_S
        if self._gathering and self._gathers():  # the loop comes back when the oldest is due
            oldest_s = next(iter(self._gathering.values()))
            self.tick_s = min(self.tick_s, max(0.0, oldest_s + self._late_s - self._clock()))
        self._other_counts.hold(self.counts)
        self.counts.clear()
        if self._other_counts.held:
            self.store.add_counts(self._other_counts)
            # once saved, so a failed save is not exported twice
            self.metrics.add_counts(self._other_counts.written())

    def _hand_over(self, device_ids: list[str]) -> None:
        """Let go of the devices handed over whose snapshot is saved; the others wait for the next flush."""
        wearers = self._wearers
        saved = [d for d in device_ids if d not in wearers or not wearers[d].dirty or wearers[d].quarantined]
        self.ownership.hand_over(saved)  # a StoreError keeps them, to be handed over next time
        for device_id in saved:
            self._wearers.pop(device_id, None)
        if saved:
            self.counts[("*", "handed_over")] += len(saved)

    def _claim_heard(self) -> None:
        """Claim the devices heard of for the first time, then take their messages in again.

        Those claimed are analysed; the others are kept for a take-over. A store failure
        keeps the messages for the next attempt (a message taken twice is a duplicate).
        """
        if not self._unclaimed:
            return
        self.ownership.claim_new(self._unclaimed)
        heard = [m for kept in self._unclaimed.values() for m in kept]
        self.handle_each(heard, self._take)
        self._unclaimed.clear()

    def _take_over(self, handover: Handover) -> None:
        """Let go of the devices another worker holds now, and catch up on those taken over.

        A device taken over is restored from its saved snapshot and the packets the
        recorder stored since (:meth:`_wearer`), then fed the messages kept for it:
        those the store had already are duplicates and change nothing.
        """
        for device_id in handover.lost:
            self._wearers.pop(device_id, None)  # its new owner goes on from the saved snapshot
        for device_id, kept in handover.gained.items():
            self.handle_each([m for _, m in kept], self._take)
            if not kept:
                self._wearer(device_id)  # caught up on what the store has, at once
        if handover.gained:
            self._republished = False  # their events a dead worker stored and did not publish

    def _held_packets(self) -> int:
        """Packets held after a gap, queued for the analysis or deferred, over every wearer (read when scraped)."""
        return sum(len(w.pending) + len(w.queued) + len(w.deferred) for w in list(self._wearers.values()))

    def close(self) -> None:
        """Analyse held packets, save every device's state, disconnect and close the store (once)."""
        if self._closed:
            return
        self._closed = True
        super().close()
        for device_id, wearer in self._wearers.items():
            self._feed_pending(device_id, wearer, skip_gaps=True)
            self._analyse_now(device_id, wearer)  # those left to the store wait there for the next run
        try:
            self.flush(force=True)  # analyses what is queued first
            self.ownership.release()  # another worker takes them over at once
        except StoreError:
            log.exception("the final save failed; a restarted worker replays the stored packets instead")
        self.store.close()


def _phase(device_id: str) -> float:
    """A fixed fraction of the snapshot interval for each device, in [0, 1), spread evenly over devices."""
    return zlib.crc32(device_id.encode()) / 2**32


def _action_id(action: Action, m: Message) -> str:
    """The id of an action message: the ``id`` its sender gave it, else one made from its arrival.

    An id from the sender (:func:`ingest.actions.send_action` gives each action one)
    makes a message the broker delivers again a duplicate. Without one, the arrival
    time and packet id of the message stand in: they tell apart two actions sent one
    after the other, and the same message taken in again after a store failure, but
    not a message the broker delivers a second time.

    >>> from analysis import UserAction
    >>> from ingest.service import Message
    >>> _action_id(Action(UserAction.DONE, "7f3a"), Message("t", b"", 5, 1, 1700000000.25))
    '7f3a'
    >>> _action_id(Action(UserAction.DONE), Message("t", b"", 5, 1, 1700000000.25))
    'done@1700000000.25#5'
    """
    return action.id if action.id is not None else f"{action.action}@{m.received_s!r}#{m.mid}"
