"""What the gateway keeps and publishes of one sensor: its packets, numbered, and its status.

- **Number**: the packets go out under the gateway's own sequence numbers, which go on
  across restarts (``ingest.device_link.SequenceMemory``); a memory that cannot be read
  is read from its copy, and with both unreadable the numbers go on far past the highest
  known; a full disk that refuses its mark does not hold a packet back.
- **Keep, then publish**: every packet is written to the on-disk outbox
  (``ingest.outbox``) before it is published with QoS 1, and deleted when the broker
  acknowledges it. The recorder stores a packet once per sequence number, so nothing
  is lost and nothing doubled. A damaged outbox is moved aside and an empty one
  started (``ingest.outbox.open_outbox``).
- **A bounded window**: a packet is handed to the MQTT client only while the link is
  up and fewer than ``GatewaySettings.publish_window`` packets await their
  acknowledgement. Otherwise the publisher falls *behind*: new packets stay on disk
  only (counted as ``kept_behind``), so that an outage of hours fills the disk, not the
  client's memory. While behind and connected it *catches up*: it reads the outbox
  page by page in sequence order, from past the last packet it handed over, and hands
  the packets over up to the window; once every kept packet is handed it is *live*
  again. So packets reach the broker in sequence order, live ones never overtaking
  kept ones (the worker holds packets that come out of order). A gateway starts behind:
  what an earlier run left in the outbox goes first, through the same catch-up. The
  catch-up runs on the event loop's thread, like everything else here but the
  acknowledgements: after each new packet, once a second (:meth:`SensorPublisher.keep_up`),
  and when acknowledgements (on the MQTT client's thread) have freed half the window.
  A packet the outbox refuses (a full disk) cannot wait there: it is handed over at
  once, out of turn and past the window if need be, rather than lost.
- **Status** (retained, ``ingest.payloads.DeviceStatus``): online while the sensor is
  connected, its rate, placement, battery where the sensor offers the Battery Service,
  RSSI from the scan, and the drift of its clock where it time-stamps its samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
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

__all__ = ["CATCH_UP_EVERY_S", "SensorPublisher"]

log = logging.getLogger(__name__)

#: Seconds between the catch-up's own tries while behind: it picks up a link that came
#: back with no sensor streaming and no acknowledgement to wake it.
CATCH_UP_EVERY_S = 1.0


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
        self._loop: asyncio.AbstractEventLoop | None = None  # the stream's (set as it runs): for the acks' wake-ups
        self._behind = True  # the kept packets first (module docstring)
        self._handed: int | None = None  # the last kept packet handed to the MQTT client, in sequence order
        self._closing = False
        self._flight = threading.Lock()  # acknowledgements come on the MQTT client's thread
        self._in_flight = 0

    @property
    def packets_in_flight(self) -> int:
        """Packets handed to the MQTT client that the broker has not acknowledged yet."""
        with self._flight:
            return self._in_flight

    @property
    def behind(self) -> bool:
        """Whether new packets stay on disk only, until the kept ones are handed over (module docstring)."""
        return self._behind

    def _kept(self) -> int | None:
        """The highest sequence number an earlier run kept, not acknowledged; None if none or unreadable."""
        try:
            return self.outbox.last_seq(self.device_id)
        except StoreError as err:
            self.counts["outbox_failures"] += 1
            log.warning("%s: the packets kept from before cannot be read: %s", self.device_id, err)
            return None

    def _first_seq(self, last_kept: int | None) -> int:
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
            known = 0 if last_kept is None else last_kept + 1
            first = self.memory.recover(known)
            self.counts["seq_memory_failures"] += 1
            log.warning(
                "%s: %s; going on from sequence number %d, %d past the highest known (%s), so that no number is "
                "used twice",
                self.device_id,
                err,
                first,
                self.memory.RECOVERY_JUMP,
                "none" if last_kept is None else f"{last_kept}, in the outbox",
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

    def _resume(self, last_kept: int | None) -> None:
        """Go on past the packets an earlier run kept; the catch-up publishes them first."""
        if last_kept is not None:
            log.info("%s: publishing the packets kept from before first", self.device_id)
            self.next_seq = max(self.next_seq, last_kept + 1)

    def _send(self, packets: list[Packet]) -> None:
        """Keep each packet, then hand it to the MQTT client if live and the window allows, else leave it on disk."""
        for packet in packets:
            try:
                self.outbox.put(self.device_id, packet.seq, packet.payload)
                kept = True
            except StoreError as err:  # a full disk: the packet still goes out, unkept
                kept = False
                self.counts["outbox_failures"] += 1
                self._troubles.warning("outbox", "%s: %s", self.device_id, err)
            self._reserved(packet.seq)
            self.next_seq = packet.seq + 1
            if not kept:
                self._publish(packet.seq, packet.payload, kept=False)
            elif not self._behind and self._room() > 0:
                self._publish(packet.seq, packet.payload)
                self._handed = packet.seq
            else:
                if not self._behind:
                    log.info(
                        "%s: %s: packets wait on disk",
                        self.device_id,
                        "the broker is away" if not self.link.connected else "the broker is slow",
                    )
                self._behind = True
                self.counts["kept_behind"] += 1
        self._catch_up()

    def _room(self) -> int:
        """How many more packets may be handed to the MQTT client now: none while its link is down.

        The packets handed before a drop wait in the client, which sends them again when
        the link is back; it reports the link up just before, so one of the catch-up's
        may now and then go first (the worker holds packets that come out of order).
        """
        return self.settings.publish_window - self.packets_in_flight if self.link.connected else 0

    def _catch_up(self) -> None:
        """While behind, hand the kept packets over in sequence order up to the window; live once all are.

        Runs on the event loop's thread (module docstring), so no packet is kept between
        reading a page and going live. An outbox that cannot be read is given up on: the
        packets past the last one handed stay on disk for the next start, and new ones
        are published live.
        """
        while self._behind and not self._closing and (room := self._room()) > 0:
            try:
                page = self.outbox.pending(self.device_id, after_seq=self._handed, limit=room)
            except StoreError as err:
                self.counts["outbox_failures"] += 1
                log.warning(
                    "%s: the kept packets cannot be read (%s): those past %s stay on disk; new ones are published",
                    self.device_id,
                    err,
                    "none" if self._handed is None else f"sequence number {self._handed}",
                )
                self._behind = False
                return
            for seq, payload in page:
                self._publish(seq, payload)
                self._handed = seq
            if len(page) < room:
                self._behind = False
                log.info("%s: every kept packet handed to the broker: publishing live", self.device_id)

    async def keep_up(self, stop: asyncio.Event) -> None:
        """Try the catch-up every :data:`CATCH_UP_EVERY_S` until ``stop``: a link back with nothing else to wake it."""
        while not stop.is_set():
            self._catch_up()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CATCH_UP_EVERY_S)

    def _publish(self, seq: int, payload: bytes, *, kept: bool = True) -> None:
        """Hand a packet to the MQTT client; its acknowledgement deletes it from the outbox if ``kept``."""
        device_id, outbox = self.device_id, self.outbox

        def acked() -> None:
            if kept:
                try:
                    outbox.ack(device_id, seq)
                except StoreError as err:  # published again after a restart; the recorder stores it once
                    log.warning("%s: %s", device_id, err)
            self._acked()

        with self._flight:
            self._in_flight += 1
        self.link.publish_packet(payload, on_acked=acked)
        self.counts["packets"] += 1

    def _acked(self) -> None:
        """One packet fewer in flight (the MQTT client's thread); wake the catch-up once half the window is free."""
        with self._flight:
            self._in_flight -= 1
            wake = self._in_flight == self.settings.publish_window // 2
        loop = self._loop
        if wake and self._behind and loop is not None:  # read unlocked: a wake-up missed is the tick's
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing left to catch up in this run
                loop.call_soon_threadsafe(self._catch_up)

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
