"""WitMotion WT901BLE / BWT901BLE5.0: the 20-byte ``0x55 0x61`` packets of its serial-over-BLE service.

The sensor streams without being asked: every output period it notifies a 20-byte
packet, ``0x55 0x61`` and nine int16 little-endian values (acceleration x, y, z;
angular rate x, y, z; roll, pitch, yaw). Acceleration is ``raw / 32768 * 16`` g and
angular rate ``raw / 32768 * 2000`` deg/s; the angles are not used by sitless. A reply to
a register read (``FF AA 27 <reg> 00``) comes back as a 20-byte ``0x55 0x71`` packet,
which carries no samples and is skipped.

A notification may hold several packets back to back, and a packet may be split
across notifications. The vendor's Python SDK keeps the bytes of an unfinished packet
until the next notification, and so does :class:`WitMotionDecoder`: it decodes every
whole packet, and keeps a trailing partial packet (at most 19 bytes, starting ``0x55``,
then ``0x61`` or ``0x71``) for the next call. Bytes that start no packet (a byte lost
or added on the way, after which every packet would be misread) are skipped up to the
next header, as the SDK skips them; the decoder says how many
(``Samples.skipped_bytes``) and the gateway counts such a notification as a bad one.

Commands are 5-byte writes ``FF AA <register> <low> <high>``. The output rate is
register 0x03; the SDKs write it between an unlock (``FF AA 69 88 B5``) and a save
(``FF AA 00 00 00``), which stores it in the sensor's flash. The sensor has no motor,
LED or buzzer a client can drive, so :meth:`WitMotionProfile.buzz` makes no writes.

Sources, checked against the vendor code (``WITMOTION/WitBluetooth_BWT901BLE5_0``,
commit 9efaab0):

- ``Python/BWT901BLE5.0_python_sdk/device_model.py``: service ``ffe5``, notify ``ffe4``,
  write ``ffe9``; ``onDataReceived`` buffers bytes across notifications, keeps a
  packet that starts ``0x55`` then ``0x61`` or ``0x71`` and decodes it at 20 bytes;
  ``processData`` gives the scales above; ``writeReg`` sends unlock, the register
  write and save, 100 ms apart; ``get_writeBytes`` gives the command layout.
- ``Android_Java/wit-example-ble5/WitSDK/src/main/java/com/wit/witsdk/Device/DeviceModel.java``:
  ``SetRRate`` maps 1, 5, 10, 50, 100 and 200 Hz to codes 3, 5, 6, 8, 9 and 11 of
  register 0x03 and then saves. Only these rates are used here (a third-party table,
  ``LiDline/witmotion_wt901blecl_ts:src/functions/CommandsForDevice.ts``, adds
  code 7 = 20 Hz and the slower ones, which the vendor code does not show).
- ``IOS_swift/BleExample/BleExampleApp.swift`` (``setBackRate50hz``: unlock,
  ``FF AA 03 08 00``, save), ``IOS_swift/WitSDK/WitSensorApi/Modular/Ble5/Bwt901ble.swift``
  (the unlock and save bytes) and
  ``IOS_swift/WitSDK/Sensor/Modular/Connector/Modular/BluetoothBLE.swift`` (commands
  are written without response).
- ``Android_Java/wit-example-ble5/app/src/main/java/com/wit/example/MainActivity.java``:
  the vendor app lists devices whose name starts ``WT``.

>>> [(w.data.hex(" "), w.pause_s) for w in PROFILE.start(50.0)]
[('ff aa 69 88 b5', 0.1), ('ff aa 03 08 00', 0.1), ('ff aa 00 00 00', 0.0)]
>>> packet = bytes.fromhex("5561 0008 0000 0000 0000 0000 0000 0000 0000 0000")
>>> PROFILE.decoder(50.0).decode(packet).acc_g
array([[1., 0., 0.]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Decoder, Profile, Samples, Write, nearest_rate

__all__ = [
    "COMMAND_PAUSE_S",
    "NOTIFY_UUID",
    "PACKET_BYTES",
    "PROFILE",
    "RATE_CODES",
    "SAVE",
    "SERVICE_UUID",
    "UNLOCK",
    "WRITE_UUID",
    "WitMotionDecoder",
    "WitMotionProfile",
]

SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"

#: Unlocks the configuration registers for the next write.
UNLOCK = bytes.fromhex("ffaa6988b5")
#: Stores the registers in flash.
SAVE = bytes.fromhex("ffaa000000")
#: Wait after the unlock and after a register write, s: ``device_model.py`` ``writeReg``
#: sleeps 0.1 s between unlock, write and save.
COMMAND_PAUSE_S = 0.1
#: Output rate, Hz -> code of register 0x03, as the vendor's Android SDK sets them.
RATE_CODES: dict[float, int] = {1.0: 0x03, 5.0: 0x05, 10.0: 0x06, 50.0: 0x08, 100.0: 0x09, 200.0: 0x0B}
_RATE_REGISTER = 0x03

#: Length of one packet, bytes.
PACKET_BYTES = 20
_START = 0x55
_SAMPLE_KIND = 0x61  # acceleration, angular rate, angles
_REPLY_KIND = 0x71  # reply to a register read: no samples
_KINDS = (_SAMPLE_KIND, _REPLY_KIND)
_ACC_G_PER_LSB = 16.0 / 32768.0
_GYRO_DPS_PER_LSB = 2000.0 / 32768.0

_NAME_PREFIX = "WT"


def _command(register: int, value: int) -> bytes:
    """A register write ``FF AA <register> <value low> <value high>``.

    >>> _command(0x03, 0x08).hex(" ")
    'ff aa 03 08 00'
    """
    return bytes((0xFF, 0xAA, register, value & 0xFF, value >> 8))


def _starts_packet(stream: bytes, i: int) -> bool:
    """Whether the bytes from ``i`` on can be the start of a packet: ``55``, then ``61`` or ``71`` if there."""
    return stream[i] == _START and (i + 1 == len(stream) or stream[i + 1] in _KINDS)


class WitMotionDecoder:
    """Decodes notifications into samples, keeping a partial packet for the next notification.

    >>> decoder = WitMotionDecoder()
    >>> packet = bytes.fromhex("5561 0008 0000 0000 0010 0000 0000 0000 0000 0000")
    >>> decoder.decode(packet[:7]).n, decoder.decode(packet[7:] + packet).n
    (0, 2)
    """

    def __init__(self) -> None:
        self._pending = b""

    def decode(self, data: bytes | bytearray) -> Samples:
        """Decode one notification, with the partial packet left by the one before.

        Args:
            data: The notification: 20-byte packets back to back, maybe with a partial
                packet at either end, or bytes that start none (skipped).

        Returns:
            The samples of the whole ``0x55 0x61`` packets: ``acc_g`` (n, 3) in g and
            ``gyro_dps`` (n, 3) in deg/s, no time stamps, n maybe 0; and the bytes
            skipped to find a packet's start (``skipped_bytes``).

        Raises:
            ProfileError: An empty notification, or not bytes.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProfileError(f"WitMotion notification must be bytes, got {type(data).__name__}")
        if len(data) == 0:
            raise ProfileError("empty WitMotion notification")
        stream = self._pending + bytes(data)
        samples: list[bytes] = []
        i = skipped = 0
        while i < len(stream):
            if not _starts_packet(stream, i):
                start = stream.find(_START, i + 1)
                start = len(stream) if start < 0 else start
                skipped += start - i
                i = start
            elif len(stream) - i < PACKET_BYTES:
                break  # a partial packet: kept for the next notification
            else:
                if stream[i + 1] == _SAMPLE_KIND:
                    samples.append(stream[i : i + PACKET_BYTES])
                i += PACKET_BYTES
        self._pending = stream[i:]
        # Each packet as ten int16: the header, then ax ay az, wx wy wz, roll pitch yaw.
        raw = np.frombuffer(b"".join(samples), dtype="<i2").reshape(-1, PACKET_BYTES // 2).astype(np.float64)
        return Samples(
            acc_g=raw[:, 1:4] * _ACC_G_PER_LSB, gyro_dps=raw[:, 4:7] * _GYRO_DPS_PER_LSB, skipped_bytes=skipped
        )

    def reply(self, data: bytes) -> None:
        """Nothing to take: this sensor has no control point whose answers change decoding."""


class WitMotionProfile:
    """The WT901BLE serial-over-BLE stream (module docstring)."""

    name = "witmotion"
    service_uuid = SERVICE_UUID
    notify_uuid = NOTIFY_UUID
    rates_hz: tuple[float, ...] = tuple(sorted(RATE_CODES))
    indicate_uuids: tuple[str, ...] = ()
    rate_uuid: str | None = None

    def for_name(self, local_name: str | None) -> WitMotionProfile:
        """Itself: one model."""
        return self

    def matches(self, local_name: str | None, service_uuids: Sequence[str]) -> bool:
        """Whether a scanned device advertises the ``ffe5`` service or a ``WT`` name.

        Args:
            local_name: The advertised name (``WT901BLE67`` and the like), or None.
            service_uuids: The advertised service UUIDs, any case.

        Returns:
            True for a WitMotion sensor. ``ffe5`` is a generic serial-over-BLE UUID that
            other modules may use as well: pick the device by address when in doubt.
        """
        if any(uuid.lower() == SERVICE_UUID for uuid in service_uuids):
            return True
        return local_name is not None and local_name.startswith(_NAME_PREFIX)

    def start(self, rate_hz: float) -> list[Write]:
        """Unlock, set the output rate nearest ``rate_hz`` and save; the sensor streams by itself.

        The vendor's Python SDK waits 100 ms after the unlock and after the register write
        (``writeReg``): each of those writes carries that pause (:data:`COMMAND_PAUSE_S`).

        Args:
            rate_hz: The wanted sample rate, Hz; snapped to the nearest of ``rates_hz``.

        Returns:
            Three writes without response to the write characteristic.

        Raises:
            ValueError: ``rate_hz`` is not a finite number > 0.
        """
        code = RATE_CODES[nearest_rate(self.rates_hz, rate_hz)]
        return [
            Write(WRITE_UUID, UNLOCK, response=False, pause_s=COMMAND_PAUSE_S),
            Write(WRITE_UUID, _command(_RATE_REGISTER, code), response=False, pause_s=COMMAND_PAUSE_S),
            Write(WRITE_UUID, SAVE, response=False),
        ]

    def stop(self) -> list[Write]:
        """No writes: the sensor streams whenever it is on; unsubscribing is enough."""
        return []

    def decoder(self, rate_hz: float) -> Decoder:
        """A fresh decoder, with no partial packet kept; the rate is not needed to decode."""
        return WitMotionDecoder()

    def buzz(self, command: Command) -> list[Write]:
        """No writes: the sensor has no motor, LED or buzzer a client can drive."""
        return []

    def settled_rate(self, data: bytes) -> float:
        """Never called: the sensor does not report the rate it settled on (``rate_uuid`` is None)."""
        raise ProfileError(f"the {self.name} profile has no rate to read back")


#: The profile instance the gateway registers.
PROFILE: Profile = WitMotionProfile()
