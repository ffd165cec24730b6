"""What the gateway keeps and publishes of one sensor: its packets, numbered, and its status.

- **Number**: the packets go out under the gateway's own sequence numbers, which go on
  across restarts (``ingest.device_link.SequenceMemory``); a memory that cannot be read
  is read from its copy, and with both unreadable the numbers go on far past the highest
  known; a full disk that refuses its mark does not hold a packet back.
- **Keep, then publish**: every packet is written to the on-disk outbox
  (``ingest.outbox``) before it is published with QoS 1, and deleted when the broker
  acknowledges it. While the broker is away packets pile up on disk; a gateway that
  starts again publishes what is left first. The recorder stores a packet once per
  sequence number, so nothing is lost and nothing doubled. A damaged outbox is moved
  aside and an empty one started (``ingest.outbox.open_outbox``).
- **Status** (retained, ``ingest.payloads.DeviceStatus``): online while the sensor is
  connected, its rate, placement, battery where the sensor offers the Battery Service,
  RSSI from the scan, and the drift of its clock where it time-stamps its samples.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable

from ingest.device_link import DeviceLink, SequenceMemory
from ingest.errors import StoreError
from ingest.gateway.settings import GatewaySettings, SensorSpec
from ingest.outbox import Outbox
from ingest.packetizer import Packet, Packetizer
from ingest.payloads import Command, DeviceStatus
from ingest.service import RateLimitedLog

__all__ = ["SensorPublisher"]

log = logging.getLogger(__name__)


class SensorPublisher:
    """One sensor's packets and status on their way out (module docstring).

    :class:`ingest.gateway.sensor.Sensor` builds on it: it streams the sensor's samples
    into ``packetizer`` and keeps the status fields up to date.

    Args:
        spec: The sensor.
        settings: The gateway's settings.
        outbox: Where packets are kept until the broker acknowledges them.
        counts: The gateway's counters.
        on_command: Called with each command from the broker (paho's thread).
    """

    def __init__(
        self,
        spec: SensorSpec,
        settings: GatewaySettings,
        outbox: Outbox,
        counts: Counter[str],
        *,
        on_command: Callable[[Command], None],
    ) -> None:
        self.spec = spec
        self.device_id = spec.id
        self.settings = settings
        self.outbox = outbox
        self.counts = counts
        self.memory = SequenceMemory(settings.data_dir / "seq" / f"{self.device_id}.json")
        self.link = DeviceLink(
            self.device_id,
            settings.broker,
            client_id=f"sitless-gw-{self.device_id}",
            on_command=on_command,
            drain_timeout_s=settings.drain_timeout_s,
        )
        self.next_seq = 0
        self.rate_hz: float | None = None
        self.battery_pct: float | None = None
        self.rssi_dbm: float | None = None
        self.packetizer: Packetizer | None = None
        self._last_t_s = -math.inf  # the last sample sent, so that times never go back across connections
        self._troubles = RateLimitedLog(log)  # disk troubles come with every packet: one line per 10 s

    def _kept(self) -> list[tuple[int, bytes]]:
        """The packets an earlier run kept but the broker never acknowledged; none if they cannot be read."""
        try:
            return self.outbox.pending(self.device_id)
        except StoreError as err:
            self.counts["outbox_failures"] += 1
            log.warning(
                "%s: the packets kept from before cannot be read and are not published: %s", self.device_id, err
            )
            return []

    def _first_seq(self, left: list[tuple[int, bytes]]) -> int:
        """The first sequence number of this run, reserved; past every number known when the memory is unreadable.

        A sequence memory cut short (a power loss while an older gateway wrote it) or
        unreadable is read from its copy (``SequenceMemory.load``); with both unreadable
        nothing says which numbers were used: the gateway goes on far past the highest it
        knows of (``SequenceMemory.recover``), so that none is used twice; the worker sees
        a gap.
        """
        try:
            first = self.memory.load()
            if self.memory.from_copy is not None:
                self.counts["seq_memory_failures"] += 1
                log.warning(
                    "%s: %s; going on from its copy, sequence number %d", self.device_id, self.memory.from_copy, first
                )
            return self._reserved(first)
        except (ValueError, OSError) as err:
            known = left[-1][0] + 1 if left else 0
            first = self.memory.recover(known)
            self.counts["seq_memory_failures"] += 1
            log.warning(
                "%s: %s; going on from sequence number %d, %d past the highest known (%s), so that no number is "
                "used twice",
                self.device_id,
                err,
                first,
                self.memory.RECOVERY_JUMP,
                f"{known - 1}, in the outbox" if left else "none",
            )
            return self._reserved(first)

    def _reserved(self, seq: int) -> int:
        """Reserve ``seq`` in the sequence memory; a disk that refuses is counted and logged, not raised.

        ``SequenceMemory.reserve`` writes the next mark half a block ahead and tries
        again with every number; the packet goes out meanwhile (``SequenceMemory``
        says what stays safe while the disk is full).
        """
        try:
            self.memory.reserve(seq)
        except OSError as err:
            self.counts["seq_memory_failures"] += 1
            self._troubles.warning(
                "seq",
                "%s: cannot save the sequence numbers reserved in %s (%s): packets go on, the write is tried again",
                self.device_id,
                self.memory.path,
                err,
            )
        return seq

    def _replay(self, left: list[tuple[int, bytes]]) -> None:
        """Publish the packets an earlier run kept but the broker never acknowledged."""
        for seq, payload in left:
            self._publish(seq, payload)
        if left:
            log.info("%s: publishing %d packets kept from before", self.device_id, len(left))
            self.next_seq = max(self.next_seq, left[-1][0] + 1)

    def _send(self, packets: list[Packet]) -> None:
        for packet in packets:
            try:
                self.outbox.put(self.device_id, packet.seq, packet.payload)
            except StoreError as err:  # a full disk: the packet still goes out, unkept
                self.counts["outbox_failures"] += 1
                self._troubles.warning("outbox", "%s: %s", self.device_id, err)
            self._reserved(packet.seq)
            self.next_seq = packet.seq + 1
            self._publish(packet.seq, packet.payload)

    def _publish(self, seq: int, payload: bytes) -> None:
        device_id, outbox = self.device_id, self.outbox

        def acked() -> None:
            try:
                outbox.ack(device_id, seq)
            except StoreError as err:  # published again after a restart; the recorder stores it once
                log.warning("%s: %s", device_id, err)

        self.link.publish_packet(payload, on_acked=acked)
        self.counts["packets"] += 1

    def _flush(self) -> None:
        if self.packetizer is not None:
            self._send(self.packetizer.flush())
            self._last_t_s = self.packetizer.last_t_s
            self.packetizer = None

    def _status(self, *, online: bool) -> DeviceStatus:
        drift = None if self.packetizer is None else self.packetizer.clock.drift_ppm
        return DeviceStatus(
            online=online,
            battery_pct=self.battery_pct,
            rate_hz=self.rate_hz,
            placement=self.spec.placement,
            t_s=round(time.time(), 3),
            rssi_dbm=self.rssi_dbm,
            clock_drift_ppm=None if drift is None else round(drift, 1),
        )

    def _publish_status(self, *, online: bool) -> None:
        self.link.publish_status(self._status(online=online))
