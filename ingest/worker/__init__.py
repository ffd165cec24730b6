"""The analysis worker: runs the streaming analysis for every wearer it hears.

For each device it keeps one :class:`analysis.Analyzer` (``Worker._wearers``: a
:class:`~ingest.worker.wearer.Wearer` a device), fed with the samples of each packet in
sequence order (``intake``), a few packets a call (``schedule``). Events
go to the store and to ``.../event``; a sit-too-long alert also sends a buzz on
``.../cmd`` (``events``). The wearer's settings and actions (done, snooze, meeting...)
are applied as they arrive, each action once (``requests``). The analyzer's snapshot is
saved with the last packet it includes (``saves``), so a restarted worker restores it
and replays the packets the recorder stored since, and the running sitting bout goes on
from where it was instead of starting again from zero.

Several workers share a fleet through device leases in the store
(:mod:`ingest.ownership`): each analyses only the devices it holds, keeps the messages
of the others for a while, and takes over the devices of a worker that stopped renewing
its leases, from that device's saved snapshot on (docs/operations.md, *Several
workers*). A worker alone holds every device, and works as it always did. With
``WorkerSettings.subscribe`` ``"held"`` a worker subscribes only to the packets of the
devices it holds (``following``), finding devices by their retained status and in
the store, so that the broker sends each packet to one worker.

No message can stop the worker for every wearer. A packet whose analysis fails is
skipped, and a device that fails again and again is quarantined while the others go on
(``schedule``); a sequence number far below the last one analysed starts a new sequence
(``intake``); a device that sends far faster than real time (a forged client, a gateway
replaying at full speed) cannot starve the others (``flood``). Events are stored, then
published; each remembers in the store whether the broker acknowledged it, and a
restarted worker publishes those it had not. Devices not heard from for a while are
saved and let go of, and there are at most ``max_wearers`` in memory.

The package's parts: :class:`Worker` here; its settings (``settings``); what it keeps of
each wearer, and how its analysis is built or resumed from the store (``wearer``); each
device's packets taken in sequence order (``intake``); their analysis, gathered a few
packets a call (``schedule``); the flood budget and deferred packets (``flood``); the
subscriptions of a worker that follows only the devices it holds (``following``); events
stored, published and buzzed (``events``); the wearers' settings and actions
(``requests``); the saves of each wearer's status and snapshot (``saves``). ``sitless worker``
(:mod:`ingest.worker.cmd`) runs it from the command line.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections import Counter
from collections.abc import Callable

from ingest.errors import StoreError
from ingest.ownership import DeviceOwnership, Handover
from ingest.service import Message, MqttService
from ingest.store import Store, event_key
from ingest.tally import Tally, writer_id
from ingest.topics import Kind, subscription
from ingest.worker.events import EventSender
from ingest.worker.flood import FloodControl
from ingest.worker.following import HeldFollowing
from ingest.worker.intake import StreamIntake
from ingest.worker.requests import UserRequests
from ingest.worker.saves import StateSaver
from ingest.worker.schedule import AnalysisSchedule
from ingest.worker.settings import WorkerSettings
from ingest.worker.wearer import Wearer, restored

__all__ = ["Worker", "WorkerSettings"]

log = logging.getLogger(__name__)

SERVICE = "worker"
#: How often a flush looks over every wearer in memory for saves that fall due and for
#: wearers to let go of. Between two looks a flush touches only the wearers with packets
#: or events to handle, so that its cost follows the traffic, not the wearers held.
SCAN_EVERY_S = 0.2
#: Messages kept per device another worker holds, when subscribed only to the devices it
#: holds: the wearer's actions and settings (every worker hears them all), so that one
#: sent while the device's worker is dead is applied by the worker that takes it over.
HELD_STANDBY_MESSAGES = 16


class Worker(MqttService):
    """Streaming analysis for every device on the broker (see the module docstring).

    Args:
        settings: The worker's settings.
        clock: Monotonic wall-clock seconds, for save cadence and reorder waits (a
            benchmark replaying traffic faster than real time passes its own).
    """

    def __init__(self, settings: WorkerSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        # Subscribed only to the devices it holds, it follows each one's packets (self.following).
        imu = subscription(Kind.IMU, share_group=settings.share_group)
        every_imu = [] if settings.held_only else [(imu, 1)]
        super().__init__(
            settings.broker,
            settings.client_id,
            [
                *every_imu,
                (subscription(Kind.STATUS), 1),
                (subscription(Kind.ACTION), 1),
                (subscription(Kind.SETTINGS), 1),
            ],
            service=SERVICE,
        )
        self.settings = settings
        if settings.held_only:  # its session may keep the every-device filter of a run before
            self.stale_subscriptions = [subscription(Kind.IMU)]
        self.store = Store(settings.store_url)
        self.counts: Counter[tuple[str, str]] = Counter()
        self._wearers: dict[str, Wearer] = {}
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
        #: Devices that may have packets deferred, or events held (in order of work).
        self._busy: dict[str, None] = {}
        self.schedule = AnalysisSchedule(
            settings,
            wearers=self._wearers,
            busy=self._busy,
            events=self.events,
            counts=self.counts,
            metrics=self.metrics,
            clock=clock,
            save_soon=self._save_soon,
        )
        self.flood = FloodControl(
            settings,
            self.store,
            counts=self.counts,
            metrics=self.metrics,
            troubles=self.troubles,
            clock=clock,
            queue=self.schedule.queue,
        )
        self.metrics.read("sitless_held_packets", self._held_packets)
        self.metrics.read("sitless_wearers", lambda: len(self._wearers))
        #: The owner named in this worker's device leases.
        self.worker_id = settings.worker_id or f"{settings.client_id}@{socket.gethostname()}"
        # Counts held until the store has them, each added once (ingest.tally): the packets
        # the saved snapshots include, written with them (StateSaver), and the other counts.
        self._other_counts = Tally(SERVICE, writer_id(self.worker_id))
        self.ownership = DeviceOwnership(
            self.store,
            self.worker_id,
            lease_s=settings.lease_s,
            standby_messages=min(HELD_STANDBY_MESSAGES, settings.standby_messages)
            if settings.held_only
            else settings.standby_messages,
            max_standby_devices=settings.max_wearers,
            handover_after=settings.handover_after,
            handover_step=settings.handover_step,
            handover_cooldown_leases=settings.handover_cooldown_leases,
            clock=clock,
            find_in_store=settings.held_only,
        )
        # Messages of devices heard of for the first time, until flush claims them.
        self._unclaimed: dict[str, list[Message]] = {}
        #: Which devices' packets it follows, subscribed only to those it holds (else None).
        self.following = HeldFollowing(self.follow, self.unsubscribe, self._unclaimed) if settings.held_only else None
        self.intake = StreamIntake(
            settings,
            self.store,
            wearers=self._wearers,
            busy=self._busy,
            flood=self.flood,
            counts=self.counts,
            metrics=self.metrics,
            troubles=self.troubles,
            clock=clock,
            wearer=self._wearer,
            queue=self.schedule.queue,
            analyse=self.schedule.analyse,
            analyse_now=self._analyse_now,
        )
        self.requests = UserRequests(
            settings,
            self.store,
            schedule=self.schedule,
            counts=self.counts,
            troubles=self.troubles,
            clock=clock,
            wearer=self._wearer,
            analyse_now=self._analyse_now,
            save_soon=self._save_soon,
        )
        self.saver = StateSaver(
            settings,
            self.store,
            wearers=self._wearers,
            counts=Tally(SERVICE, writer_id(f"{self.worker_id}/snapshots")),
            ownership=self.ownership,
            worker_id=self.worker_id,
            clock=clock,
            lag_s=lambda: self.lag_s,
            failed=self.schedule.failed,
            take_over=self._take_over,
        )
        self._next_scan_s = -math.inf
        self._announced = False  # its leases taken before its first connection (connect)
        self.metrics.read("sitless_leases", lambda: len(self.ownership.held))
        self.metrics.read("sitless_standby_messages", self.ownership.standby_messages)

    def connect(self) -> None:
        """Take this worker's presence lease and its own leases of a run before, then connect.

        Workers started together are then all counted in the store before any of them
        hears a device, so that each claims its fair share from the first device on:
        otherwise the first to hear the fleet counts only itself and takes all it heard,
        and hand-overs even it out only a few devices at a time. A store that fails here
        is tried again at the first flush, as always.
        """
        if not self._announced:
            try:
                self._take_over(self.ownership.renew())
                self._announced = True
            except StoreError as err:
                log.warning("%s: no lease taken before connecting, the store failed: %s", self.client_id, err)
        super().connect()

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
                if not (self.settings.held_only and kind is Kind.IMU):  # held: its packets come from the store
                    self.ownership.keep(device_id, kind, m)
            else:
                self._unclaimed.setdefault(device_id, []).append(m)
            if self.following is not None and kind is Kind.IMU:
                self.following.stray(device_id)
            return
        if kind is Kind.IMU:
            self.intake.take(device_id, m)
        elif kind is Kind.STATUS:
            status = self.requests.on_status(device_id, m.payload)
            if self.following is not None:
                known, held = self.ownership.knows(device_id), self.ownership.holds(device_id)
                self.following.status(device_id, status, known=known, held=held)
        elif kind is Kind.ACTION:
            self.requests.on_action(device_id, m)
        elif kind is Kind.SETTINGS:
            self.requests.on_settings(device_id, m)

    def count(self, device_id: str, name: str) -> None:
        """Add one to a device's counter (:meth:`MqttService.count`)."""
        self.counts[(device_id, name)] += 1

    def _analyse_now(self, device_id: str, wearer: Wearer) -> None:
        """Analyse every packet of the device taken in, deferred ones too (an action or a save must see them)."""
        self.flood.release(device_id, wearer, force=True)
        self.schedule.analyse(device_id, wearer)

    def _idle(self) -> bool:
        """Whether no message waits to be handled: time to spare for deferred packets."""
        return self._inbox.empty()

    def _gathers(self) -> bool:
        """Whether queued packets may wait to be analysed with their device's next ones.

        They may in the message loop (:meth:`run`, :meth:`start`); a caller handing
        batches to :meth:`handle` itself has them analysed at once.
        """
        return self.settings.gather_s > 0 and self.looping

    def _analyse_all(self, *, gather: bool = False) -> None:
        """Analyse the devices' queued packets, after their deferred ones as far as their budget allows.

        Args:
            gather: Analyse only the devices whose gathered packets are ready
                (:meth:`AnalysisSchedule.analyse_ready`); the others wait for their next packets.
        """
        for device_id in list(self._busy):
            if (wearer := self._wearers.get(device_id)) is not None:
                self.flood.release(device_id, wearer)
        self.schedule.analyse_ready(gather=gather)

    def _save_soon(self, wearer: Wearer, *, snapshot: bool = True) -> None:
        """Have the next flush save the wearer's status, and its snapshot unless ``snapshot`` is off, due or not."""
        if snapshot:
            wearer.snapshot_saved_s = -math.inf
        else:
            wearer.status_saved_s = -math.inf
        self._next_scan_s = -math.inf

    # --- per-device state ---------------------------------------------------------------

    def _wearer(self, device_id: str, upto_seq: int | None = None) -> Wearer:
        """The device's analysis, restored from the store and caught up on first use.

        Packets the recorder stored after the saved snapshot, and before ``upto_seq``,
        are replayed first: they were received before a restart but not yet analysed.
        """
        wearer = self._wearers.get(device_id)
        if wearer is not None:
            return wearer
        wearer = restored(self.settings, self.store, device_id, status_placement=self.requests.placement(device_id))
        wearer.heard_s = self._clock()
        self._wearers[device_id] = wearer
        self._save_soon(wearer, snapshot=False)  # its first status
        replayed = self.intake.replay_stored(device_id, wearer, before_seq=upto_seq)
        if replayed:
            log.info("%s: replayed %d stored packets", device_id, replayed)
        return wearer

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

    def tick(self) -> None:
        """Give up on gaps that waited too long, and catch up on deferred packets (:meth:`FloodControl.catch_up`).

        While deferred packets are left and the worker has time to spare, the loop comes
        back at once rather than waiting for a message.
        """
        self.intake.tick()
        more = self.flood.catch_up(self._wearers, self._idle, self.schedule.analyse)  # to catch up on at once
        self.tick_s = 0.0 if more else self._idle_tick_s

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
                self.intake.settle(device_id, self._wearers[device_id])
                self._analyse_now(device_id, self._wearers[device_id])
        self._analyse_all(gather=not force and self._gathers())
        self._send_events()
        if scan or handing:
            self.saver.save(force=force, due=frozenset([*leaving, *handing]))
        self._hand_over(handing)
        let_go = []
        for device_id in leaving:
            wearer = self._wearers[device_id]
            if not wearer.dirty or wearer.quarantined:
                del self._wearers[device_id]
                self.counts[("*", "evicted")] += 1
                let_go.append(device_id)
        if self.following is not None:
            # It keeps following a device that went quiet, so as to hear it come back, unless
            # the device said it went offline: its status when it connects again is heard.
            let_go = self.following.to_release(let_go)
        self.ownership.release(let_go)
        if scan:  # saved: the next look is due in a while (a failed save is tried again at the next flush)
            self._next_scan_s = now + SCAN_EVERY_S
        late_s = self.schedule.next_late_s()
        if late_s is not None and self._gathers():  # the loop comes back when the oldest is due
            self.tick_s = min(self.tick_s, max(0.0, late_s - self._clock()))
        if self.following is not None:
            self.following.update(self.ownership.held)
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
        """Analyse the packets taken in order, save every device's state, disconnect and close the store (once)."""
        if self._closed:
            return
        self._closed = True
        super().close()
        for device_id, wearer in self._wearers.items():
            self.intake.settle(device_id, wearer)  # those after a gap wait in the store for the next run
            self._analyse_now(device_id, wearer)
        try:
            self.flush(force=True)  # analyses what is queued first
            self.ownership.release()  # another worker takes them over at once
        except StoreError:
            log.exception("the final save failed; a restarted worker replays the stored packets instead")
        self.store.close()
