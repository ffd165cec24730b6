"""The simulated device: plays a script and publishes packets over MQTT like a wearable.

A thin loop around :func:`firmware_sim.motion.iter_chunks`: samples are cut into
packets, quantised and encoded with the real codec (:mod:`ingest.codec`) and published
on ``sitless/v1/<device>/imu`` with QoS 1 in *simulated* time, ``speed`` times faster
than real time. A retained JSON status (``.../status``) says the device is online, with a
last will that turns it offline if the device vanishes; buzz commands on ``.../cmd`` are
logged and counted. A lost packet (``MotionParams.drop_prob``) still consumes its
sequence number, like a missed BLE notification.

If publishing falls behind the clock (a slow machine at high speed) the loop stops
sleeping and catches up; it never skips packets to keep pace, and it logs how far behind
it is.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from analysis.settings import Placement
from firmware_sim.motion import iter_chunks
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Script
from ingest.codec import Batch, encode, to_counts
from ingest.errors import PayloadError
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import parse_object
from ingest.topics import Kind, topic, validate_device_id

__all__ = ["Device", "DeviceSettings", "DeviceStats", "Packet", "iter_packets"]

log = logging.getLogger(__name__)

FIRMWARE = "sim-0.1.0"
# Warn when this far behind the simulated clock, at most once per _LAG_WARN_EVERY_S.
_LAG_WARN_S = 2.0
_LAG_WARN_EVERY_S = 10.0
_SEQ_MODULO = 2**32


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
        bad_commands: Command messages that were not valid JSON objects.
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
                        seq=(first_seq + first // per_packet) % _SEQ_MODULO,
                        t0_s=start_s + first / rate_hz,
                        rate_hz=rate_hz,
                        acc_scale_g=settings.acc_scale_g,
                        acc=to_counts(chunk.acc_g[begin:end], settings.acc_scale_g),
                    )
                    payload = encode(batch)
                if last is not None:
                    yield last
                last = Packet((first_seq + first // per_packet) % _SEQ_MODULO, (first + end - begin) / rate_hz, payload)
            lap_samples = chunk.first_sample + n
        if last is not None:
            yield Packet(last.seq, last.sim_end_s, last.payload, lap_end=True)
        lap_sample0 += -(-lap_samples // per_packet) * per_packet
        lap += 1
        if not settings.loop:
            return


class SequenceMemory:
    """The packet counter a device keeps in non-volatile memory, in a small JSON file.

    Like firmware that reserves blocks of sequence numbers in flash (one write per
    block, not per packet), it records ``next_seq`` a block ahead before using the
    numbers below it, and the exact next number at a clean stop. After a crash the
    device starts at the reserved mark: some numbers go unused (the recorder sees a
    gap), none is used twice (which the store would drop as a duplicate).

    Args:
        path: The file (created with its folder).
        block: How many sequence numbers one write reserves.
    """

    def __init__(self, path: Path, block: int = 1000) -> None:
        self.path = path
        self.block = block
        self.reserved = 0

    def start(self) -> int:
        """The first sequence number to use now; reserves the block that follows it."""
        try:
            first = int(json.loads(self.path.read_text())["next_seq"]) % _SEQ_MODULO
        except FileNotFoundError:
            first = 0
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"unreadable sequence memory {self.path}: {err}") from err
        self.reserve(first)
        return first

    def reserve(self, seq: int) -> None:
        """Make sure numbers up to ``seq`` are reserved before ``seq`` goes out."""
        if seq >= self.reserved or seq < self.reserved - self.block:  # past the block, or wrapped
            self.reserved = seq + self.block
            self._write(self.reserved)

    def finish(self, next_seq: int) -> None:
        """At a clean stop, remember exactly where to go on."""
        self._write(next_seq % _SEQ_MODULO)

    def _write(self, next_seq: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"next_seq": next_seq}))
        tmp.replace(self.path)  # atomic: a crash leaves the old or the new value


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
        self._lock = threading.Condition()
        self._counts = _Counts()
        self._pending: set[int] = set()
        self._acked_early: set[int] = set()
        self._start_s = time.time() if settings.start_s is None else settings.start_s
        self._sim_s = 0.0  # simulated seconds played so far
        self._memory = None if settings.seq_memory is None else SequenceMemory(settings.seq_memory)
        self._next_seq = 0
        self._imu_topic = topic(settings.device_id, Kind.IMU)
        self._status_topic = topic(settings.device_id, Kind.STATUS)
        self._cmd_topic = topic(settings.device_id, Kind.CMD)

    @property
    def stats(self) -> DeviceStats:
        """A snapshot of the counters (safe from any thread)."""
        with self._lock:
            counts = self._counts
            return DeviceStats(
                packets_sent=counts.packets_sent,
                packets_dropped=counts.packets_dropped,
                buzzes=counts.buzzes,
                bad_commands=counts.bad_commands,
                unacked=len(self._pending),
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
        will = json.dumps({"online": False})
        client = make_client(
            f"sitless-sim-{settings.device_id}", clean_session=False, will=(self._status_topic, will, 1, True)
        )
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        first_seq = 0 if self._memory is None else self._memory.start()
        self._next_seq = first_seq
        connect(client, settings.broker)
        try:
            self._publish_status(client, online=True)
            self._play(client, first_seq)
        finally:
            if self._memory is not None:
                self._memory.finish(self._next_seq)
            self._publish_status(client, online=False)
            self._drain()
            client.disconnect()
            client.loop_stop()
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

    def _play(self, client: paho.Client, first_seq: int) -> None:
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
            if packet.payload is None:
                with self._lock:
                    self._counts.packets_dropped += 1
                    self._counts.max_lag_s = max(self._counts.max_lag_s, lag_s)
            else:
                self._publish(client, self._imu_topic, packet.payload, retain=False)
                with self._lock:
                    self._counts.packets_sent += 1
                    self._counts.max_lag_s = max(self._counts.max_lag_s, lag_s)
            if packet.lap_end:
                with self._lock:
                    self._counts.laps += 1
            if sim_s >= next_status_s:
                next_status_s += settings.status_every_s
                self._publish_status(client, online=True)

    def _publish(self, client: paho.Client, topic_name: str, payload: bytes | str, *, retain: bool) -> None:
        # Published while disconnected, a QoS 1 message waits in paho's queue (rc NO_CONN)
        # and its PUBACK arrives after the reconnection: track it by mid either way.
        info = client.publish(topic_name, payload, qos=1, retain=retain)
        with self._lock:
            if info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
            else:
                self._pending.add(info.mid)

    def _publish_status(self, client: paho.Client, *, online: bool) -> None:
        settings = self._settings
        sim_s = self._sim_s
        battery = max(0.0, 100.0 - settings.battery_drain_pct_per_h * sim_s / 3600.0)
        status: dict[str, Any] = {
            "online": online,
            "battery_pct": round(battery),
            "rate_hz": int(settings.rate_hz) if settings.rate_hz.is_integer() else settings.rate_hz,
            "placement": str(settings.placement),
            "firmware": FIRMWARE,
            "t_s": round(self._start_s + sim_s, 3),
        }
        self._publish(client, self._status_topic, json.dumps(status), retain=True)

    def _drain(self) -> None:
        deadline = time.monotonic() + self._settings.drain_timeout_s
        with self._lock:
            while self._pending and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            if self._pending:
                log.warning(
                    "%d QoS 1 messages still unacknowledged after %.0f s",
                    len(self._pending),
                    self._settings.drain_timeout_s,
                )

    def _on_connect(
        self, client: paho.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if not getattr(reason, "is_failure", False):
            client.subscribe(self._cmd_topic, qos=1)

    def _on_publish(self, _client: paho.Client, _userdata: object, mid: int, _reason: object, _props: object) -> None:
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._acked_early.add(mid)
            self._lock.notify_all()

    def _on_message(self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        try:
            command: dict[str, Any] | None = parse_object(bytes(message.payload))
            problem = ""
        except PayloadError as err:
            command, problem = None, str(err)
        if command is None:
            with self._lock:
                self._counts.bad_commands += 1
            log.warning("bad command on %s: %s", message.topic, problem)
            return
        if command.get("cmd") == "buzz":
            with self._lock:
                self._counts.buzzes += 1
            log.info(
                "%s: buzz %s (reason: %s)",
                self._settings.device_id,
                command.get("pattern", "short"),
                command.get("reason", "none"),
            )
        else:
            log.info(
                "%s: ignoring command %r (the simulator only buzzes)",
                self._settings.device_id,
                command.get("cmd"),
            )
