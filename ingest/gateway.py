"""The BLE gateway: real sensors in over Bluetooth (bleak), sitless packets out over MQTT.

``sitless gateway --scan`` lists the sensors nearby that a profile recognises
(``ingest.profiles``). ``sitless gateway --device ADDRESS [--profile NAME]
[--device-id ID] [--placement P] [--rate HZ]`` (repeatable) streams each sensor:

1. **Connect**: find the sensor's advertisement (``BleakScanner``), then connect with
   bleak-retry-connector's ``establish_connection``, which retries the errors a BlueZ,
   CoreBluetooth or ESPHome-proxy connection is known to throw once or twice before it
   holds; pick the profile: the one named, else the first whose service the sensor
   offers. Subscribe to its notifications, then set the sample rate where the sensor
   allows it and start its stream (the profile's writes, with the pauses a profile asks
   for between them); where the sensor reports the rate it settled on, read it and time
   the samples at that rate, as for a sensor whose notifications say their rate (the
   sitless board's packets). A control point's answers go to the decoder (Polar's factor).
2. **Decode** each notification (a malformed one is counted and skipped), time the
   samples on the host clock and cut them into packets (``ingest.packetizer``) under
   the gateway's own sequence numbers, which go on across restarts
   (``ingest.device_link.SequenceMemory``); a memory that cannot be read is read from
   its copy, and with both unreadable the numbers go on far past the highest known; a
   full disk that refuses its mark does not hold a packet back.
3. **Keep, then publish**: every packet is written to the on-disk outbox
   (``ingest.outbox``) before it is published with QoS 1, and deleted when the broker
   acknowledges it. While the broker is away packets pile up on disk; a gateway that
   starts again publishes what is left first. The recorder stores a packet once per
   sequence number, so nothing is lost and nothing doubled. A damaged outbox is moved
   aside and an empty one started (``ingest.outbox.open_outbox``).
4. **Reconnect** with backoff (1 s doubling to 60 s) when the sensor drops or cannot be
   reached (``establish_connection``'s own few retries happen within one attempt); the
   packet being filled goes out first, and the next starts at its true time.
5. **Status** (retained, ``ingest.payloads.DeviceStatus``): online while the sensor is
   connected, its rate, placement, battery where the sensor offers the Battery Service,
   RSSI from the scan, and the drift of its clock where it time-stamps its samples.
6. **Buzz**: a ``buzz`` command on the device's ``cmd`` topic becomes the profile's
   writes (a motor, LED or buzzer where the sensor has one).

Device ids must be valid topic levels: a sensor without ``--device-id`` is named from
its address (``AA:BB:CC:DD:EE:FF`` becomes ``ble-aabbccddeeff``).

Without a Bluetooth adapter bleak cannot scan or connect; the gateway says what is
missing and keeps retrying a sensor. Tests and the simulator use bleak's own backend
seam (``BleakClient(..., backend=...)``, ``BleakScanner(..., backend=...)``):
``firmware_sim.ble`` is a simulated sensor that speaks the ``sitless`` profile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import math
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak_retry_connector import establish_connection

from analysis.settings import Placement
from ingest.device_link import DeviceLink, SequenceMemory
from ingest.errors import IngestError, ProfileError, StoreError
from ingest.metrics import Health, MetricsServer, ServiceMetrics, add_metrics_arguments, metrics_endpoint
from ingest.mqtt import DEFAULT_BROKER_URL, BrokerAddress
from ingest.outbox import Outbox, open_outbox
from ingest.packetizer import Packet, Packetizer
from ingest.payloads import Command, DeviceStatus
from ingest.profiles import PROFILES, Decoder, Profile, Write, identify, nearest_rate
from ingest.profiles.base import BATTERY_LEVEL_UUID
from ingest.service import RateLimitedLog
from ingest.topics import validate_device_id

__all__ = [
    "Gateway",
    "GatewaySettings",
    "SensorSpec",
    "register",
    "run",
    "safe_device_id",
    "scan",
    "write_all",
]

log = logging.getLogger(__name__)

#: Seconds of samples per packet.
PACKET_S = 0.5


def safe_device_id(address: str) -> str:
    """A topic-safe device id from a Bluetooth address (a MAC, or the UUID macOS gives).

    >>> safe_device_id("AA:BB:CC:DD:EE:FF")
    'ble-aabbccddeeff'
    >>> safe_device_id("7E2B9A4C-1D2E-4F3A-8B9C-0D1E2F3A4B5C")
    'ble-7e2b9a4c1d2e4f3a8b9c0d1e2f3a4b5c'
    """
    return "ble-" + re.sub(r"[^0-9a-z]", "", address.lower())


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One sensor to stream.

    Attributes:
        address: Its Bluetooth address.
        profile: The profile's name, or None to pick one from its services.
        device_id: Its device id in the topics; None to name it from the address.
        placement: Where it is worn (published in its status); None to say nothing.
        rate_hz: The sample rate wanted (the nearest the sensor offers); None for the profile's choice.
    """

    address: str
    profile: str | None = None
    device_id: str | None = None
    placement: Placement | None = None
    rate_hz: float | None = None

    def __post_init__(self) -> None:
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}: use one of {', '.join(sorted(PROFILES))}")
        if self.device_id is not None:
            validate_device_id(self.device_id)

    @property
    def id(self) -> str:
        """The device id in the topics."""
        return self.device_id or safe_device_id(self.address)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """How the gateway runs.

    Attributes:
        broker: The MQTT broker.
        sensors: The sensors to stream.
        data_dir: Where the outbox and the sequence numbers are kept.
        status_every_s: Seconds between statuses while a sensor streams.
        backoff_s: First and longest wait before connecting again, s.
        scan_timeout_s: How long to listen for the sensor's advertisement before an
            attempt gives up, s.
        connect_timeout_s: How long one connection attempt may take, ``establish_connection``'s
            tries included (each of which it gives 20 s), s; it aims to finish within 60 s
            (``bleak_retry_connector``, comment on ``MAX_CONNECT_ATTEMPTS``).
        connect_attempts: Tries per connection attempt that ``establish_connection`` makes
            on errors it does not know to be transient (it retries those known ones up to
            9 times, waiting 0.1-4 s between; ``bleak_retry_connector.establish_connection``).
        drain_timeout_s: At the end, how long to wait for the broker to acknowledge what
            was published (what it did not stays in the outbox for the next run), s.
        backend: A bleak client backend class (tests and the simulator); None for the platform's.
        scanner_backend: A bleak scanner backend class to find the sensor with; None for
            the platform's.
    """

    broker: BrokerAddress
    sensors: tuple[SensorSpec, ...]
    data_dir: Path = Path("var/gateway")
    status_every_s: float = 60.0
    backoff_s: tuple[float, float] = (1.0, 60.0)
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 60.0
    connect_attempts: int = 2
    drain_timeout_s: float = 10.0
    backend: type[Any] | None = field(default=None, compare=False)
    scanner_backend: type[BaseBleakScanner] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.connect_attempts < 1:
            raise ValueError(f"connect_attempts must be >= 1, got {self.connect_attempts}")
        for name in ("status_every_s", "scan_timeout_s", "connect_timeout_s", "drain_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


class _Sensor:
    """One sensor's stream: its connection loop, packets and status (module docstring)."""

    def __init__(self, spec: SensorSpec, settings: GatewaySettings, outbox: Outbox, counts: Counter[str]) -> None:
        self.spec = spec
        self.settings = settings
        self.outbox = outbox
        self.counts = counts
        self.device_id = spec.id
        self.memory = SequenceMemory(settings.data_dir / "seq" / f"{self.device_id}.json")
        self.link = DeviceLink(
            self.device_id,
            settings.broker,
            client_id=f"sitless-gw-{self.device_id}",
            on_command=self._on_command,
            drain_timeout_s=settings.drain_timeout_s,
        )
        self.next_seq = 0
        self.rate_hz: float | None = None
        self.battery_pct: float | None = None
        self.rssi_dbm: float | None = None
        self.packetizer: Packetizer | None = None
        self._last_t_s = -math.inf  # the last sample sent, so that times never go back across connections
        self._client: BleakClient | None = None
        self._profile: Profile | None = None
        self._decoder: Decoder | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._troubles = RateLimitedLog(log)  # disk troubles come with every packet: one line per 10 s

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop`` is set, reconnecting after every drop."""
        self._loop = asyncio.get_running_loop()
        left = self._kept()
        self.next_seq = self._first_seq(left)
        self.link.start()  # the broker may be away: packets wait on disk meanwhile
        self._replay(left)
        first, longest = self.settings.backoff_s
        wait_s = first
        attempts = 0
        try:
            while not stop.is_set():
                self.counts["reconnects"] += attempts > 0  # every attempt after the first
                attempts += 1
                try:
                    streamed = await self._stream(stop)
                except (BleakError, OSError, TimeoutError, ProfileError) as err:
                    streamed = False
                    self.counts["connect_failures"] += 1
                    log.warning("%s (%s): %s", self.device_id, self.spec.address, _why(err))
                self._flush()
                self._publish_status(online=False)
                if stop.is_set():
                    break
                wait_s = first if streamed else min(longest, wait_s * 2)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait_s)
        finally:
            try:
                self.memory.finish(self.next_seq)
            except OSError as err:  # the block reserved before stays: a gap, no number used twice
                self.counts["seq_memory_failures"] += 1
                log.warning("%s: cannot save the next sequence number in %s: %s", self.device_id, self.memory.path, err)
            await asyncio.to_thread(self.link.close, self._status(online=False))

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

    async def _stream(self, stop: asyncio.Event) -> bool:
        """One connection: set up, stream until it drops or ``stop``; whether it streamed."""
        dropped = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_disconnect(_client: BleakClient) -> None:
            loop.call_soon_threadsafe(dropped.set)

        client = await _unless_stopped(self._connect(on_disconnect), stop)
        if client is None:
            return False
        try:
            profile = self._pick_profile(client)
            rate = nearest_rate(profile.rates_hz, self.spec.rate_hz)
            self._profile, self._client, self.rate_hz = profile, client, rate
            self.packetizer = Packetizer(rate, max(1, round(rate * PACKET_S)), self.next_seq, self._last_t_s)
            decoder = self._decoder = profile.decoder(rate)

            def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
                self.counts["notifications"] += 1
                try:
                    samples = decoder.decode(bytes(data))
                except ProfileError as err:
                    self.counts["bad_notifications"] += 1
                    log.debug("%s: %s", self.device_id, err)
                    return
                if samples.rate_hz is not None:  # a sensor that says its rate (the sitless board's packets)
                    self._settle(samples.rate_hz)
                assert self.packetizer is not None
                self._send(self.packetizer.add(samples, time.time()))

            for uuid in profile.indicate_uuids:  # a control point's replies, logged
                await client.start_notify(uuid, self._on_reply)
            await client.start_notify(profile.notify_uuid, on_notify)
            await write_all(client, profile.start(rate))  # with every subscription on, as a Polar sensor needs
            if profile.rate_uuid is not None:
                self._settle(profile.settled_rate(bytes(await client.read_gatt_char(profile.rate_uuid))))
            self.battery_pct = await self._battery(client)
            log.info(
                "%s: streaming from %s (%s) at %g Hz", self.device_id, self.spec.address, profile.name, self.rate_hz
            )
            while not (stop.is_set() or dropped.is_set()):
                self._publish_status(online=True)
                waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(dropped.wait())]
                await asyncio.wait(waits, timeout=self.settings.status_every_s, return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
            if dropped.is_set():
                log.warning("%s: the sensor dropped the connection", self.device_id)
            return True
        finally:
            self._client = self._decoder = None
            if client.is_connected:
                with contextlib.suppress(BleakError, OSError, TimeoutError):
                    await write_all(client, self._profile.stop() if self._profile else [])
                    await client.disconnect()

    async def _connect(self, on_disconnect: Callable[[BleakClient], None]) -> BleakClient:
        """Find the sensor's advertisement, then connect with ``establish_connection`` (module docstring).

        bleak-retry-connector connects a ``BLEDevice`` from a scan (as BlueZ and
        CoreBluetooth need: an address alone makes bleak scan inside ``connect``), so the
        scan is done here, where its timeout is the gateway's.

        Raises:
            BleakDeviceNotFoundError: The sensor is not advertising (off, out of range, or
                connected to another host).
            BleakError, TimeoutError: ``establish_connection`` gave up.
        """
        scanner: dict[str, Any] = (
            {} if self.settings.scanner_backend is None else {"backend": self.settings.scanner_backend}
        )
        device = await BleakScanner.find_device_by_address(
            self.spec.address, timeout=self.settings.scan_timeout_s, **scanner
        )
        if device is None:
            raise BleakDeviceNotFoundError(
                self.spec.address, f"{self.spec.address} is not advertising (off, out of range or connected elsewhere)"
            )
        async with asyncio.timeout(self.settings.connect_timeout_s):
            return await establish_connection(
                BleakClient,
                device,
                self.device_id,
                disconnected_callback=on_disconnect,
                max_attempts=self.settings.connect_attempts,
                backend=self.settings.backend,
            )

    def _settle(self, rate_hz: float) -> None:
        """The sensor streams at ``rate_hz``, not the rate asked (or the one it said before): time the samples at it."""
        if self.packetizer is None or math.isclose(rate_hz, self.packetizer.rate_hz, rel_tol=1e-9):
            return
        log.info("%s: the sensor streams at %g Hz, not %g Hz", self.device_id, rate_hz, self.packetizer.rate_hz)
        self._send(self.packetizer.flush())  # the few samples before, timed at the rate asked
        after_s, clock = self.packetizer.last_t_s, self.packetizer.clock  # the same device clock
        self.packetizer = Packetizer(rate_hz, max(1, round(rate_hz * PACKET_S)), self.next_seq, after_s, clock)
        self.rate_hz = rate_hz

    def _pick_profile(self, client: BleakClient) -> Profile:
        """The profile named, or the one the sensor's services show; the model its name shows."""
        try:
            name: str | None = client.name
        except NotImplementedError:  # a backend that does not know names
            name = None
        if self.spec.profile is not None:
            return PROFILES[self.spec.profile].for_name(name)
        offered = [str(s.uuid) for s in client.services]
        profile = identify(name, offered)
        if profile is None:
            raise ProfileError(f"no profile knows the services of {self.spec.address}: {', '.join(offered)}")
        return profile

    def _on_reply(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        """A control point's answer: logged, and handed to the decoder (Polar's factor)."""
        log.info("%s: control point replied %s", self.device_id, bytes(data).hex(" "))
        if self._decoder is None:
            return
        try:
            self._decoder.reply(bytes(data))
        except ProfileError as err:
            self.counts["refused_commands"] += 1
            log.warning("%s: %s", self.device_id, err)

    async def _battery(self, client: BleakClient) -> float | None:
        try:
            data = await client.read_gatt_char(BATTERY_LEVEL_UUID)
        except (BleakError, OSError, TimeoutError):
            return None  # no Battery Service
        return float(min(100, data[0])) if data else None

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

    def _on_command(self, command: Command) -> None:
        """A command from the broker (paho's thread): a buzz becomes the profile's writes."""
        if command.cmd != "buzz" or self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._buzz(command), self._loop)

    async def _buzz(self, command: Command) -> None:
        client, profile = self._client, self._profile
        if client is None or profile is None:
            log.info("%s: buzz while the sensor is not connected: dropped", self.device_id)
            return
        writes = profile.buzz(command)
        if not writes:
            log.info("%s: the %s sensor cannot buzz", self.device_id, profile.name)
        try:
            await write_all(client, writes)
            self.counts["buzzes"] += bool(writes)
        except (BleakError, OSError, TimeoutError) as err:
            log.warning("%s: buzz failed: %s", self.device_id, _why(err))


class Gateway:
    """Streams every sensor of the settings until :meth:`stop` (module docstring).

    Raises:
        StoreError: The outbox cannot be opened (a damaged one is moved aside: ``ingest.outbox.open_outbox``).
    """

    def __init__(self, settings: GatewaySettings) -> None:
        if not settings.sensors:
            raise ValueError("the gateway needs at least one sensor (--device ADDRESS)")
        ids = [s.id for s in settings.sensors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"two sensors share a device id: {ids}")
        self.settings = settings
        self.counts: Counter[str] = Counter()
        self.outbox = open_outbox(settings.data_dir / "outbox.sqlite")
        self.sensors = [_Sensor(spec, settings, self.outbox, self.counts) for spec in settings.sensors]
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.metrics = ServiceMetrics("gateway", self.health)
        for name, count in (
            ("sitless_ble_notifications", "notifications"),
            ("sitless_bad_notifications", "bad_notifications"),
            ("sitless_packets_published", "packets"),
            ("sitless_sensor_reconnects", "reconnects"),
            ("sitless_sensor_connect_failures", "connect_failures"),
        ):
            self.metrics.read(name, functools.partial(self.counts.__getitem__, count))
        self.metrics.read("sitless_outbox_packets", self.outbox.count)
        self.metrics.read("sitless_mqtt_connected", lambda: self.health().connected)

    def health(self) -> Health:
        """Whether every sensor's MQTT link is up and the gateway runs (``/healthz``)."""
        running = self._loop is not None and self._loop.is_running() and not (self._stop and self._stop.is_set())
        return Health(all(sensor.link.connected for sensor in self.sensors), running)

    async def run(self) -> None:
        """Stream until :meth:`stop`; then flush, go offline and close the outbox.

        A sensor's stream that fails stops the others, which finish (flush, go offline)
        before the outbox closes; then the failure is raised.
        """
        self._loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        tasks = [asyncio.ensure_future(sensor.run(stop)) for sensor in self.sensors]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            stop.set()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            self.outbox.close()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    def stop(self) -> None:
        """Ask :meth:`run` to finish (from any thread)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


async def scan(
    timeout_s: float = 10.0, backend: type[BaseBleakScanner] | None = None
) -> list[tuple[str, str | None, int, str]]:
    """The sensors nearby that a profile recognises: ``(address, name, rssi_dbm, profile)``, strongest first.

    Raises:
        BleakError, OSError: No Bluetooth adapter, or the system's Bluetooth service is missing.
    """
    if backend is None:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
    else:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, backend=backend)
    rows = []
    for device, adv in found.values():
        profile = identify(adv.local_name, adv.service_uuids)
        if profile is not None:
            rows.append((device.address, adv.local_name or device.name, adv.rssi, profile.name))
    return sorted(rows, key=lambda r: -r[2])


async def write_all(client: BleakClient, writes: list[Write]) -> None:
    """Perform a profile's writes in order, waiting each one's ``pause_s`` after it.

    Raises:
        BleakError, OSError, TimeoutError: A write failed (the ones after it are not made).
    """
    for write in writes:
        await client.write_gatt_char(write.char_uuid, write.data, response=write.response)
        if write.pause_s:
            await asyncio.sleep(write.pause_s)


async def _unless_stopped(connecting: Any, stop: asyncio.Event) -> BleakClient | None:
    """Await a connection, unless ``stop`` is set first: then cancel it and return None."""
    task: asyncio.Task[BleakClient] = asyncio.ensure_future(connecting)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, BleakError, OSError, TimeoutError):
        await task
    return None


def _why(err: BaseException) -> str:
    if isinstance(err, FileNotFoundError):
        return "no Bluetooth here: the system's D-Bus/BlueZ service is missing (is this a machine with a radio?)"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _sensor(text: str) -> SensorSpec:
    """One ``--device`` value: ``ADDRESS[,profile=NAME][,id=ID][,placement=P][,rate=HZ]``."""
    address, *options = text.split(",")
    fields: dict[str, Any] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key == "profile":
            fields["profile"] = value
        elif key == "id":
            fields["device_id"] = value
        elif key == "placement":
            fields["placement"] = Placement(value)
        elif key == "rate":
            fields["rate_hz"] = float(value)
        else:
            raise argparse.ArgumentTypeError(f"unknown option {key!r} in --device {text!r}")
    try:
        return SensorSpec(address.strip(), **fields)
    except (ValueError, IngestError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``gateway`` subcommand."""
    p = sub.add_parser(
        "gateway",
        help="stream real BLE sensors to the broker",
        description="List the BLE sensors sitless knows nearby (--scan), or stream them to the MQTT broker. "
        f"Profiles: {', '.join(sorted(PROFILES))}. docs/sensors.md says how to wear and set up each.",
    )
    p.add_argument("--scan", action="store_true", help="list the sensors nearby that a profile recognises, then exit")
    p.add_argument("--scan-s", type=float, default=10.0, help="how long to scan, s (default 10)")
    p.add_argument(
        "--device",
        type=_sensor,
        action="append",
        default=[],
        metavar="ADDRESS[,profile=NAME][,id=ID][,placement=P][,rate=HZ]",
        help="a sensor to stream (repeatable)",
    )
    p.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    p.add_argument("--data-dir", type=Path, default=Path("var/gateway"), help="outbox and sequence numbers")
    add_metrics_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scan, or stream until SIGINT or SIGTERM."""
    if args.scan:
        try:
            rows = asyncio.run(scan(args.scan_s))
        except (BleakError, OSError) as err:
            print(f"sitless gateway: cannot scan: {_why(err)}", file=sys.stderr)
            return 1
        for address, name, rssi, profile in rows:
            print(f"{address}  {rssi:4d} dBm  {profile:10s}  {name or ''}")
        if not rows:
            print("no sensor sitless knows was found", file=sys.stderr)
        return 0
    try:
        gateway = Gateway(GatewaySettings(BrokerAddress.parse(args.broker), tuple(args.device), args.data_dir))
    except (ValueError, IngestError) as err:
        print(f"sitless gateway: {err}", file=sys.stderr)
        return 2

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, gateway.stop)
        await gateway.run()

    endpoint = metrics_endpoint(args)
    with contextlib.ExitStack() as stack:
        if endpoint is not None:
            stack.enter_context(MetricsServer(gateway.metrics, endpoint))
        asyncio.run(main())
    return 0
