"""The analysis worker: runs the streaming analysis for every wearer it hears.

For each device it keeps one :class:`analysis.Analyzer`, fed with the samples of each
packet in sequence order. Events go to the store and to ``.../event``; a sit-too-long
alert also sends a buzz on ``.../cmd``. User actions (done, snooze, meeting) arrive on
``.../action``. The analyzer's snapshot is saved with the last packet it includes, so a
restarted worker restores it and replays the packets the recorder stored since, and the
running sitting bout goes on from where it was instead of starting again from zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analysis import AlertPolicy, AnalysisSettings, Analyzer, Event, Placement, SlouchPolicy, UserAction
from ingest.codec import Batch, decode
from ingest.errors import PacketError, StoreError
from ingest.mqtt import BrokerAddress
from ingest.policy_args import add_policy_arguments, alert_policy, slouch_policy
from ingest.service import Message, MqttService, add_service_arguments, by_device, serve
from ingest.store import DEFAULT_STORE_URL, StateRow, Store
from ingest.topics import Kind, subscription, topic

__all__ = ["Worker", "WorkerSettings", "local_utc_offset_h", "register", "run", "working_hours"]

log = logging.getLogger(__name__)

SERVICE = "worker"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What the worker needs.

    Attributes:
        broker: The MQTT broker.
        store_url: The store (raw batches for replay, events and state).
        client_id: MQTT client id; the broker keeps the session under it.
        placement: Placement assumed for a device until its status names one.
        policy: The sit-too-long alert policy.
        slouch: Slouch time and nudges of chest and upper-back sensors.
        share_group: MQTT 5 shared-subscription group spreading devices over workers
            (mosquitto, EMQX, HiveMQ; amqtt grants but does not deliver them).
        status_every_s: Most wall-clock seconds between two saves of a device's live
            status (what the dashboard shows).
        snapshot_every_s: Most wall-clock seconds between two saves of a device's
            analysis snapshot, and so the most analysis a crash can cost; the packets of
            that time are replayed from the store on restart. A snapshot is also saved
            at once after an alert or a user action. Snapshots cost about half of the
            worker's time when saved with every packet (docs/performance.md).
        reorder_wait_s: How long (wall clock) packets after a gap wait for the missing
            ones, which a wearable resending its queue after a reconnect may deliver late.
        reorder_max_packets: Most packets held while waiting (2,400 is 20 min at 50 Hz
            in 25-sample packets); past it, or past ``reorder_wait_s``, the gap is skipped.
    """

    broker: BrokerAddress = field(default_factory=BrokerAddress)
    store_url: str = DEFAULT_STORE_URL
    client_id: str = "sitless-worker"
    placement: Placement = Placement.THIGH
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    slouch: SlouchPolicy = field(default_factory=SlouchPolicy)
    share_group: str | None = None
    status_every_s: float = 1.0
    snapshot_every_s: float = 10.0
    reorder_wait_s: float = 1.0
    reorder_max_packets: int = 2400

    def __post_init__(self) -> None:
        if self.status_every_s < 0 or self.snapshot_every_s < 0:
            raise ValueError("status_every_s and snapshot_every_s must be >= 0")
        if self.reorder_wait_s < 0 or self.reorder_max_packets < 0:
            raise ValueError("reorder_wait_s and reorder_max_packets must be >= 0")


@dataclass(slots=True)
class _Wearer:
    analyzer: Analyzer
    placement: Placement
    seq: int = -1
    dirty: bool = False  # analysed packets or actions not yet in the saved status
    status_saved_s: float = -math.inf
    snapshot_saved_s: float = -math.inf
    # Packets that came after a gap, by seq, and when the first of them arrived.
    pending: dict[int, Batch] = field(default_factory=dict)
    pending_since_s: float = 0.0
    # Events of analysed packets and actions, not yet stored and published.
    outbox: list[dict[str, Any]] = field(default_factory=list)


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
            ],
        )
        self.settings = settings
        self.store = Store(settings.store_url)
        self.counts: Counter[tuple[str, str]] = Counter()
        self._wearers: dict[str, _Wearer] = {}
        self._placements: dict[str, Placement] = {}
        self._clock = clock

    # --- message handling -----------------------------------------------------------

    def absorb(self, messages: list[Message]) -> None:
        """Analyse a batch of packets and apply actions; their events wait for :meth:`flush`."""
        for device_id, kind, m in by_device(messages):
            if kind is Kind.IMU:
                self._on_packet(device_id, m)
            elif kind is Kind.STATUS:
                self._on_status(device_id, m.payload)
            elif kind is Kind.ACTION:
                self._on_action(device_id, m.payload)

    def _on_packet(self, device_id: str, m: Message) -> None:
        try:
            batch = decode(m.payload)
        except PacketError as err:
            self.counts[(device_id, "bad_packets")] += 1
            log.warning("bad packet on %s: %s", m.topic, err)
            return
        wearer = self._wearer(device_id, upto_seq=batch.seq)
        if batch.seq <= wearer.seq or batch.seq in wearer.pending:
            self.counts[(device_id, "duplicates")] += 1
            return
        if batch.seq == wearer.seq + 1 or wearer.seq < 0:
            self._feed(device_id, wearer, batch)
            self._feed_pending(device_id, wearer, skip_gaps=False)
            return
        if not wearer.pending:
            wearer.pending_since_s = self._clock()
        wearer.pending[batch.seq] = batch
        if len(wearer.pending) > self.settings.reorder_max_packets:
            self._feed_pending(device_id, wearer, skip_gaps=True)

    def _feed_pending(self, device_id: str, wearer: _Wearer, *, skip_gaps: bool) -> None:
        """Feed held packets in order: those that follow on, or all of them past a gap."""
        while wearer.pending:
            nxt = min(wearer.pending)
            if nxt != wearer.seq + 1:
                if not skip_gaps:
                    return
                self.counts[(device_id, "gaps_skipped")] += 1
                log.info("%s: packets %d..%d did not arrive; going on without them", device_id, wearer.seq + 1, nxt - 1)
            self._feed(device_id, wearer, wearer.pending.pop(nxt))
            wearer.pending_since_s = self._clock()

    def _feed(self, device_id: str, wearer: _Wearer, batch: Batch) -> None:
        events = wearer.analyzer.update(batch.times_s(), batch.acc_g())
        wearer.seq = batch.seq
        wearer.dirty = True
        self.counts[(device_id, "packets")] += 1
        self._emit(device_id, wearer, events)

    def _on_status(self, device_id: str, payload: bytes) -> None:
        try:
            placement = Placement(json.loads(payload)["placement"])
        except (ValueError, KeyError, TypeError):
            return  # statuses without a (known) placement leave the default in force
        self._placements[device_id] = placement

    def _on_action(self, device_id: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
            action = UserAction(body["action"])
        except (ValueError, KeyError, TypeError) as err:
            self.counts[(device_id, "bad_actions")] += 1
            log.warning("bad action for %s: %r (%s)", device_id, payload[:100], err)
            return
        wearer = self._wearer(device_id)
        log.info("action %s for %s", action, device_id)
        self._emit(device_id, wearer, wearer.analyzer.act(action))
        wearer.dirty = True
        wearer.snapshot_saved_s = -math.inf  # save the state with the action in it right away

    # --- per-device state ---------------------------------------------------------------

    def _wearer(self, device_id: str, upto_seq: int | None = None) -> _Wearer:
        """The device's analysis, restored from the store and caught up on first use.

        Packets the recorder stored after the saved snapshot, and before ``upto_seq``,
        are replayed first: they were received before a restart but not yet analysed.
        """
        wearer = self._wearers.get(device_id)
        if wearer is not None:
            return wearer
        wearer = self._restored(device_id)
        self._wearers[device_id] = wearer
        replayed = 0
        for row in self.store.batches(device_id, after_seq=wearer.seq):
            if upto_seq is not None and row.seq >= upto_seq:
                break
            try:
                self._feed(device_id, wearer, decode(row.payload))
            except PacketError:
                continue  # the recorder stores only packets that decoded
            replayed += 1
        if replayed:
            log.info("%s: replayed %d stored packets", device_id, replayed)
        return wearer

    def _restored(self, device_id: str) -> _Wearer:
        """The device's saved analysis, or a fresh one when there is none or it cannot be used.

        The placement is the one the device's status names, else the one the saved state
        was for, else the default. A snapshot of an older analysis version (after an
        upgrade) or of another placement cannot be resumed: the analysis starts afresh
        with the packets stored after it.
        """
        saved = self.store.load_state(device_id)
        saved_placement = None if saved is None else saved.status.get("placement")
        placement = self._placements.get(device_id) or (
            Placement(saved_placement) if saved_placement in set(Placement) else self.settings.placement
        )
        analysis_settings = AnalysisSettings(
            placement=placement, policy=self.settings.policy, slouch=self.settings.slouch
        )
        if saved is None or not saved.snapshot:
            return _Wearer(Analyzer(analysis_settings), placement)
        try:
            analyzer = Analyzer.restore(analysis_settings, saved.snapshot)
        except (ValueError, KeyError, TypeError) as err:
            log.warning("%s: saved analysis state not usable (%s); starting afresh", device_id, err)
            return _Wearer(Analyzer(analysis_settings), placement, seq=saved.seq)
        log.info("%s: resumed analysis after packet %d", device_id, saved.seq)
        return _Wearer(analyzer, placement, seq=saved.seq)

    def _emit(self, device_id: str, wearer: _Wearer, events: list[Event]) -> None:
        """Hold new events for :meth:`flush`."""
        wearer.outbox.extend(e.to_dict() for e in events)

    def _send_events(self) -> None:
        """Store held events, publish the new ones, and buzz the wearable on an alert or a slouch nudge."""
        for device_id, wearer in self._wearers.items():
            if not wearer.outbox:
                continue
            new = self.store.add_events(device_id, wearer.outbox)  # a StoreError keeps them held
            bodies, wearer.outbox = wearer.outbox, []
            for body, is_new in zip(bodies, new, strict=True):
                if not is_new:
                    continue  # already stored and published before a restart
                self.client.publish(topic(device_id, Kind.EVENT), json.dumps(body), qos=1)
                if body["kind"] == "alert":
                    self._alert(device_id, body)
                    wearer.snapshot_saved_s = -math.inf  # save the state with the alert in it right away
                elif body["kind"] == "slouch_nudge":
                    self._buzz(device_id, pattern="short", reason="slouch")
                    self.counts[(device_id, "slouch_nudges")] += 1

    def _alert(self, device_id: str, alert: dict[str, Any]) -> None:
        minutes = (alert["t_s"] - alert["sitting_since_s"]) / 60
        log.info(
            "sit-too-long alert for %s: sitting for %.0f min, suggested stretch %s",
            device_id,
            minutes,
            alert.get("stretch_id"),
        )
        self._buzz(device_id, pattern="long", reason=alert["alert"], stretch_id=alert.get("stretch_id"))
        self.counts[(device_id, "alerts")] += 1

    def _buzz(self, device_id: str, **fields: Any) -> None:
        """Send the wearable a buzz command (docs/protocol.md, ``cmd``) with these fields."""
        self.client.publish(topic(device_id, Kind.CMD), json.dumps({"cmd": "buzz", **fields}), qos=1)

    def _save(self, *, force: bool = False) -> None:
        """Save, in one transaction, the status and snapshots that are due (all with ``force``)."""
        now = self._clock()
        rows: list[StateRow] = []
        saved: list[tuple[_Wearer, bool]] = []
        for device_id, wearer in self._wearers.items():
            snapshot_due = force or now - wearer.snapshot_saved_s >= self.settings.snapshot_every_s
            status_due = snapshot_due or now - wearer.status_saved_s >= self.settings.status_every_s
            if not wearer.dirty or not status_due:
                continue
            status = wearer.analyzer.status().to_dict()
            policy = self.settings.policy
            status.update(
                max_sitting_s=policy.max_sitting_s,
                slouch_deg=self.settings.slouch.slouch_deg,
                working_hours=None if policy.working_hours is None else list(policy.working_hours),
                utc_offset_h=policy.utc_offset_h,
                placement=str(wearer.placement),
            )
            snapshot = wearer.analyzer.snapshot() if snapshot_due else None
            rows.append(StateRow(device_id, wearer.seq, snapshot, status))
            saved.append((wearer, snapshot_due))
        if not rows:
            return
        self.store.save_states(rows)  # a StoreError leaves every wearer due, to be saved next time
        for wearer, snapshot_saved in saved:
            wearer.status_saved_s = now
            if snapshot_saved:
                wearer.snapshot_saved_s = now
                wearer.dirty = False

    def tick(self) -> None:
        """Give up on gaps that waited too long: analyse the packets held after them."""
        now = self._clock()
        for device_id, wearer in self._wearers.items():
            if wearer.pending and now - wearer.pending_since_s >= self.settings.reorder_wait_s:
                self._feed_pending(device_id, wearer, skip_gaps=True)

    def flush(self, *, force: bool = False) -> None:
        """Store and send held events, then save the due states (all with ``force``) and the counts.

        Events go first, so a saved snapshot never includes events that were not stored:
        after a crash the replay of stored packets makes them again.
        """
        self._send_events()
        self._save(force=force)
        if self.counts:
            self.store.add_counts(SERVICE, dict(self.counts))
            self.counts.clear()

    def close(self) -> None:
        """Analyse held packets, save every device's state, disconnect and close the store."""
        super().close()
        for device_id, wearer in self._wearers.items():
            self._feed_pending(device_id, wearer, skip_gaps=True)
        try:
            self.flush(force=True)
        except StoreError:
            log.exception("the final save failed; a restarted worker replays the stored packets instead")
        self.store.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``worker`` subcommand."""
    p = sub.add_parser("worker", help="analyse every wearer live: postures, sitting bouts, alerts")
    add_service_arguments(p, client_id="sitless-worker")
    p.add_argument(
        "--placement",
        choices=[str(p) for p in Placement],
        default="thigh",
        help="placement assumed until a device's status names one (default thigh)",
    )
    add_policy_arguments(p)
    p.add_argument(
        "--working-hours",
        type=working_hours,
        metavar="START-END",
        help="raise alerts only between these local clock hours, e.g. 9-17 or 8:30-17:30 (default: any time)",
    )
    p.add_argument("--share-group", help="MQTT 5 shared-subscription group (mosquitto, EMQX, HiveMQ)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the worker until SIGINT or SIGTERM; 2 for option values out of range."""
    try:
        policy = alert_policy(args, working_hours=args.working_hours, utc_offset_h=local_utc_offset_h())
        slouch = slouch_policy(args)
    except ValueError as err:
        print(f"sitless worker: {err}", file=sys.stderr)
        return 2
    settings = WorkerSettings(
        broker=BrokerAddress.parse(args.broker),
        store_url=args.store,
        client_id=args.client_id,
        placement=Placement(args.placement),
        policy=policy,
        slouch=slouch,
        share_group=args.share_group,
    )
    return serve(Worker(settings))  # the worker saves every device's state as it closes


def working_hours(text: str) -> tuple[float, float]:
    """Parse ``START-END`` local clock hours (``9-17``, ``8:30-17:30``) into hours as floats.

    >>> working_hours("8:30-17")
    (8.5, 17.0)

    Raises:
        argparse.ArgumentTypeError: Not two clock times, or the same time twice.
    """

    def hour(part: str) -> float:
        hh, _, mm = part.strip().partition(":")
        h, m = int(hh), int(mm or 0)
        if not (0 <= h <= 24 and 0 <= m < 60 and h * 60 + m <= 24 * 60):
            raise ValueError(part)
        return h + m / 60.0

    try:
        start, end = (hour(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START-END clock hours such as 9-17 or 8:30-17:30, got {text!r}"
        ) from None
    if start == end or start >= 24.0:
        raise argparse.ArgumentTypeError(
            f"working hours must start before 24:00 and end at another hour, e.g. 9-17, got {text!r}"
        )
    return start, end


def local_utc_offset_h() -> float:
    """This machine's current offset from UTC in hours (its local time zone, now)."""
    offset = datetime.now().astimezone().utcoffset()
    return 0.0 if offset is None else offset.total_seconds() / 3600.0
