"""One sensor's stream over BLE: connect, decode, reconnect, buzz.

- **Connect**: find the sensor's advertisement (``BleakScanner``), then connect with
  bleak-retry-connector's ``establish_connection``, which retries the errors a BlueZ,
  CoreBluetooth or ESPHome-proxy connection is known to throw once or twice before it
  holds; pick the profile: the one named, else the first whose service the sensor
  offers. Subscribe to its notifications, then set the sample rate where the sensor
  allows it and start its stream (the profile's writes, with the pauses a profile asks
  for between them); where the sensor reports the rate it settled on, read it and time
  the samples at that rate, as for a sensor whose notifications say their rate (the
  sitless board's packets). A control point's answers go to the decoder (Polar's factor).
- **Decode** each notification (a malformed one is counted and skipped), time the
  samples on the host clock and cut them into packets (``ingest.packetizer``), which
  are numbered, kept and published (:mod:`ingest.gateway.publisher`).
- **Reconnect** with backoff (1 s doubling to 60 s) when the sensor drops or cannot be
  reached (``establish_connection``'s own few retries happen within one attempt); the
  packet being filled goes out first, and the next starts at its true time.
- **Watchdog**: a sensor that stays connected but sends no samples for
  ``GatewaySettings.silence_timeout_s`` (a hung firmware, a stream that never started)
  is counted, disconnected and connected again, its status offline on the way.
- **Buzz**: a ``buzz`` command on the device's ``cmd`` topic becomes the profile's
  writes (a motor, LED or buzzer where the sensor has one).

Without a Bluetooth adapter bleak cannot scan or connect; the gateway says what is
missing and keeps retrying a sensor. Tests and the simulator use bleak's own backend
seam (``BleakClient(..., backend=...)``, ``BleakScanner(..., backend=...)``):
``firmware_sim.ble`` is a simulated sensor that speaks the ``sitless`` profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak_retry_connector import establish_connection

from ingest.errors import ProfileError
from ingest.gateway.publisher import SensorPublisher
from ingest.gateway.settings import GatewaySettings, SensorSpec
from ingest.outbox import Outbox
from ingest.packetizer import Packetizer
from ingest.payloads import Command
from ingest.profiles import PROFILES, Decoder, Profile, Write, identify, nearest_rate
from ingest.profiles.base import BATTERY_LEVEL_UUID

__all__ = ["PACKET_S", "Sensor", "failure_text", "scan", "write_all"]

log = logging.getLogger(__name__)

#: Seconds of samples per packet.
PACKET_S = 0.5


class Sensor(SensorPublisher):
    """One sensor's stream: its connection loop, packets and status (module docstring; :class:`SensorPublisher`)."""

    def __init__(self, spec: SensorSpec, settings: GatewaySettings, outbox: Outbox, counts: Counter[str]) -> None:
        super().__init__(spec, settings, outbox, counts, on_command=self._on_command)
        self._client: BleakClient | None = None
        self._profile: Profile | None = None
        self._decoder: Decoder | None = None
        self._samples_at: float | None = None  # time.monotonic() of this connection's last samples

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop`` is set, reconnecting after every drop."""
        self._loop = asyncio.get_running_loop()
        last_kept = self._kept()
        self.next_seq = self._first_seq(last_kept)
        self._resume(last_kept)
        self.link.start()  # the broker may be away: packets wait on disk meanwhile
        keeping_up = asyncio.ensure_future(self.keep_up(stop))
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
                    log.warning("%s (%s): %s", self.device_id, self.spec.address, failure_text(err))
                self._flush()
                self._publish_status(online=False)
                if stop.is_set():
                    break
                wait_s = first if streamed else min(longest, wait_s * 2)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait_s)
        finally:
            self._closing = True  # what was not handed over stays in the outbox for the next run
            keeping_up.cancel()
            try:
                self.memory.finish(self.next_seq)
            except OSError as err:  # the block reserved before stays: a gap, no number used twice
                self.counts["seq_memory_failures"] += 1
                log.warning("%s: cannot save the next sequence number in %s: %s", self.device_id, self.memory.path, err)
            await asyncio.to_thread(self.link.close, self._status(online=False))

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
                if samples.skipped_bytes:  # a damaged stream, its packets kept (WitMotion's)
                    self.counts["bad_notifications"] += 1
                    log.debug("%s: skipped %d bytes to find a packet", self.device_id, samples.skipped_bytes)
                if samples.rate_hz is not None:  # a sensor that says its rate (the sitless board's packets)
                    self._settle(samples.rate_hz)
                if samples.n:
                    self._samples_at = time.monotonic()
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
            return await self._watch(stop, dropped)
        finally:
            self._client = self._decoder = self._samples_at = None
            if client.is_connected:
                with contextlib.suppress(BleakError, OSError, TimeoutError):
                    await write_all(client, self._profile.stop() if self._profile else [])
                    await client.disconnect()

    async def _watch(self, stop: asyncio.Event, dropped: asyncio.Event) -> bool:
        """Publish the status while the sensor streams; return at ``stop``, a drop, or a silence.

        The watchdog: a sensor connected but sending no samples for
        ``silence_timeout_s`` (a hung firmware, a stream that never started) is counted
        (``silent_sensor``) and let go, to be connected again. The time runs from when
        the stream started, so its first notifications are given as long as the later ones.

        Returns:
            Whether the sensor streamed: False for a silence in which no sample came at all,
            so that the reconnections back off.
        """
        started_s = time.monotonic()
        next_status_s = started_s
        silence_s = self.settings.silence_timeout_s
        while not (stop.is_set() or dropped.is_set()):
            now_s = time.monotonic()
            last_s = max(started_s, self._samples_at or started_s)
            if now_s - last_s >= silence_s:
                self.counts["silent_sensor"] += 1
                log.warning(
                    "%s: connected but no samples for %.0f s: disconnecting to connect again",
                    self.device_id,
                    now_s - last_s,
                )
                return self._samples_at is not None
            if now_s >= next_status_s:
                self._publish_status(online=True)
                next_status_s = now_s + self.settings.status_every_s
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(dropped.wait())]
            timeout_s = min(next_status_s, last_s + silence_s) - now_s
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
        if dropped.is_set():
            log.warning("%s: the sensor dropped the connection", self.device_id)
        return True

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
            log.warning("%s: buzz failed: %s", self.device_id, failure_text(err))


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


def failure_text(err: BaseException) -> str:
    """A BLE failure in one line: a missing Bluetooth service explained, else the error's type and message."""
    if isinstance(err, FileNotFoundError):
        return "no Bluetooth here: the system's D-Bus/BlueZ service is missing (is this a machine with a radio?)"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
