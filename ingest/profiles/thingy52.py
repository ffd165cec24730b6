"""Nordic Thingy:52: the raw data of the Thingy Motion Service (TMS), and its speaker.

The raw characteristic notifies one 18-byte sample per motion-processing period:
accelerometer, gyroscope and compass, three int16 little-endian each. The firmware
turns its 16Q16 fixed-point values into Q6.10 for acceleration (``/ 1024`` gives g),
Q11.5 for angular rate (``/ 32`` gives deg/s) and Q12.4 for the compass (µT, not used
by sitless). The motion configuration characteristic sets the motion-processing
frequency: 9 bytes, ``uint16 pedo_interval_ms, uint16 temp_interval_ms,
uint16 compass_interval_ms, uint16 motion_freq_hz, uint8 wake_on_motion``; the Thingy
refuses (WRITE_NOT_PERMITTED) a configuration out of range and stores an accepted one in
flash, so the rate stays set across power cycles. Subscribing to the raw
characteristic starts the raw stream and unsubscribing stops it.

:meth:`Thingy52Profile.buzz` beeps the speaker through the Thingy Sound Service: it
sets the speaker to tone mode, then writes ``uint16 freq_hz, uint16 duration_ms,
uint8 volume_pct``. It leaves the RGB LED alone, because the firmware stores every LED
write in flash and so would change the Thingy's own LED pattern for good.

The Thingy advertises its configuration service (``ef680100-…``) and the name
``Thingy`` (which its owner can change), not the motion service.

Sources, checked against the vendor code (``NordicSemiconductor/Nordic-Thingy52-FW``,
commit 6ada0a9):

- ``include/ble_services/ble_tms.h``: ``ble_tms_raw_t`` (accel, gyro, compass as three
  int16 each, packed), ``ble_tms_config_t`` (the 9-byte layout above), and the accepted
  ranges: pedometer and temperature 100-5000 ms, compass 100-1000 ms, motion
  frequency 5-200 Hz, wake on motion 0 or 1.
- ``source/ble_services/ble_tms.c``: the TMS base UUID
  ``ef68xxxx-9b35-4933-9b10-52ffa9740042``, service 0x0400, config 0x0401, raw 0x0406;
  a configuration of the wrong length or out of range is refused.
- ``source/modules/m_motion.c``: the raw values are 16Q16 shifted right by 6 (accel),
  11 (gyro) and 12 (compass) integer bits, which leaves 10, 5 and 4 fractional bits;
  their debug log names the units G's, deg/s and uT; a received configuration is
  stored in flash; (un)subscribing to raw enables or disables the raw feature.
- ``include/modules/m_motion.h``: ``MOTION_DEFAULT_CONFIG`` = pedometer 1000 ms,
  temperature 500 ms, compass 500 ms, motion 10 Hz, wake on motion 1.
- ``source/drivers/drv_motion.c`` and ``libs/eMD6/core/driver/eMPL/inv_mpu_dmp_motion_driver.c``:
  the motion frequency goes to ``dmp_set_fifo_rate``, whose divider is
  ``200 / rate - 1`` (``DMP_SAMPLE_RATE`` = 200), so the rates kept here are those that
  divide 200 Hz exactly (each also divides the 1 kHz gyro rate of ``mpu_set_sample_rate``).
- ``include/ble_services/ble_tss.h`` and ``source/ble_services/ble_tss.c``: sound service
  0x0500, config 0x0501 (``spkr_mode``, ``mic_mode``: one byte each, the firmware being
  built with ``--short-enums`` in ``project/pca20020_s132/armgcc/Makefile``; speaker
  mode 1 = frequency, mic mode 1 = ADPCM, its default), speaker 0x0502 (write without
  response; ``ble_tss_spkr_freq_t`` = uint16 freq, uint16 duration_ms, uint8 volume).
- ``source/modules/m_sound.c`` and ``source/drivers/drv_speaker.c``: a 5-byte speaker
  write in frequency mode plays a tone; the frequency must be >= 100 Hz and the volume
  <= 100; the sound configuration is not stored in flash.
- ``source/ble_services/ble_uis.c`` and ``source/modules/m_ui.c``: an LED write is stored
  in flash (hence no LED buzz).
- ``source/modules/m_ble.c`` and ``project/pca20020_s132/config/thingy_config.h``: the
  advertising data holds the configuration service UUID (0x0100) and the name ``Thingy``.

>>> PROFILE.start(50.0)[0].data.hex(" ")
'e8 03 f4 01 f4 01 32 00 01'
>>> PROFILE.decoder(50.0).decode(bytes.fromhex("0004 0000 00fc 2000 0000 0000 0000 0000 0000")).gyro_dps
array([[1., 0., 0.]])
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Decoder, Profile, Samples, Write, nearest_rate

__all__ = [
    "BUZZ_FREQ_HZ",
    "BUZZ_VOLUME_PCT",
    "CONFIGURATION_SERVICE_UUID",
    "MOTION_CONFIG_UUID",
    "MOTION_SERVICE_UUID",
    "PROFILE",
    "RAW_DATA_UUID",
    "SOUND_CONFIG_UUID",
    "SOUND_SERVICE_UUID",
    "SPEAKER_DATA_UUID",
    "Thingy52Decoder",
    "Thingy52Profile",
]


def _thingy_uuid(short: int) -> str:
    """A UUID on the Thingy base ``ef68xxxx-9b35-4933-9b10-52ffa9740042``.

    >>> _thingy_uuid(0x0406)
    'ef680406-9b35-4933-9b10-52ffa9740042'
    """
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


CONFIGURATION_SERVICE_UUID = _thingy_uuid(0x0100)
MOTION_SERVICE_UUID = _thingy_uuid(0x0400)
MOTION_CONFIG_UUID = _thingy_uuid(0x0401)
RAW_DATA_UUID = _thingy_uuid(0x0406)
SOUND_SERVICE_UUID = _thingy_uuid(0x0500)
SOUND_CONFIG_UUID = _thingy_uuid(0x0501)
SPEAKER_DATA_UUID = _thingy_uuid(0x0502)

# MOTION_DEFAULT_CONFIG (m_motion.h): what start() writes besides the motion frequency.
_PEDO_INTERVAL_MS = 1000
_TEMP_INTERVAL_MS = 500
_COMPASS_INTERVAL_MS = 500
_WAKE_ON_MOTION = 1
_CONFIG = struct.Struct("<HHHHB")

_RAW = struct.Struct("<9h")
_ACC_LSB_PER_G = 1024.0  # Q6.10
_GYRO_LSB_PER_DPS = 32.0  # Q11.5

# Sound: speaker mode 1 = frequency (tone), mic mode 1 = ADPCM, the firmware's own defaults.
_SOUND_CONFIG_TONE = bytes([1, 1])
_TONE = struct.Struct("<HHB")
#: Tone of a buzz, Hz: well inside the small speaker's band and over the 100-Hz minimum.
BUZZ_FREQ_HZ = 1000
#: Loudness of a buzz, percent (the firmware's maximum: a reminder the wearer must hear).
BUZZ_VOLUME_PCT = 100
# Tone length per command pattern (docs/protocol.md: ``long`` for an alert, ``short`` for a nudge).
_BUZZ_MS = {"long": 1000, "short": 200}
_BUZZ_DEFAULT_MS = 500

_NAME = "Thingy"


class Thingy52Decoder:
    """Decodes raw-data notifications: one sample of accelerometer, gyroscope and compass."""

    def decode(self, data: bytes | bytearray) -> Samples:
        """Decode one notification.

        Args:
            data: The 18-byte raw sample: accel, gyro, compass as three int16 LE each.

        Returns:
            One sample: ``acc_g`` (1, 3) in g and ``gyro_dps`` (1, 3) in deg/s, no time
            stamps. The compass is dropped.

        Raises:
            ProfileError: The notification is not 18 bytes long.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProfileError(f"Thingy:52 notification must be bytes, got {type(data).__name__}")
        if len(data) != _RAW.size:
            raise ProfileError(f"Thingy:52 raw notification of {len(data)} bytes, expected {_RAW.size}")
        raw = np.array(_RAW.unpack(data), dtype=np.float64)
        return Samples(
            acc_g=(raw[0:3] / _ACC_LSB_PER_G).reshape(1, 3),
            gyro_dps=(raw[3:6] / _GYRO_LSB_PER_DPS).reshape(1, 3),
        )

    def reply(self, data: bytes) -> None:
        """Nothing to take: this sensor has no control point whose answers change decoding."""


class Thingy52Profile:
    """The Thingy:52 motion service's raw stream and its speaker (module docstring)."""

    name = "thingy52"
    service_uuid = MOTION_SERVICE_UUID
    notify_uuid = RAW_DATA_UUID
    #: Motion frequencies that divide the DMP's 200 Hz exactly (module docstring), Hz.
    rates_hz: tuple[float, ...] = (5.0, 10.0, 20.0, 25.0, 40.0, 50.0, 100.0, 200.0)
    indicate_uuids: tuple[str, ...] = ()
    rate_uuid: str | None = None

    def for_name(self, local_name: str | None) -> Thingy52Profile:
        """Itself: one model."""
        return self

    def matches(self, local_name: str | None, service_uuids: Sequence[str]) -> bool:
        """Whether a scanned device advertises a Thingy service or the Thingy's default name.

        Args:
            local_name: The advertised name (``Thingy`` unless its owner renamed it), or None.
            service_uuids: The advertised service UUIDs, any case. A Thingy advertises its
                configuration service; the motion service is accepted too.

        Returns:
            True for a Thingy:52.
        """
        ours = {CONFIGURATION_SERVICE_UUID, MOTION_SERVICE_UUID}
        if any(uuid.lower() in ours for uuid in service_uuids):
            return True
        return local_name == _NAME

    def start(self, rate_hz: float) -> list[Write]:
        """Write the motion configuration: the supported frequency nearest ``rate_hz``, defaults otherwise.

        Args:
            rate_hz: The wanted sample rate, Hz; snapped to the nearest of ``rates_hz``.

        Returns:
            One 9-byte write of the motion configuration characteristic.

        Raises:
            ValueError: ``rate_hz`` is not a finite number > 0.
        """
        motion_freq_hz = round(nearest_rate(self.rates_hz, rate_hz))
        config = _CONFIG.pack(
            _PEDO_INTERVAL_MS, _TEMP_INTERVAL_MS, _COMPASS_INTERVAL_MS, motion_freq_hz, _WAKE_ON_MOTION
        )
        return [Write(MOTION_CONFIG_UUID, config)]

    def stop(self) -> list[Write]:
        """No writes: unsubscribing from the raw characteristic stops the raw stream."""
        return []

    def decoder(self, rate_hz: float) -> Decoder:
        """A decoder; the Thingy sends no time stamps, so the rate is not needed to decode."""
        return Thingy52Decoder()

    def buzz(self, command: Command) -> list[Write]:
        """Beep the speaker for a ``buzz`` command: 1 s for ``long``, 0.2 s for ``short``, else 0.5 s.

        Args:
            command: The command; only ``buzz`` makes writes.

        Returns:
            The sound configuration (tone mode) and the tone, or none for another command.
        """
        if command.cmd != "buzz":
            return []
        duration_ms = _BUZZ_MS.get(command.pattern or "", _BUZZ_DEFAULT_MS)
        tone = _TONE.pack(BUZZ_FREQ_HZ, duration_ms, BUZZ_VOLUME_PCT)
        return [
            Write(SOUND_CONFIG_UUID, _SOUND_CONFIG_TONE),
            # The speaker characteristic only takes writes without response (ble_tss.c).
            Write(SPEAKER_DATA_UUID, tone, response=False),
        ]

    def settled_rate(self, data: bytes) -> float:
        """Never called: the sensor does not report the rate it settled on (``rate_uuid`` is None)."""
        raise ProfileError(f"the {self.name} profile has no rate to read back")


#: The profile instance the gateway registers.
PROFILE: Profile = Thingy52Profile()
