r"""BBC micro:bit (v1 DAL, v2 CODAL): the Bluetooth accelerometer service.

The accelerometer data characteristic notifies one sample per accelerometer update:
three 16-bit little-endian integers X, Y, Z in milli-g. The period characteristic
(uint16 ms, read and write) sets the update period; the firmware snaps a written
period to the nearest one its accelerometer supports and writes the actual one back,
so the gateway reads it after writing (``rate_uuid``, :meth:`MicrobitProfile.settled_rate`)
and times the samples at the rate the board settled on.
The service is off by default: the program on the micro:bit must start it (MakeCode
``bluetooth.startAccelerometerService()``), and its characteristics need the pairing
the program was built with.

The micro:bit has no motor. :meth:`MicrobitProfile.buzz` scrolls a short text on the
LED matrix through the LED service instead, which the program must start as well
(``bluetooth.startLEDService()``).

Sources, checked against the vendor code:

- ``lancaster-university/microbit-dal``, ``source/bluetooth/MicroBitAccelerometerService.cpp``
  (commit 318c6ab): the service, data and period UUIDs; the data buffer holds
  ``getX()``, ``getY()``, ``getZ()`` as three 16-bit values; the period is a uint16
  that the firmware snaps and writes back.
- ``microbit-dal``, ``inc/drivers/MicroBitAccelerometer.h``: ``getX()`` and the others
  return milli-g; ``source/drivers/MicroBitAccelerometer.cpp``: default period 20 ms.
- ``microbit-dal``, ``source/drivers/MMA8653.cpp`` (the v1 accelerometer): periods of
  1.25, 2.5, 5, 10, 20, 80, 160 and 640 ms, that is 1, 2, 5, 10, 20, 80, 160 and
  640 whole ms. The later v1.5 chips snap to other tables (``FXOS8700.cpp``: 2.5 to
  1280 ms; ``LSM303Accelerometer.cpp``: 0.6 to 1000 ms); 20 ms, the default here, is
  in all three.
- ``microbit-dal``, ``source/bluetooth/MicroBitLEDService.cpp`` and
  ``inc/bluetooth/MicroBitLEDService.h``: the LED service and LED text UUIDs; a write
  to the text characteristic scrolls its UTF-8 bytes, at most
  ``MICROBIT_BLE_MAXIMUM_SCROLLTEXT`` = 20 of them.
- ``microbit-dal``, ``source/bluetooth/MicroBitBLEManager.cpp``: the device name is
  ``BBC micro:bit [xxxxx]``.
- ``lancaster-university/codal-microbit-v2``,
  ``source/bluetooth/MicroBitAccelerometerService.cpp``: the same UUIDs and layout on
  the micro:bit v2.
- ``../shared/ble_devices.md`` section 5.1, after the micro:bit documentation
  (https://lancaster-university.github.io/microbit-docs/ble/accelerometer-service/):
  writing a period of 0 crashes the device, so no write here is ever 0. The firmware
  code above does not show the crash; the rule is kept as documented.

>>> PROFILE.start(50.0)
[Write(char_uuid='e95dfb24-251d-470a-a062-fa1922dfa9a8', data=b'\x14\x00', response=True, pause_s=0.0)]
>>> PROFILE.decoder(50.0).decode(b"\xe8\x03\x00\x00\x18\xfc").acc_g
array([[ 1.,  0., -1.]])
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Decoder, Profile, Samples, Write, nearest_rate

__all__ = [
    "ACCELEROMETER_DATA_UUID",
    "ACCELEROMETER_PERIOD_UUID",
    "ACCELEROMETER_SERVICE_UUID",
    "BUZZ_TEXT",
    "LED_SERVICE_UUID",
    "LED_TEXT_UUID",
    "MAX_TEXT_BYTES",
    "PERIODS_MS",
    "PROFILE",
    "MicrobitDecoder",
    "MicrobitProfile",
]

ACCELEROMETER_SERVICE_UUID = "e95d0753-251d-470a-a062-fa1922dfa9a8"
ACCELEROMETER_DATA_UUID = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
ACCELEROMETER_PERIOD_UUID = "e95dfb24-251d-470a-a062-fa1922dfa9a8"
LED_SERVICE_UUID = "e95dd91d-251d-470a-a062-fa1922dfa9a8"
LED_TEXT_UUID = "e95d93ee-251d-470a-a062-fa1922dfa9a8"

#: Accelerometer periods the micro:bit v1 supports, ms, longest first so that the
#: rates (1000 / period) ascend. Never 0: a period of 0 crashes the device.
PERIODS_MS: tuple[int, ...] = (640, 160, 80, 20, 10, 5, 2, 1)
#: Longest text the LED text characteristic takes, UTF-8 bytes (MICROBIT_BLE_MAXIMUM_SCROLLTEXT).
MAX_TEXT_BYTES = 20
#: What the LED matrix scrolls for a buzz: short enough to read in one pass.
BUZZ_TEXT = "MOVE"

_NAME_PREFIX = "BBC micro:bit"
_SAMPLE = struct.Struct("<3h")
_PERIOD = struct.Struct("<H")
_MILLI_G_PER_G = 1000.0


class MicrobitDecoder:
    """Decodes accelerometer data notifications: one sample of three int16 milli-g each."""

    def decode(self, data: bytes | bytearray) -> Samples:
        """Decode one notification.

        Args:
            data: The notification: X, Y, Z as int16 little-endian milli-g (6 bytes).

        Returns:
            One sample: ``acc_g`` of shape (1, 3) in g, no gyro, no time stamps.

        Raises:
            ProfileError: The notification is not 6 bytes long.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProfileError(f"micro:bit notification must be bytes, got {type(data).__name__}")
        if len(data) != _SAMPLE.size:
            raise ProfileError(f"micro:bit accelerometer notification of {len(data)} bytes, expected {_SAMPLE.size}")
        milli_g = np.array(_SAMPLE.unpack(data), dtype=np.float64)
        return Samples(acc_g=(milli_g / _MILLI_G_PER_G).reshape(1, 3))

    def reply(self, data: bytes) -> None:
        """Nothing to take: this sensor has no control point whose answers change decoding."""


class MicrobitProfile:
    """The micro:bit accelerometer service (module docstring)."""

    name = "microbit"
    service_uuid = ACCELEROMETER_SERVICE_UUID
    notify_uuid = ACCELEROMETER_DATA_UUID
    rates_hz: tuple[float, ...] = tuple(1000.0 / period_ms for period_ms in PERIODS_MS)
    indicate_uuids: tuple[str, ...] = ()
    rate_uuid: str | None = ACCELEROMETER_PERIOD_UUID

    def for_name(self, local_name: str | None) -> MicrobitProfile:
        """Itself: one model."""
        return self

    def matches(self, local_name: str | None, service_uuids: Sequence[str]) -> bool:
        """Whether a scanned device advertises the accelerometer service or a micro:bit name.

        Args:
            local_name: The advertised name (``BBC micro:bit [zogav]``), or None.
            service_uuids: The advertised service UUIDs, any case.

        Returns:
            True for a micro:bit.
        """
        if any(uuid.lower() == ACCELEROMETER_SERVICE_UUID for uuid in service_uuids):
            return True
        return local_name is not None and local_name.startswith(_NAME_PREFIX)

    def start(self, rate_hz: float) -> list[Write]:
        """Write the supported period nearest ``rate_hz``; notifications start on subscribing.

        Args:
            rate_hz: The wanted sample rate, Hz; snapped to the nearest of ``rates_hz``.

        Returns:
            One write of the period characteristic: uint16 little-endian ms, never 0.

        Raises:
            ValueError: ``rate_hz`` is not a finite number > 0.
        """
        period_ms = PERIODS_MS[self.rates_hz.index(nearest_rate(self.rates_hz, rate_hz))]
        return [Write(ACCELEROMETER_PERIOD_UUID, struct.pack("<H", period_ms))]

    def stop(self) -> list[Write]:
        """No writes: unsubscribing from the data characteristic stops the notifications."""
        return []

    def decoder(self, rate_hz: float) -> Decoder:
        """A decoder; the micro:bit sends no time stamps, so the rate is not needed to decode."""
        return MicrobitDecoder()

    def buzz(self, command: Command) -> list[Write]:
        """Scroll :data:`BUZZ_TEXT` on the LED matrix for a ``buzz`` command (no motor on a micro:bit).

        Args:
            command: The command; only ``buzz`` makes writes.

        Returns:
            One write of the LED text characteristic, or none for another command.
        """
        if command.cmd != "buzz":
            return []
        text = BUZZ_TEXT.encode("utf-8")[:MAX_TEXT_BYTES]
        return [Write(LED_TEXT_UUID, text)]

    def settled_rate(self, data: bytes) -> float:
        """The rate of the period the micro:bit wrote back after snapping the one asked (module docstring).

        Args:
            data: A read of the period characteristic: uint16 little-endian ms.

        Returns:
            ``1000 / period`` Hz; a v1.5 board may settle on a period outside :data:`PERIODS_MS`.

        Raises:
            ProfileError: Not 2 bytes, or a period of 0.

        >>> PROFILE.settled_rate(bytes.fromhex("1400")), PROFILE.settled_rate(bytes.fromhex("0a00"))
        (50.0, 100.0)
        """
        if len(data) != _PERIOD.size:
            raise ProfileError(f"micro:bit period of {len(data)} bytes, expected {_PERIOD.size}")
        period_ms: int = _PERIOD.unpack(data)[0]
        if period_ms == 0:
            raise ProfileError("micro:bit reports an accelerometer period of 0 ms")
        return 1000.0 / period_ms


#: The profile instance the gateway registers.
PROFILE: Profile = MicrobitProfile()
