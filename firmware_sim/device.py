"""The simulated device: plays a script and publishes packets over MQTT like a wearable.

A thin loop around :func:`firmware_sim.motion.iter_chunks`: samples are cut into
packets, quantised and encoded with the real codec (:mod:`ingest.codec`) and published
on ``sitless/v1/<device>/imu`` with QoS 1 in *simulated* time, ``speed`` times faster
than real time, through the device side of MQTT that the BLE gateway uses too
(:class:`ingest.device_link.DeviceLink`): a retained JSON status (``.../status``) says
the device is online, with a last will that turns it offline if the device vanishes;
buzz commands on ``.../cmd`` are logged and counted. A lost packet (``MotionParams.drop_prob``) still consumes its
sequence number, like a missed BLE notification.

If publishing falls behind the clock (a slow machine at high speed) the loop stops
sleeping and catches up; it never skips packets to keep pace, and it logs how far behind
it is.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from analysis.settings import Placement
from firmware_sim.motion import iter_chunks
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Script
from ingest.codec import Batch, encode, to_counts
from ingest.device_link import SEQ_MODULO, DeviceLink, SequenceMemory
from ingest.mqtt import BrokerAddress
from ingest.payloads import Command, DeviceStatus
from ingest.topics import validate_device_id

__all__ = ["Device", "DeviceSettings", "DeviceStats", "Packet", "iter_packets"]

log = logging.getLogger(__name__)

FIRMWARE = "sim-0.1.0"
# Warn when this far behind the simulated clock, at most once per _LAG_WARN_EVERY_S.
_LAG_WARN_S = 2.0
_LAG_WARN_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """How the simulated device runs.

    Attributes:
        device_id: Device id in the topics (validated: no wildcards or slashes).
        broker: Where the MQTT broker listens.
        placement: Where the simulated sensor is worn.
        speed: Simulated seconds per wall-clock second (60 plays an hour in a minute).
        seed: Seed of the motion model; lap ``k`` of a looped script uses ``seed + k``.
        loop: Repeat the script until stopped.
        start_s: Device time of the first sample, Unix epoch seconds; None for now.
        rate_hz: Nominal sample rate.
        acc_scale_g: g per count: 1/4096 g is ±8 g over int16, as on a BMI160 or LIS3DH
            at ±8 g full scale.
        params: Motion parameters (packet size and loss probability included).
        status_every_s: Simulated seconds between status updates.
        battery_drain_pct_per_h: Battery use per simulated hour (a day's wear from a
            small LiPo cell).
        drain_timeout_s: How long to wait at the end for the broker to acknowledge
            every QoS 1 message.
        seq_memory: File standing in for the device's non-volatile memory of its packet
            sequence number, so that numbers go on across restarts (docs/protocol.md: a
            device never reuses a seq). None starts at 0 every run (tests).
    """

    device_id: str = "sim-01"
    broker: BrokerAddress = field(default_factory=BrokerAddress)
    placement: Placement = Placement.THIGH
    speed: float = 1.0
    seed: int = 1
    loop: bool = False
    start_s: float | None = None
    rate_hz: float = 50.0
    acc_scale_g: float = 1 / 4096
    params: MotionParams = field(default_factory=MotionParams)
    status_every_s: float = 300.0
    battery_drain_pct_per_h: float = 5.0
    drain_timeout_s: float = 30.0
    seq_memory: Path | None = None

    def __post_init__(self) -> None:
        validate_device_id(self.device_id)
        for name in ("speed", "rate_hz", "acc_scale_g", "status_every_s", "drain_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass(frozen=True, slots=True)
class DeviceStats:
    """Counters of a device run (a snapshot).

    Attributes:
        packets_sent: Packets handed to the MQTT client.
        packets_dropped: Packets lost on purpose (their sequence numbers are skipped).
        buzzes: Buzz commands received.
        bad_commands: Command messages that were not valid commands (``ingest.payloads.Command``).
        unacked: QoS 1 messages not yet acknowledged by the broker.
        max_lag_s: Largest delay behind the simulated clock, wall seconds.
        laps: Complete plays of the script.
    """

    packets_sent: int = 0
    packets_dropped: int = 0
    buzzes: int = 0
    bad_commands: int = 0
    unacked: int = 0
    max_lag_s: float = 0.0
    laps: int = 0


@dataclass(slots=True)
class _Counts:
    """The device's running counters (guarded by the device lock)."""

    packets_sent: int = 0
    packets_dropped: int = 0
    buzzes: int = 0
    bad_commands: int = 0
    max_lag_s: float = 0.0
    laps: int = 0


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet of the simulated device, in the order it is sent.

    Attributes:
        seq: Sequence number (lost packets consume theirs too).
        sim_end_s: Simulated seconds from the start when its last sample was taken: the
            packet can go out then.
        payload: The encoded packet (:func:`ingest.codec.encode`), or None when it is lost.
        lap_end: Whether it is the last packet of a play of the script.
    """

    seq: int
    sim_end_s: float
    payload: bytes | None
    lap_end: bool = False


def iter_packets(script: Script, settings: DeviceSettings, start_s: float, first_seq: int = 0) -> Iterator[Packet]:
    """The packets a device sends while it plays a script (forever with ``settings.loop``).

    Samples of the motion model (:func:`firmware_sim.motion.iter_chunks`, seed
    ``settings.seed + lap``) are cut into packets of ``settings.params.packet_samples``,
    quantised with :func:`ingest.codec.to_counts` and encoded. Device time runs on the
    device's own clock: sample ``i`` is at ``start_s + i / rate_hz``. A looped script goes
    on from the next packet boundary, so sequence numbers stay contiguous.

    Args:
        script: What the wearer does.
        settings: The device settings.
        start_s: Device time of the first sample, Unix epoch seconds.
        first_seq: Sequence number of the first packet.

    Yields:
        Packets in sending order.
    """
    per_packet = settings.params.packet_samples
    rate_hz = settings.rate_hz
    lap_sample0 = 0  # device sample index of the lap's first sample
    lap = 0
    while True:
        lap_samples = 0
        last: Packet | None = None
        for chunk in iter_chunks(
            script, settings.placement, settings.seed + lap, rate_hz, settings.params, chunk_s=30.0
        ):
            n = chunk.t_s.shape[0]
            for j, dropped in enumerate(chunk.dropped.tolist()):
                begin = j * per_packet
                end = min(begin + per_packet, n)
                first = lap_sample0 + chunk.first_sample + begin
                payload = None
                if not dropped:
                    batch = Batch(
                        seq=(first_seq + first // per_packet) % SEQ_MODULO,
                        t0_s=start_s + first / rate_hz,
                        rate_hz=rate_hz,
                        acc_scale_g=settings.acc_scale_g,
                        acc=to_counts(chunk.acc_g[begin:end], settings.acc_scale_g),
                    )
                    payload = encode(batch)
                if last is not None:
                    yield last
                last = Packet((first_seq + first // per_packet) % SEQ_MODULO, (first + end - begin) / rate_hz, payload)
            lap_samples = chunk.first_sample + n
        if last is not None:
            yield Packet(last.seq, last.sim_end_s, last.payload, lap_end=True)
        lap_sample0 += -(-lap_samples // per_packet) * per_packet
        lap += 1
        if not settings.loop:
            return


class Device:
    """A simulated wearable publishing a script over MQTT.

    ``run()`` blocks until the script ends (or ``stop()`` is called from another thread,
    or forever with ``loop``), then publishes an offline status, waits for every QoS 1
    acknowledgement and disconnects.

    Args:
        script: What the wearer does.
        settings: How the device runs.
    """

    def __init__(self, script: Script, settings: DeviceSettings) -> None:
        self._script = script
        self._settings = settings
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._start_s = time.time() if settings.start_s is None else settings.start_s
        self._sim_s = 0.0  # simulated seconds played so far
        self._memory = None if settings.seq_memory is None else SequenceMemory(settings.seq_memory)
        self._next_seq = 0
        self._link = DeviceLink(
            settings.device_id,
            settings.broker,
            client_id=f"sitless-sim-{settings.device_id}",
            on_command=self._on_command,
            drain_timeout_s=settings.drain_timeout_s,
        )

    @property
    def stats(self) -> DeviceStats:
        """A snapshot of the counters (safe from any thread)."""
        with self._lock:
            counts = self._counts
            return DeviceStats(
                packets_sent=counts.packets_sent,
                packets_dropped=counts.packets_dropped,
                buzzes=counts.buzzes,
                bad_commands=self._link.bad_commands,
                unacked=self._link.unacked,
                max_lag_s=counts.max_lag_s,
                laps=counts.laps,
            )

    def stop(self) -> None:
        """Ask ``run()`` to finish soon (thread-safe)."""
        self._stop.set()

    def run(self) -> DeviceStats:
        """Connect, play the script, go offline and disconnect.

        Returns:
            The final counters.

        Raises:
            ConnectionError: The broker did not answer the first connection.
        """
        settings = self._settings
        first_seq = 0 if self._memory is None else self._memory.start()
        self._next_seq = first_seq
        self._link.connect()
        try:
            self._link.publish_status(self._status(online=True))
            self._play(first_seq)
        finally:
            if self._memory is not None:
                self._memory.finish(self._next_seq)
            self._link.close(self._status(online=False))
        stats = self.stats
        log.info(
            "%s done: %d packets sent, %d dropped, %d buzzes, %d unacknowledged",
            settings.device_id,
            stats.packets_sent,
            stats.packets_dropped,
            stats.buzzes,
            stats.unacked,
        )
        return stats

    def _play(self, first_seq: int) -> None:
        """Publish every packet in simulated time, until the end or ``stop()``."""
        settings = self._settings
        wall0 = time.monotonic()
        next_status_s = settings.status_every_s
        last_warn = -math.inf
        for packet in iter_packets(self._script, settings, self._start_s, first_seq):
            lag_s = time.monotonic() - (wall0 + packet.sim_end_s / settings.speed)
            if (lag_s < 0 and self._stop.wait(-lag_s)) or self._stop.is_set():
                return
            if lag_s > _LAG_WARN_S and time.monotonic() - last_warn > _LAG_WARN_EVERY_S:
                last_warn = time.monotonic()
                log.warning("%.1f s behind the simulated clock at speed %g: catching up", lag_s, settings.speed)
            self._sim_s = sim_s = packet.sim_end_s
            if self._memory is not None:
                self._memory.reserve(packet.seq)
            self._next_seq = packet.seq + 1
            if packet.payload is not None:
                self._link.publish_packet(packet.payload)
            with self._lock:
                if packet.payload is None:
                    self._counts.packets_dropped += 1
                else:
                    self._counts.packets_sent += 1
                self._counts.max_lag_s = max(self._counts.max_lag_s, lag_s)
                self._counts.laps += packet.lap_end
            if sim_s >= next_status_s:
                next_status_s += settings.status_every_s
                self._link.publish_status(self._status(online=True))

    def _status(self, *, online: bool) -> DeviceStatus:
        settings = self._settings
        sim_s = self._sim_s
        return DeviceStatus(
            online=online,
            battery_pct=round(max(0.0, 100.0 - settings.battery_drain_pct_per_h * sim_s / 3600.0)),
            rate_hz=settings.rate_hz,
            placement=settings.placement,
            firmware=FIRMWARE,
            t_s=round(self._start_s + sim_s, 3),
        )

    def _on_command(self, command: Command) -> None:
        if command.cmd != "buzz":
            log.info("%s: ignoring command %r (the simulator only buzzes)", self._settings.device_id, command.cmd)
            return
        with self._lock:
            self._counts.buzzes += 1
        log.info(
            "%s: buzz %s (reason: %s)",
            self._settings.device_id,
            command.pattern or "short",
            command.reason or "none",
        )
