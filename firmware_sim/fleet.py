"""A fleet of simulated wearers in one process, for load tests (``sitless sim --fleet N``).

Running N :class:`firmware_sim.device.Device` objects would cost N threads, N MQTT
clients and N runs of the motion model. A fleet instead plays a few distinct simulated
wearers (``streams``: the motion model with seeds ``seed``, ``seed + 1``, ...), encoded
once with the real codec into packets of 25 samples (0.5 s at 50 Hz), and shares them
out: wearer ``w`` plays stream ``w % streams`` from its own starting packet, on a loop,
so that neighbours are not in step. Each wearer's packets carry its own sequence
numbers and device times (:func:`restamp` rewrites those two header fields of a packet
encoded by :func:`ingest.codec.encode`), and each wearer's clock is offset by a
fraction of a packet so that the fleet's packets arrive spread over time, not in bursts.

Packets go out on ``sitless/v1/fleet-00001/imu``... with QoS 1 through a few MQTT
connections (``connections``) in real time, or ``speed`` times faster; each wearer's
retained status says it is online at the start and offline at the end (a shared
connection has no per-wearer last will). A fleet that falls behind its clock never
skips packets: it publishes as fast as it can and reports how far behind it was.
Sequence numbers start, by default, at the number of packet periods since the Unix
epoch at the start, so that a fleet started again later goes on with higher numbers
(a device never reuses a seq, docs/protocol.md) without a file per wearer.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as paho

from analysis.settings import Placement
from firmware_sim.device import FIRMWARE
from firmware_sim.motion import iter_chunks
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Script
from ingest.codec import Batch, encode, to_counts
from ingest.device_link import SEQ_MODULO
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import DeviceStatus
from ingest.topics import Kind, topic, validate_device_id

__all__ = ["Fleet", "FleetSettings", "FleetStats", "StreamBank", "device_ids", "restamp"]

log = logging.getLogger(__name__)

# seq (uint32) then t0_s (float64) at byte 4 of the header (ingest.codec, version 1).
_SEQ_T0 = struct.Struct("<Id")
_SEQ_T0_OFFSET = 4
# Warn when this far behind the clock, at most once per _LAG_WARN_EVERY_S (as firmware_sim.device).
_LAG_WARN_S = 2.0
_LAG_WARN_EVERY_S = 10.0
# Sleep only when the next packet is due at least this far ahead: one sleep per packet
# would cost more than the publishing at thousands of wearers.
_MIN_SLEEP_S = 0.002


def device_ids(wearers: int, prefix: str = "fleet-") -> list[str]:
    """The fleet's device ids, ``fleet-00001`` onwards.

    >>> device_ids(2)
    ['fleet-00001', 'fleet-00002']
    """
    ids = [f"{prefix}{i:05d}" for i in range(1, wearers + 1)]
    for device_id in ids[:1]:
        validate_device_id(device_id)
    return ids


def restamp(packet: bytes, seq: int, t0_s: float) -> bytes:
    """A copy of an encoded packet with another sequence number and first-sample time.

    >>> import numpy as np
    >>> from ingest.codec import decode
    >>> p = encode(Batch(0, 0.0, 50.0, 1 / 4096, np.zeros((25, 3), np.int16)))
    >>> b = decode(restamp(p, 7, 1.7e9))
    >>> (b.seq, b.t0_s, b.n)
    (7, 1700000000.0, 25)
    """
    out = bytearray(packet)
    _SEQ_T0.pack_into(out, _SEQ_T0_OFFSET, seq, t0_s)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """How a fleet runs.

    Attributes:
        wearers: Simulated wearers.
        broker: Where the MQTT broker listens.
        placement: Where every wearer wears the sensor.
        speed: Simulated seconds per wall-clock second.
        duration_s: Simulated seconds to play; None plays until :meth:`Fleet.stop`.
        connections: MQTT connections the wearers share (wearer ``w`` uses ``w % connections``).
        streams: Distinct simulated wearers (motion model seeds) behind the fleet.
        seed: Seed of the first stream.
        start_s: Device time at the start, Unix epoch seconds; None for the moment the
            first packet period starts (at speed 1 a packet goes out as its last sample
            is taken).
        first_seq: Sequence number of every wearer's first packet; None for the packet
            periods since the epoch at ``start_s`` (see the module docstring).
        id_prefix: Device ids are this prefix and a 5-digit number from 1.
        rate_hz: Sample rate.
        acc_scale_g: g per count (1/4096: ±8 g over int16, as ``DeviceSettings``).
        packet_samples: Samples per packet (25: 0.5 s at 50 Hz, as ``MotionParams``).
        max_inflight: QoS 1 messages each connection may have unacknowledged.
        drain_timeout_s: How long to wait at the end for every acknowledgement.
    """

    wearers: int
    broker: BrokerAddress = field(default_factory=BrokerAddress)
    placement: Placement = Placement.THIGH
    speed: float = 1.0
    duration_s: float | None = None
    connections: int = 4
    streams: int = 8
    seed: int = 1
    start_s: float | None = None
    first_seq: int | None = None
    id_prefix: str = "fleet-"
    rate_hz: float = 50.0
    acc_scale_g: float = 1 / 4096
    packet_samples: int = 25
    max_inflight: int = 1000
    drain_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("wearers", "connections", "streams", "packet_samples", "max_inflight"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.wearers > 99_999:
            raise ValueError(f"wearers must be <= 99999 (5-digit ids), got {self.wearers}")
        for name in ("speed", "rate_hz", "acc_scale_g", "drain_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        validate_device_id(f"{self.id_prefix}00001")

    @property
    def packet_s(self) -> float:
        """Seconds of samples in one packet."""
        return self.packet_samples / self.rate_hz


@dataclass(frozen=True, slots=True)
class FleetStats:
    """Counters of a fleet run.

    Attributes:
        wearers: Simulated wearers.
        packets_sent: Packets handed to the MQTT clients.
        samples_sent: Samples in those packets.
        unacked: QoS 1 messages the broker had not acknowledged at the end.
        max_lag_s: Largest delay behind the clock, wall seconds.
        wall_s: Wall-clock seconds from the first packet to the end of the drain.
        first_seq: Sequence number of every wearer's first packet.
    """

    wearers: int
    packets_sent: int
    samples_sent: int
    unacked: int
    max_lag_s: float
    wall_s: float
    first_seq: int


class StreamBank:
    """Packets of a few simulated wearers, encoded once and shared out by a fleet.

    Args:
        script: What the simulated wearers do (one play of it per stream).
        settings: The fleet settings (streams, seed, placement, rate, scale, packet size).
    """

    def __init__(self, script: Script, settings: FleetSettings) -> None:
        params = MotionParams(drop_prob=0.0, packet_samples=settings.packet_samples)
        per = settings.packet_samples
        self._streams: list[list[bytes]] = []
        for k in range(settings.streams):
            packets: list[bytes] = []
            for chunk in iter_chunks(script, settings.placement, settings.seed + k, settings.rate_hz, params):
                counts = to_counts(chunk.acc_g, settings.acc_scale_g)
                # chunks hold whole packets except the last, whose short packet is dropped
                for begin in range(0, counts.shape[0] - per + 1, per):
                    batch = Batch(0, 0.0, settings.rate_hz, settings.acc_scale_g, counts[begin : begin + per])
                    packets.append(encode(batch))
            if not packets:
                raise ValueError(f"script {script.name!r} is shorter than one packet")
            self._streams.append(packets)

    @property
    def packets_per_stream(self) -> list[int]:
        """Packets in each stream (one play of the script)."""
        return [len(s) for s in self._streams]

    def packet(self, wearer: int, k: int, seq: int, t0_s: float) -> bytes:
        """Packet ``k`` of a wearer, stamped with its sequence number and first-sample time.

        Wearer ``w`` plays stream ``w % streams`` on a loop from packet ``w * 7919``
        (a prime stride spreads the starting points over the script).
        """
        stream = self._streams[wearer % len(self._streams)]
        return restamp(stream[(wearer * 7919 + k) % len(stream)], seq, t0_s)


class Fleet:
    """Simulated wearers publishing over a few MQTT connections (see the module docstring).

    ``run()`` blocks until ``duration_s`` is played or :meth:`stop` is called from
    another thread, then publishes every wearer's offline status, waits for the
    acknowledgements and disconnects.

    Args:
        script: What the simulated wearers do.
        settings: How the fleet runs.
    """

    def __init__(self, script: Script, settings: FleetSettings) -> None:
        self.settings = settings
        self.ids = device_ids(settings.wearers, settings.id_prefix)
        self._bank = StreamBank(script, settings)
        self._stop = threading.Event()
        self._start_s = time.time() if settings.start_s is None else settings.start_s
        first = int(self._start_s / settings.packet_s) if settings.first_seq is None else settings.first_seq
        self._first_seq = first % SEQ_MODULO
        self._published = [0] * settings.connections
        self._acked = [0] * settings.connections  # each written only by its client's network thread
        self._clients = [self._client(c) for c in range(settings.connections)]
        self._packets = 0
        self._max_lag_s = 0.0

    def _client(self, c: int) -> paho.Client:
        client = make_client(f"sitless-fleet-{c}")
        client.max_inflight_messages_set(self.settings.max_inflight)

        def on_publish(_c: paho.Client, _u: object, _mid: int, _rc: object, _p: object) -> None:
            self._acked[c] += 1

        client.on_publish = on_publish
        return client

    @property
    def unacked(self) -> int:
        """QoS 1 messages not yet acknowledged by the broker."""
        return sum(self._published) - sum(self._acked)

    def stop(self) -> None:
        """Ask ``run()`` to finish soon (thread-safe)."""
        self._stop.set()

    def run(self) -> FleetStats:
        """Connect, play, go offline and disconnect.

        Returns:
            The final counters.

        Raises:
            ConnectionError: The broker did not answer a connection.
        """
        for client in self._clients:
            connect(client, self.settings.broker)
        wall0 = time.monotonic()
        try:
            self._statuses(online=True, sim_s=0.0)
            sim_s = self._play()
        finally:
            self._statuses(online=False, sim_s=self._packets / self.settings.wearers * self.settings.packet_s)
            self._drain()
            for client in self._clients:
                client.disconnect()
                client.loop_stop()
        wall_s = time.monotonic() - wall0
        stats = FleetStats(
            wearers=self.settings.wearers,
            packets_sent=self._packets,
            samples_sent=self._packets * self.settings.packet_samples,
            unacked=self.unacked,
            max_lag_s=self._max_lag_s,
            wall_s=wall_s,
            first_seq=self._first_seq,
        )
        log.info(
            "fleet of %d done: %.0f simulated s, %d packets, %d unacknowledged, at most %.2f s behind",
            stats.wearers,
            sim_s,
            stats.packets_sent,
            stats.unacked,
            stats.max_lag_s,
        )
        return stats

    def _publish(self, w: int, topic_: str, payload: bytes | str, *, retain: bool = False) -> None:
        c = w % len(self._clients)
        self._clients[c].publish(topic_, payload, qos=1, retain=retain)
        self._published[c] += 1

    def _statuses(self, *, online: bool, sim_s: float) -> None:
        status = DeviceStatus(
            online=online,
            battery_pct=100.0,
            rate_hz=self.settings.rate_hz,
            placement=self.settings.placement,
            firmware=FIRMWARE,
            t_s=round(self._start_s + sim_s, 3),
        ).to_json()
        for w, device_id in enumerate(self.ids):
            self._publish(w, topic(device_id, Kind.STATUS), status, retain=True)

    def _play(self) -> float:
        """Publish every wearer's packets on time until the end or ``stop()``; the simulated s played."""
        settings = self.settings
        n = settings.wearers
        packet_s = settings.packet_s
        topics = [topic(d, Kind.IMU) for d in self.ids]
        offsets = [packet_s * w / n for w in range(n)]  # each wearer's clock phase
        wall0 = time.monotonic()
        if settings.start_s is None:  # the device clocks start now, not before the connections
            self._start_s = time.time()
        last_warn = -math.inf
        k = 0
        while settings.duration_s is None or (k + 1) * packet_s <= settings.duration_s + 1e-9:
            seq = (self._first_seq + k) % SEQ_MODULO
            for w in range(n):
                due_s = wall0 + ((k + 1) * packet_s + offsets[w]) / settings.speed
                lag_s = time.monotonic() - due_s
                if lag_s < -_MIN_SLEEP_S and self._stop.wait(-lag_s):
                    return k * packet_s
                payload = self._bank.packet(w, k, seq, self._start_s + offsets[w] + k * packet_s)
                self._publish(w, topics[w], payload)
                self._packets += 1
                self._max_lag_s = max(self._max_lag_s, lag_s)
            if self._stop.is_set():
                return (k + 1) * packet_s
            if lag_s > _LAG_WARN_S and time.monotonic() - last_warn > _LAG_WARN_EVERY_S:
                last_warn = time.monotonic()
                log.warning("%.1f s behind the clock at speed %g: catching up", lag_s, settings.speed)
            k += 1
        return k * packet_s

    def _drain(self) -> None:
        deadline = time.monotonic() + self.settings.drain_timeout_s
        while self.unacked > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
