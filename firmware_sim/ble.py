"""A simulated wearable that speaks the ``sitless`` BLE profile, behind bleak's own backend seam.

There is no Bluetooth radio in CI or in the demo machine's container, so the gateway is
driven through bleak's supported test seam: ``BleakClient(address, backend=SimClient)``
and ``BleakScanner(backend=SimScanner)`` (``ingest.gateway`` passes ``backend``).
The gateway keeps calling bleak's public API; only the backend below it is simulated.

A :class:`SimSensor` registered under an address plays a script
(``firmware_sim.device.iter_packets``: the same packets the MQTT simulator sends) as
notifications of the profile's packet characteristic (``ingest.profiles.sitless``),
on the clock the gateway writes when it connects, ``speed`` times faster than real
time. It takes the ``rate`` and ``buzz`` commands, offers the Battery Service, and can
be switched off and on (:meth:`SimSensor.power`) to drop the connection as a sensor
that goes out of range does, or hung (:meth:`SimSensor.hang`): connected, subscribed,
and silent, as firmware whose stream stopped or never started. It records when each write reached it
(:attr:`SimSensor.writes`), so that tests can check the pauses a profile asks for.

The backends follow bleak's so that helpers built on bleak work on them too (the
gateway connects through bleak-retry-connector's ``establish_connection``): the
scanner keeps reporting each sensor that is on every :data:`ADVERTISING_INTERVAL_S`
while it scans, as a radio hears repeated advertisements (``BleakScanner.find_device_by_address``
listens for them only once scanning has started); connecting to a sensor that is off
raises ``BleakDeviceNotFoundError``, as bleak's BlueZ backend does when the device is
not found.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.scenarios import Script
from ingest.payloads import Command
from ingest.profiles.base import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID
from ingest.profiles.sitless import CLOCK_UUID, COMMAND_UUID, PACKET_UUID, SERVICE_UUID

__all__ = ["ADVERTISING_INTERVAL_S", "SimClient", "SimScanner", "SimSensor", "new_address", "register", "unregister"]

_MTU = 247
#: How often a simulated sensor advertises, s: within the 20 ms to 10.24 s advertising
#: interval of the Bluetooth Core Specification (Vol 6, Part B, 4.4.2.2.1, advInterval),
#: and short so that a test's scan finds a sensor at once.
ADVERTISING_INTERVAL_S = 0.05

_sensors: dict[str, SimSensor] = {}
_sensors_lock = threading.Lock()


class SimSensor:
    """One simulated sensor (module docstring).

    Args:
        address: Its Bluetooth address.
        script: What its wearer does.
        settings: Placement, rate, seed, packet size and speed of the simulation (its
            ``device_id``, ``broker`` and ``start_s`` are not used: the gateway names
            and times it).
        name: The local name it advertises.
        rssi_dbm: The signal strength a scan reports.
        duplicate_every: Send every n-th notification twice (0: never), as a radio
            stack that repeats a notification does.
        swap_every: Send every n-th notification after the one that follows it (0: never).
        burst_every: Hold every n notifications and send them at once (0: never), as
            after a stall of the link.
        failed_connects: Refuse this many connections first with ``connect_error``, as
            BlueZ refuses one now and then with ``le-connection-abort-by-local``.
        connect_error: The ``BleakError`` message of a refused connection.
    """

    def __init__(
        self,
        address: str,
        script: Script,
        settings: DeviceSettings,
        name: str = "sitless-sim",
        rssi_dbm: int = -60,
        *,
        duplicate_every: int = 0,
        swap_every: int = 0,
        burst_every: int = 0,
        failed_connects: int = 0,
        connect_error: str = "[org.bluez.Error.Failed] le-connection-abort-by-local",
    ) -> None:
        self.address = address
        self.script = script
        self.settings = settings
        self.name = name
        self.rssi_dbm = rssi_dbm
        self.battery_pct = 97
        self.commands: list[Command] = []
        #: Every write that reached it: (``time.monotonic()`` s, characteristic UUID, bytes).
        self.writes: list[tuple[float, str, bytes]] = []
        self.clock_s: float | None = None  # host time written at the last connection
        self.packets_sent = 0  # distinct packets notified (repeats not counted)
        self.duplicate_every, self.swap_every, self.burst_every = duplicate_every, swap_every, burst_every
        self.failed_connects, self.connect_error = failed_connects, connect_error
        self.connect_calls = 0  # connections tried, refused ones included
        self._on = True
        self._hung = False
        self._next_seq = 0
        self._sim_s = 0.0  # simulated seconds played so far, across connections
        self._links: list[Callable[[], None]] = []  # each connection's "the link is lost"

    @property
    def on(self) -> bool:
        """Whether it is powered and in range."""
        return self._on

    def power(self, on: bool) -> None:
        """Switch it off (the connection drops, connecting fails) or on again."""
        self._on = on
        if not on:
            for lost in list(self._links):
                lost()

    @property
    def hung(self) -> bool:
        """Whether its firmware is hung: the link stays up, nothing is notified."""
        return self._hung

    def hang(self, hung: bool) -> None:
        """Hang its firmware (connections hold, notifications stop; the samples meanwhile are lost) or let it go on."""
        self._hung = hung

    def attach(self, lost: Callable[[], None]) -> None:
        """A connection was made; ``lost`` is called if the sensor goes off."""
        self._links.append(lost)

    def detach(self, lost: Callable[[], None]) -> None:
        """The connection ended."""
        if lost in self._links:
            self._links.remove(lost)

    def _stream(self, start_s: float) -> Any:
        """The packets from where the last connection stopped, timed from ``start_s``."""
        return iter_packets(self.script, self.settings, start_s, self._next_seq)


def register(sensor: SimSensor) -> None:
    """Make ``sensor`` reachable by scans and connections through the simulated backends."""
    with _sensors_lock:
        _sensors[sensor.address.upper()] = sensor


def unregister(sensor: SimSensor) -> None:
    """Take ``sensor`` away (it no longer advertises)."""
    with _sensors_lock:
        _sensors.pop(sensor.address.upper(), None)


def _sensor(address: str) -> SimSensor | None:
    with _sensors_lock:
        return _sensors.get(address.upper())


def _services() -> BleakGATTServiceCollection:
    """The GATT table of a simulated sensor: the sitless service and the Battery Service."""
    table: tuple[tuple[str, tuple[tuple[str, CharacteristicPropertyName], ...]], ...] = (
        (SERVICE_UUID, ((PACKET_UUID, "notify"), (COMMAND_UUID, "write"), (CLOCK_UUID, "write"))),
        (BATTERY_SERVICE_UUID, ((BATTERY_LEVEL_UUID, "read"),)),
    )
    collection = BleakGATTServiceCollection()
    handle = 1
    for service_uuid, chars in table:
        service = BleakGATTService(None, handle, service_uuid)
        collection.add_service(service)
        handle += 1
        for char_uuid, prop in chars:
            char = BleakGATTCharacteristic(None, handle, char_uuid, [prop], lambda: _MTU - 3, service)
            collection.add_characteristic(char)  # adds it to its service too
            handle += 2
    return collection


class SimClient(BaseBleakClient):
    """bleak client backend connected to a :class:`SimSensor` instead of a radio."""

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=float(kwargs.get("timeout", 10.0)),
        )
        self._connected = False
        self._task: asyncio.Task[None] | None = None
        self._sensor: SimSensor | None = None

    @property
    def name(self) -> str:
        """The sensor's advertised name."""
        sensor = _sensor(self.address)
        return sensor.name if sensor is not None else self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The MTU a sitless board asks for (docs/firmware.md)."""
        return _MTU

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, if the sensor is registered and on."""
        sensor = _sensor(self.address)
        if sensor is None or not sensor.on:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        sensor.connect_calls += 1
        if sensor.failed_connects > 0:
            sensor.failed_connects -= 1
            raise BleakError(sensor.connect_error)
        self._sensor = sensor
        self.services = _services()
        self._connected = True
        sensor.attach(self._dropped)

    def _dropped(self) -> None:
        """The sensor went off: the link is lost, as the OS reports it."""
        loop = self._task.get_loop() if self._task is not None else None
        self._close()
        callback = self._disconnected_callback
        if callback is not None:
            if loop is not None:
                loop.call_soon_threadsafe(callback)
            else:
                callback()

    def _close(self) -> None:
        self._connected = False
        if self._sensor is not None:
            self._sensor.detach(self._dropped)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def disconnect(self) -> None:
        """Disconnect."""
        self._close()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to pair."""

    async def unpair(self) -> None:
        """Nothing to unpair."""

    @property
    def is_connected(self) -> bool:
        """Whether connected."""
        return self._connected

    def _live(self) -> SimSensor:
        if not self._connected or self._sensor is None:
            raise BleakError("Not connected")
        return self._sensor

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """The battery level; other characteristics cannot be read."""
        sensor = self._live()
        if characteristic.uuid == BATTERY_LEVEL_UUID:
            return bytearray([sensor.battery_pct])
        raise BleakError(f"characteristic {characteristic.uuid} cannot be read")

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """No descriptors."""
        raise BleakError("no descriptors")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        """The clock (float64 LE epoch seconds) or a command (JSON); every write is recorded with its time."""
        sensor = self._live()
        sensor.writes.append((time.monotonic(), characteristic.uuid, bytes(data)))
        if characteristic.uuid == CLOCK_UUID:
            (sensor.clock_s,) = struct.unpack("<d", bytes(data))
        elif characteristic.uuid == COMMAND_UUID:
            sensor.commands.append(Command.parse(bytes(data)))
        else:
            raise BleakError(f"characteristic {characteristic.uuid} cannot be written")

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """No descriptors."""
        raise BleakError("no descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Start playing the script as packet notifications."""
        sensor = self._live()
        if characteristic.uuid != PACKET_UUID:
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        self._task = asyncio.create_task(self._play(sensor, callback))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Stop the notifications."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _play(self, sensor: SimSensor, callback: NotifyCallback) -> None:
        """Notify each packet when its last sample is taken, on the clock the gateway set."""
        start_s = sensor.clock_s if sensor.clock_s is not None else time.time()
        wall0, sim0 = time.monotonic(), sensor._sim_s
        speed = sensor.settings.speed
        held: list[tuple[bytes, bool]] = []  # swapped or bursting notifications (and whether a copy) waiting
        for k, packet in enumerate(sensor._stream(start_s + sim0), start=1):
            due = wall0 + packet.sim_end_s / speed
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            sensor._next_seq = packet.seq + 1
            sensor._sim_s = sim0 + packet.sim_end_s
            if packet.payload is None or sensor.hung:
                continue
            out = [(packet.payload, False)]
            if sensor.duplicate_every and k % sensor.duplicate_every == 0:
                out.append((packet.payload, True))
            if sensor.swap_every and k % sensor.swap_every == 0:
                held += out  # goes out after the next one
                continue
            if sensor.burst_every and k % sensor.burst_every:
                held += out
                continue
            for payload, copy in out + held if held and not sensor.burst_every else held + out:
                callback(bytearray(payload))
                sensor.packets_sent += not copy
            held = []


class SimScanner(BaseBleakScanner):
    """bleak scanner backend that hears every registered :class:`SimSensor` that is on."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None = None,
        service_uuids: list[str] | None = None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start hearing the sensors' advertisements, every :data:`ADVERTISING_INTERVAL_S` until :meth:`stop`."""
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            self._hear()
            await asyncio.sleep(ADVERTISING_INTERVAL_S)

    def _hear(self) -> None:
        """Report the advertisement of each sensor that is on."""
        with _sensors_lock:
            sensors = list(_sensors.values())
        for sensor in sensors:
            if not sensor.on:
                continue
            adv = AdvertisementData(
                local_name=sensor.name,
                manufacturer_data={},
                service_data={},
                service_uuids=[SERVICE_UUID],
                tx_power=None,
                rssi=sensor.rssi_dbm,
                platform_data=(),
            )
            device = self.create_or_update_device(sensor.address, sensor.address, sensor.name, None, adv)
            self.call_detection_callbacks(device, adv)

    async def stop(self) -> None:
        """Stop hearing advertisements."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def set_scanning_filter(self, **kwargs: Any) -> None:
        """Filters are not simulated."""


def new_address() -> str:
    """A random, locally administered Bluetooth address for a simulated sensor.

    >>> len(new_address().split(":"))
    6
    """
    raw = uuid.uuid4().bytes[:6]
    return ":".join(f"{b:02X}" for b in bytes([raw[0] | 0xC0]) + raw[1:])
