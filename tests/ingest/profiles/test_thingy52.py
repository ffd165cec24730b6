"""The Thingy:52 profile against byte sequences built from the Nordic firmware source.

Sources of every literal below (NordicSemiconductor/Nordic-Thingy52-FW):
``include/ble_services/ble_tms.h`` (``ble_tms_raw_t``, ``ble_tms_config_t`` and its
ranges), ``source/ble_services/ble_tms.c`` (base UUID and 0x0400, 0x0401, 0x0406),
``source/modules/m_motion.c`` (16Q16 shifted to Q6.10 accel, Q11.5 gyro, Q12.4 compass),
``include/modules/m_motion.h`` (``MOTION_DEFAULT_CONFIG``: 1000, 500, 500 ms, 10 Hz,
wake on motion 1), ``include/ble_services/ble_tss.h`` and ``source/ble_services/ble_tss.c``
(sound service 0x0500, config 0x0501, speaker 0x0502, ``ble_tss_spkr_freq_t``),
``source/modules/m_ble.c`` and ``project/pca20020_s132/config/thingy_config.h``
(advertised configuration service 0x0100 and name ``Thingy``).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Samples, Write
from ingest.profiles.thingy52 import PROFILE, Thingy52Decoder

# Derandomised and without the example database, so every run tries the same inputs.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)

MOTION_CONFIG_UUID = "ef680401-9b35-4933-9b10-52ffa9740042"  # BLE_UUID_TMS_CONFIG_CHAR on TMS_BASE_UUID
SOUND_CONFIG_UUID = "ef680501-9b35-4933-9b10-52ffa9740042"  # BLE_UUID_TSS_CONFIG_CHAR
SPEAKER_UUID = "ef680502-9b35-4933-9b10-52ffa9740042"  # BLE_UUID_TSS_SPKR_CHAR

# One raw sample at rest, flat on a table, turning slowly about x.
RAW_AT_REST = (
    b"\x00\x04"  # accel x = 0x0400 = 1024 = 1 g in Q6.10
    b"\x00\xfe"  # accel y = 0xfe00 = -512 = -0.5 g
    b"\x00\x01"  # accel z = 0x0100 = 256 = 0.25 g
    b"\x40\x00"  # gyro x = 0x0040 = 64 = 2 deg/s in Q11.5
    b"\xf0\xff"  # gyro y = 0xfff0 = -16 = -0.5 deg/s
    b"\x00\x00"  # gyro z = 0
    b"\x20\x03"  # compass x = 800 = 50 uT in Q12.4 (dropped)
    b"\x00\x00"  # compass y
    b"\x00\x00"  # compass z
)


def test_profile_names_its_uuids_in_lower_case() -> None:
    """The motion service and raw characteristic on the Thingy base UUID, lower case."""
    assert PROFILE.name == "thingy52"
    assert PROFILE.service_uuid == "ef680400-9b35-4933-9b10-52ffa9740042"
    assert PROFILE.notify_uuid == "ef680406-9b35-4933-9b10-52ffa9740042"


def test_rates_divide_the_dmp_rate_and_ascend() -> None:
    """Every rate is within 5-200 Hz (ble_tms.h) and divides DMP_SAMPLE_RATE = 200 Hz."""
    assert list(PROFILE.rates_hz) == sorted(PROFILE.rates_hz)
    for rate_hz in PROFILE.rates_hz:
        assert 5 <= rate_hz <= 200
        assert 200 % rate_hz == 0


def test_decode_scales_q6_10_accel_and_q11_5_gyro() -> None:
    """Acceleration / 1024 is g, angular rate / 32 is deg/s, the compass is dropped."""
    samples = Thingy52Decoder().decode(RAW_AT_REST)
    assert samples.n == 1
    np.testing.assert_array_equal(samples.acc_g, [[1.0, -0.5, 0.25]])
    assert samples.gyro_dps is not None
    np.testing.assert_array_equal(samples.gyro_dps, [[2.0, -0.5, 0.0]])
    assert samples.t_s is None


def test_decode_reaches_the_clamp_limits_of_the_firmware() -> None:
    """m_motion.c clamps the integer part of accel to [-32, 31] g and of gyro to [-1024, 1023] deg/s."""
    data = (
        b"\x00\x7c"  # accel x = 0x7c00 = 31744 = 31 g
        b"\x00\x80"  # accel y = 0x8000 = -32768 = -32 g
        b"\x00\x00"  # accel z
        b"\xe0\x7f"  # gyro x = 0x7fe0 = 32736 = 1023 deg/s
        b"\x00\x80"  # gyro y = 0x8000 = -32768 = -1024 deg/s
        b"\x00\x00"  # gyro z
    ) + bytes(6)  # compass
    samples = Thingy52Decoder().decode(data)
    np.testing.assert_array_equal(samples.acc_g, [[31.0, -32.0, 0.0]])
    assert samples.gyro_dps is not None
    np.testing.assert_array_equal(samples.gyro_dps, [[1023.0, -1024.0, 0.0]])


@pytest.mark.parametrize(
    ("data", "length"),
    [
        pytest.param(b"", 0, id="empty"),
        pytest.param(RAW_AT_REST[:-1], 17, id="one-byte-short"),
        pytest.param(RAW_AT_REST + b"\x00", 19, id="one-byte-long"),
        pytest.param(RAW_AT_REST[:12], 12, id="accel-and-gyro-only"),
        pytest.param(RAW_AT_REST * 2, 36, id="two-samples"),
    ],
)
def test_decode_rejects_a_wrong_length_naming_it(data: bytes, length: int) -> None:
    """Anything but 18 bytes raises ProfileError with the length and the expected length."""
    with pytest.raises(ProfileError, match=rf"of {length} bytes, expected 18"):
        Thingy52Decoder().decode(data)


@PROPERTY
@given(data=st.binary(max_size=64))
def test_decode_of_any_bytes_returns_samples_or_raises_profile_error(data: bytes) -> None:
    """No input makes decode raise anything but ProfileError."""
    try:
        samples = Thingy52Decoder().decode(data)
    except ProfileError:
        assert len(data) != 18
    else:
        assert isinstance(samples, Samples)
        assert samples.acc_g.shape == (1, 3)


@pytest.mark.parametrize(
    ("rate_hz", "config"),
    [
        pytest.param(
            50.0,
            b"\xe8\x03"  # pedometer interval 1000 ms (MOTION_DEFAULT_CONFIG)
            b"\xf4\x01"  # temperature interval 500 ms
            b"\xf4\x01"  # compass interval 500 ms
            b"\x32\x00"  # motion frequency 0x0032 = 50 Hz
            b"\x01",  # wake on motion on
            id="50Hz",
        ),
        pytest.param(
            200.0,
            b"\xe8\x03\xf4\x01\xf4\x01"  # the same defaults
            b"\xc8\x00"  # motion frequency 0x00c8 = 200 Hz
            b"\x01",
            id="200Hz",
        ),
        pytest.param(
            10.0,
            b"\xe8\x03\xf4\x01\xf4\x01"
            b"\x0a\x00"  # 10 Hz: exactly MOTION_DEFAULT_CONFIG
            b"\x01",
            id="10Hz-default",
        ),
    ],
)
def test_start_writes_the_9_byte_motion_configuration(rate_hz: float, config: bytes) -> None:
    """start writes ble_tms_config_t with the rate and the firmware's default intervals."""
    assert PROFILE.start(rate_hz) == [Write(MOTION_CONFIG_UUID, config, response=True)]


@pytest.mark.parametrize(
    ("wanted_hz", "motion_freq_hz"),
    [
        pytest.param(60.0, 50, id="60Hz-to-50Hz"),
        pytest.param(30.0, 25, id="30Hz-to-25Hz"),
        pytest.param(1.0, 5, id="1Hz-to-5Hz-minimum"),
        pytest.param(1000.0, 200, id="1kHz-to-200Hz-maximum"),
    ],
)
def test_start_snaps_to_the_nearest_supported_frequency(wanted_hz: float, motion_freq_hz: int) -> None:
    """A rate between the supported ones is snapped on a log scale."""
    (write,) = PROFILE.start(wanted_hz)
    assert struct.unpack("<HHHHB", write.data)[3] == motion_freq_hz


@PROPERTY
@given(wanted_hz=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_start_always_writes_a_configuration_the_firmware_accepts(wanted_hz: float) -> None:
    """Every field is within the ranges ble_tms.c checks, so the write is never refused."""
    (write,) = PROFILE.start(wanted_hz)
    assert len(write.data) == 9
    pedo_ms, temp_ms, compass_ms, motion_hz, wake = struct.unpack("<HHHHB", write.data)
    assert 100 <= pedo_ms <= 5000
    assert 100 <= temp_ms <= 5000
    assert 100 <= compass_ms <= 1000
    assert 5 <= motion_hz <= 200
    assert wake in (0, 1)


def test_stop_writes_nothing() -> None:
    """Unsubscribing from raw disables the raw feature (m_motion.c)."""
    assert PROFILE.stop() == []


@pytest.mark.parametrize(
    ("local_name", "service_uuids", "expected"),
    [
        pytest.param("Thingy", [], True, id="default-name"),
        pytest.param("Desk", ["ef680100-9b35-4933-9b10-52ffa9740042"], True, id="configuration-service"),
        pytest.param(None, ["EF680400-9B35-4933-9B10-52FFA9740042"], True, id="motion-service-upper-case"),
        pytest.param("BBC micro:bit [zogav]", [], False, id="microbit"),
        pytest.param("Desk", [], False, id="renamed-without-uuid"),
        pytest.param(None, ["ef680200-9b35-4933-9b10-52ffa9740042"], False, id="environment-service-only"),
    ],
)
def test_matches_a_thingy_service_or_the_default_name(
    local_name: str | None, service_uuids: list[str], expected: bool
) -> None:
    """A Thingy is recognised by its advertised configuration service or its default name."""
    assert PROFILE.matches(local_name, service_uuids) is expected


@pytest.mark.parametrize(
    ("pattern", "tone"),
    [
        pytest.param(
            "long",
            b"\xe8\x03"  # freq 0x03e8 = 1000 Hz
            b"\xe8\x03"  # duration 1000 ms
            b"\x64",  # volume 100 %
            id="long",
        ),
        pytest.param("short", b"\xe8\x03\xc8\x00\x64", id="short"),  # duration 0x00c8 = 200 ms
        pytest.param(None, b"\xe8\x03\xf4\x01\x64", id="default"),  # duration 0x01f4 = 500 ms
    ],
)
def test_buzz_sets_tone_mode_and_plays_a_tone(pattern: str | None, tone: bytes) -> None:
    """Sound config = speaker mode 1 (freq), mic mode 1 (ADPCM); then ble_tss_spkr_freq_t."""
    writes = PROFILE.buzz(Command("buzz", pattern=pattern))
    assert writes == [
        Write(SOUND_CONFIG_UUID, b"\x01\x01", response=True),
        Write(SPEAKER_UUID, tone, response=False),  # the speaker char is write-without-response only
    ]


def test_buzz_ignores_other_commands() -> None:
    """A rate command is not a buzz."""
    assert PROFILE.buzz(Command("rate", rate_hz=50.0)) == []
