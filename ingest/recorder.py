"""The recorder: stores every raw IMU packet and every device status it receives.

Writes are idempotent on ``(device_id, seq)``: a QoS 1 redelivery is counted as a
duplicate and stored once. A packet lost between the wearable and the broker (e.g. a
missed BLE notification) leaves a gap in the sequence numbers: a packet that skips ahead
is counted as a gap when it arrives, one older than the newest is counted as late, and
the store derives what is still missing from what it holds (:meth:`Store.gaps`). A
payload the codec rejects is counted and skipped. Packets are acknowledged to the broker
only after the transaction that stores them has committed; while the store fails they
are held and written again (:mod:`ingest.service`).

Several recorders share a fleet's packets through an MQTT 5 shared subscription
(``share_group``): the broker gives each packet to one of them. Storing is the same,
since writes are idempotent and need no order, but no recorder sees all of a device's
sequence numbers then, so gaps and late packets are not counted as they arrive; the
store still derives what is missing (:meth:`Store.gaps`). Statuses are few and
retained, which a shared subscription does not deliver: every recorder takes every one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from ingest.codec import decode
from ingest.errors import PacketError, PayloadError, StoreError, TopicError
from ingest.metrics import metrics_endpoint
from ingest.mqtt import BrokerAddress, check_share_group
from ingest.payloads import DeviceStatus
from ingest.service import Message, MqttService, add_service_arguments, serve
from ingest.store import DEFAULT_STORE_URL, BatchRow, Store
from ingest.tally import Tally, writer_id
from ingest.topics import Kind, subscription

__all__ = ["Recorder", "RecorderSettings", "RecorderStats", "register", "run"]

log = logging.getLogger(__name__)

SERVICE = "recorder"
#: Devices whose last sequence number is kept in memory for counting gaps (the rest are
#: read from the store again when they next send).
MAX_TRACKED_DEVICES = 10_000


@dataclass(frozen=True, slots=True)
class RecorderSettings:
    """What the recorder needs.

    Attributes:
        broker: The broker.
        store_url: The store.
        client_id: Its MQTT client id; the broker keeps its session under it.
        share_group: MQTT 5 shared-subscription group of the recorders sharing a fleet's
            packets (module docstring); None: this recorder takes every packet.

    Raises:
        ValueError: ``share_group`` is not a valid group name, or the broker speaks
            MQTT 3.1.1 (amqtt), which has no shared subscriptions: it grants them and
            delivers nothing (STACK.md), which would lose every packet.
    """

    broker: BrokerAddress = field(default_factory=BrokerAddress)
    store_url: str = DEFAULT_STORE_URL
    client_id: str = "sitless-recorder"
    share_group: str | None = None

    def __post_init__(self) -> None:
        if self.share_group is None:
            return
        try:
            subscription(Kind.IMU, share_group=self.share_group)
        except TopicError as err:
            raise ValueError(str(err)) from err
        check_share_group(self.broker, self.share_group)


@dataclass(slots=True)
class RecorderStats:
    """Counts since start: stored packets, duplicates, bad packets, gaps and late packets, statuses."""

    stored: int = 0
    duplicates: int = 0
    bad_packets: int = 0
    gaps: int = 0
    late: int = 0
    statuses: int = 0
    per_device: Counter[tuple[str, str]] = field(default_factory=Counter)


class Recorder(MqttService):
    """Stores raw packets and device statuses (see the module docstring)."""

    def __init__(self, settings: RecorderSettings) -> None:
        super().__init__(
            settings.broker,
            settings.client_id,
            [(subscription(Kind.IMU, share_group=settings.share_group), 1), (subscription(Kind.STATUS), 1)],
            manual_ack=True,
            service=SERVICE,
        )
        self.settings = settings
        # Sharing the packets with other recorders, it sees only some of a device's numbers.
        self._counts_gaps = settings.share_group is None
        if not self._counts_gaps:  # its session may keep the every-device filter of a run before
            self.stale_subscriptions = [subscription(Kind.IMU)]
        self.store = Store(settings.store_url)
        self.stats = RecorderStats()
        self._last_seq: OrderedDict[str, int] = OrderedDict()
        # Taken in, not yet written: packets, the latest status per device, counts.
        self._rows: list[BatchRow] = []
        # The packets of a write that failed: its commit may have landed with the answer
        # lost, and then a packet found already stored on the next try was stored by it.
        self._unsure: set[tuple[str, int]] = set()
        self._statuses: dict[str, dict[str, object]] = {}
        self._unsaved: Counter[tuple[str, str]] = Counter()
        # Counts being written: each batch is added once, whatever the retries (ingest.tally).
        self._tally = Tally(SERVICE, writer_id(settings.client_id))
        self._closed = False

    def _count(self, device_id: str, name: str, n: int = 1) -> None:
        self._unsaved[(device_id, name)] += n
        self.stats.per_device[(device_id, name)] += n
        self.metrics.add(name, n)
        if name == "bad_packets":
            self.stats.bad_packets += n

    def count(self, device_id: str, name: str) -> None:
        """Add one to a device's counter (:meth:`MqttService.count`)."""
        self._count(device_id, name)

    def absorb(self, messages: list[Message]) -> None:
        """Decode a batch of messages and hold the packets and statuses for :meth:`flush`.

        A message that cannot be handled is counted and skipped.
        """
        self.handle_each(messages, self._take)

    def _take(self, device_id: str, kind: Kind, m: Message) -> None:
        if kind is Kind.STATUS:
            self._take_status(device_id, m.payload)
        else:
            self._take_packet(device_id, m)

    def _take_packet(self, device_id: str, m: Message) -> None:
        self.metrics.add("sitless_packets_received")
        try:
            batch = decode(m.payload)
        except PacketError as err:
            self._count(device_id, "bad_packets")
            self.troubles.warning(f"bad:{device_id}", "bad packet on %s: %s", m.topic, err)
            return
        self._rows.append(BatchRow.of_packet(device_id, batch, m.payload))

    def _take_status(self, device_id: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            status = DeviceStatus.parse(payload).to_dict()
        except PayloadError as err:
            self._count(device_id, "bad_status")
            self.troubles.warning(f"status:{device_id}", "bad status from %s: %s", device_id, err)
            return
        self._statuses[device_id] = status  # the store keeps only the latest

    def flush(self) -> None:
        """Store the held packets in one transaction, then the statuses, then the counts.

        Each part is let go of once written, so a retry after a failure writes the rest;
        the counts of a write whose answer was lost are not added again (:mod:`ingest.tally`).
        A packet of a failed write that the next try finds already stored counts as
        stored, once: the failed write's commit stored it and only its answer was lost
        (docs/storage.md, *Lost answers*).
        """
        if self._rows:
            if self._counts_gaps:
                self._recall_last_seqs()
            try:
                added = self.store.add_batches(self._rows)
            except StoreError:
                self._unsure.update((row.device_id, row.seq) for row in self._rows)
                raise
            unsure, self._unsure = self._unsure, set()
            for row, new in zip(self._rows, added, strict=True):
                key = (row.device_id, row.seq)
                if new or key in unsure:  # stored now, or by the failed write
                    unsure.discard(key)
                    self.stats.stored += 1
                    self._count(row.device_id, "stored")
                    self.metrics.add("sitless_samples_received", row.n)
                    if self._counts_gaps:
                        self._note_seq(row.device_id, row.seq)
                else:
                    self.stats.duplicates += 1
                    self._count(row.device_id, "duplicates")
            self._rows = []
            while len(self._last_seq) > MAX_TRACKED_DEVICES:
                self._last_seq.popitem(last=False)
        if self._statuses:
            self.store.set_device_statuses(self._statuses)  # one transaction (Store.set_device_statuses)
            self.stats.statuses += len(self._statuses)
            self._statuses.clear()
        self._tally.hold(self._unsaved)
        self._unsaved.clear()
        if self._tally.held:
            self.store.add_counts(self._tally)
            self._tally.written()

    def _recall_last_seqs(self) -> None:
        """Read the last stored sequence number of each device new to memory, before the write that changes it."""
        for row in self._rows:
            if row.device_id not in self._last_seq:
                before = self.store.max_seq(row.device_id, below=row.seq)
                self._last_seq[row.device_id] = row.seq - 1 if before is None else before
            self._last_seq.move_to_end(row.device_id)

    def _note_seq(self, device_id: str, seq: int) -> None:
        """Count a gap when a packet skips sequence numbers, and a late packet that fills one."""
        last = self._last_seq[device_id]
        if seq < last:
            self.stats.late += 1
            self._count(device_id, "late")
        elif seq > last + 1:
            self.stats.gaps += 1
            self._count(device_id, "gaps")
            log.info("gap on %s: packets %d..%d missing", device_id, last + 1, seq - 1)
        self._last_seq[device_id] = max(last, seq)

    def close(self) -> None:
        """Stop, disconnect and close the store (once)."""
        if self._closed:
            return
        self._closed = True
        super().close()
        self.store.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``recorder`` subcommand."""
    p = sub.add_parser("recorder", help="store raw IMU packets and device statuses")
    add_service_arguments(p, client_id="sitless-recorder")
    p.add_argument(
        "--share-group",
        help="MQTT 5 shared-subscription group of several recorders sharing the packets, each stored by one"
        " (mosquitto, EMQX, HiveMQ; not amqtt); gaps are then not counted as they arrive",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the recorder until SIGINT or SIGTERM; 2 for a share group it cannot use."""
    broker = BrokerAddress.parse(args.broker)  # a bad URL is the CLI's one-line error (status 1)
    try:
        settings = RecorderSettings(broker, args.store, args.client_id, args.share_group)
    except ValueError as err:
        print(f"sitless recorder: {err}", file=sys.stderr)
        return 2
    return serve(Recorder(settings), metrics_endpoint(args))
