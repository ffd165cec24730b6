"""The WitMotion WT901BLE profile against byte sequences built from the vendor SDKs.

Sources of every literal below (WITMOTION/WitBluetooth_BWT901BLE5_0):
``Python/BWT901BLE5.0_python_sdk/device_model.py`` (UUIDs ffe5/ffe4/ffe9; the 20-byte
``55 61`` packet, its scales ``/ 32768 * 16`` g and ``/ 32768 * 2000`` deg/s; bytes of
a partial packet kept across notifications; ``55 71`` register replies; unlock
``FF AA 69 88 B5``, save ``FF AA 00 00 00``),
``Android_Java/wit-example-ble5/WitSDK/src/main/java/com/wit/witsdk/Device/DeviceModel.java``
(``SetRRate``: 1, 5, 10, 50, 100, 200 Hz = codes 3, 5, 6, 8, 9, 11 of register 0x03),
``IOS_swift/BleExample/BleExampleApp.swift`` (``setBackRate50hz``: unlock, ``FF AA 03 08 00``,
save), ``IOS_swift/WitSDK/Sensor/Modular/Connector/Modular/BluetoothBLE.swift`` (writes
without response), ``Android_Java/wit-example-ble5/app/src/main/java/com/wit/example/MainActivity.java``
(names starting ``WT``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Samples, Write
from ingest.profiles.witmotion import PROFILE, WitMotionDecoder

# Derandomised and without the example database, so every run tries the same inputs.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)

WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
UNLOCK = b"\xff\xaa\x69\x88\xb5"
SAVE = b"\xff\xaa\x00\x00\x00"

# Lying flat and still: 1 g on z.
FLAT = (
    b"\x55\x61"  # header: start 0x55, kind 0x61 (acceleration, angular rate, angles)
    b"\x00\x00"  # ax = 0
    b"\x00\x00"  # ay = 0
    b"\x00\x08"  # az = 0x0800 = 2048 = 2048 / 32768 * 16 = 1 g
    b"\x00\x00"  # wx = 0
    b"\x00\x00"  # wy = 0
    b"\x00\x00"  # wz = 0
    b"\x00\x00"  # roll = 0
    b"\x00\x00"  # pitch = 0
    b"\x00\x40"  # yaw = 0x4000 = 16384 = 90 deg (dropped)
)
# Tilted and turning.
MOVING = (
    b"\x55\x61"  # header
    b"\x00\xfc"  # ax = 0xfc00 = -1024 = -0.5 g
    b"\x00\x04"  # ay = 0x0400 = 1024 = 0.5 g
    b"\x00\x10"  # az = 0x1000 = 4096 = 2 g
    b"\x00\x04"  # wx = 0x0400 = 1024 = 1024 / 32768 * 2000 = 62.5 deg/s
    b"\x00\xc0"  # wy = 0xc000 = -16384 = -1000 deg/s
    b"\x10\x00"  # wz = 0x0010 = 16 = 16 / 32768 * 2000 = 0.9765625 deg/s
    b"\x00\x00"  # roll
    b"\x00\x00"  # pitch
    b"\x00\x00"  # yaw
)
# The reply to a register read (FF AA 27 3A 00, magnetic field): no samples.
REPLY = b"\x55\x71\x3a\x00" + bytes(16)

FLAT_ACC = [0.0, 0.0, 1.0]
MOVING_ACC = [-0.5, 0.5, 2.0]
MOVING_GYRO = [62.5, -1000.0, 0.9765625]


def test_profile_names_its_uuids_in_lower_case() -> None:
    """The service and notify UUIDs of device_model.py, lower case."""
    assert PROFILE.name == "witmotion"
    assert PROFILE.service_uuid == "0000ffe5-0000-1000-8000-00805f9a34fb"
    assert PROFILE.notify_uuid == "0000ffe4-0000-1000-8000-00805f9a34fb"


def test_rates_are_the_vendor_sdk_rates_ascending() -> None:
    """Only the rates DeviceModel.SetRRate (Android SDK) sets."""
    assert PROFILE.rates_hz == (1.0, 5.0, 10.0, 50.0, 100.0, 200.0)


def test_decode_scales_one_packet() -> None:
    """raw / 32768 * 16 is g and raw / 32768 * 2000 is deg/s; angles are dropped."""
    samples = WitMotionDecoder().decode(MOVING)
    assert samples.n == 1
    np.testing.assert_array_equal(samples.acc_g, [MOVING_ACC])
    assert samples.gyro_dps is not None
    np.testing.assert_array_equal(samples.gyro_dps, [MOVING_GYRO])
    assert samples.t_s is None


def test_decode_reads_packets_back_to_back() -> None:
    """A notification of three packets gives three samples in order."""
    samples = WitMotionDecoder().decode(FLAT + MOVING + FLAT)
    np.testing.assert_array_equal(samples.acc_g, [FLAT_ACC, MOVING_ACC, FLAT_ACC])
    assert samples.gyro_dps is not None
    np.testing.assert_array_equal(samples.gyro_dps, [[0.0, 0.0, 0.0], MOVING_GYRO, [0.0, 0.0, 0.0]])


def test_decode_reaches_the_int16_extremes() -> None:
    """0x7fff and 0x8000 give just under +16 g and exactly -16 g, -2000 deg/s."""
    data = (
        b"\x55\x61"
        b"\xff\x7f"  # ax = 32767 = 15.99951171875 g
        b"\x00\x80"  # ay = -32768 = -16 g
        b"\x00\x00"  # az
        b"\x00\x80"  # wx = -32768 = -2000 deg/s
    ) + bytes(10)
    samples = WitMotionDecoder().decode(data)
    np.testing.assert_array_equal(samples.acc_g, [[15.99951171875, -16.0, 0.0]])
    assert samples.gyro_dps is not None
    np.testing.assert_array_equal(samples.gyro_dps[:, 0], [-2000.0])


def test_decode_skips_register_replies() -> None:
    """A 55 71 packet is a valid frame without samples (device_model.py processData)."""
    decoder = WitMotionDecoder()
    assert decoder.decode(REPLY).n == 0
    samples = decoder.decode(FLAT + REPLY + MOVING)
    np.testing.assert_array_equal(samples.acc_g, [FLAT_ACC, MOVING_ACC])


def test_decode_keeps_a_partial_packet_for_the_next_notification() -> None:
    """Like device_model.py onDataReceived, a packet split across notifications is decoded once whole."""
    decoder = WitMotionDecoder()
    first = decoder.decode(FLAT + MOVING[:19])  # one byte short of the second packet
    np.testing.assert_array_equal(first.acc_g, [FLAT_ACC])
    second = decoder.decode(MOVING[19:])  # the last byte
    np.testing.assert_array_equal(second.acc_g, [MOVING_ACC])


def test_decode_of_a_packet_one_byte_short_waits_for_its_last_byte() -> None:
    """19 bytes are kept (no samples), not rejected; the 20th completes the packet."""
    decoder = WitMotionDecoder()
    partial = decoder.decode(FLAT[:-1])
    assert partial.n == 0
    assert partial.acc_g.shape == (0, 3)
    np.testing.assert_array_equal(decoder.decode(FLAT[-1:]).acc_g, [FLAT_ACC])


def test_decode_of_a_packet_one_byte_long_keeps_a_valid_start() -> None:
    """A trailing 0x55 may begin the next packet: it is kept."""
    decoder = WitMotionDecoder()
    np.testing.assert_array_equal(decoder.decode(FLAT + b"\x55").acc_g, [FLAT_ACC])
    np.testing.assert_array_equal(decoder.decode(MOVING[1:]).acc_g, [MOVING_ACC])


def test_a_fresh_decoder_keeps_nothing_from_another() -> None:
    """decoder() starts each stream without kept bytes: another's partial packet is skipped."""
    first = PROFILE.decoder(50.0)
    first.decode(FLAT[:10])
    samples = PROFILE.decoder(50.0).decode(FLAT[10:] + MOVING)
    np.testing.assert_array_equal(samples.acc_g, [MOVING_ACC])
    assert samples.skipped_bytes == 10


def test_an_empty_notification_is_refused() -> None:
    with pytest.raises(ProfileError, match="empty WitMotion notification"):
        WitMotionDecoder().decode(b"")


@pytest.mark.parametrize(
    ("data", "packets", "skipped"),
    [
        pytest.param(FLAT + b"\x00", [FLAT_ACC], 1, id="one-byte-long-junk"),
        pytest.param(FLAT + b"\x55\x62", [FLAT_ACC], 2, id="partial-wrong-kind"),
        pytest.param(b"\x55\x62" + FLAT[2:], [], 20, id="wrong-kind"),
        pytest.param(b"\xaa\x61" + FLAT[2:], [], 20, id="wrong-start"),
        pytest.param(FLAT + b"\x55\x53" + FLAT[2:] + MOVING, [FLAT_ACC, MOVING_ACC], 20, id="angle-packet-between"),
        pytest.param(FLAT[1:] + MOVING, [MOVING_ACC], 19, id="misaligned"),
    ],
)
def test_bytes_that_start_no_packet_are_skipped_and_counted(
    data: bytes, packets: list[list[float]], skipped: int
) -> None:
    """Up to the next header, as the vendor's SDK skips them: the packets around them decode."""
    samples = WitMotionDecoder().decode(data)
    np.testing.assert_array_equal(samples.acc_g.reshape(-1, 3), np.array(packets).reshape(-1, 3))
    assert samples.skipped_bytes == skipped


def test_a_byte_slipped_into_the_stream_costs_one_packet_not_the_rest() -> None:
    """A serial-over-BLE stream cut into 20-byte notifications, one byte added after the
    third packet: every later notification starts inside a packet. Only the packet the byte
    fell into is lost; rejected whole, as they were, every later notification was."""
    stream = FLAT * 3 + b"\x00" + MOVING * 7
    decoder = WitMotionDecoder()
    parts = [decoder.decode(stream[i : i + 20]) for i in range(0, len(stream), 20)]
    acc = np.concatenate([p.acc_g for p in parts])
    np.testing.assert_array_equal(acc, [FLAT_ACC] * 3 + [MOVING_ACC] * 7)
    assert sum(p.skipped_bytes for p in parts) == 1
    assert sum(p.skipped_bytes > 0 for p in parts) == 1  # the gateway counts one bad notification


def test_decode_rejects_what_is_not_bytes() -> None:
    """A str is not a notification."""
    with pytest.raises(ProfileError, match="must be bytes"):
        WitMotionDecoder().decode("U a")  # type: ignore[arg-type]


@PROPERTY
@given(chunks=st.lists(st.binary(max_size=64), max_size=8))
def test_decode_of_any_bytes_returns_samples_or_raises_profile_error(chunks: list[bytes]) -> None:
    """No sequence of notifications makes decode raise anything but ProfileError (an empty one)."""
    decoder = WitMotionDecoder()
    for chunk in chunks:
        try:
            samples = decoder.decode(chunk)
        except ProfileError:
            continue
        assert isinstance(samples, Samples)
        assert samples.acc_g.shape == (samples.n, 3)


@PROPERTY
@given(
    packets=st.lists(st.sampled_from([FLAT, MOVING, REPLY]), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=119), max_size=5),
)
def test_any_split_of_a_stream_gives_the_samples_of_the_whole(packets: list[bytes], cuts: list[int]) -> None:
    """Chunked notifications decode to the same samples as one notification holding them all."""
    stream = b"".join(packets)
    bounds = sorted({cut for cut in cuts if cut < len(stream)})
    chunks = [stream[a:b] for a, b in zip([0, *bounds], [*bounds, len(stream)], strict=True)]
    decoder = WitMotionDecoder()
    parts = [decoder.decode(chunk).acc_g for chunk in chunks]
    whole = WitMotionDecoder().decode(stream).acc_g
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize(
    ("rate_hz", "command"),
    [
        pytest.param(50.0, b"\xff\xaa\x03\x08\x00", id="50Hz-code-8"),  # setBackRate50hz
        pytest.param(10.0, b"\xff\xaa\x03\x06\x00", id="10Hz-code-6"),  # setBackRate10hz
        pytest.param(200.0, b"\xff\xaa\x03\x0b\x00", id="200Hz-code-11"),  # SetRRate(200)
        pytest.param(1.0, b"\xff\xaa\x03\x03\x00", id="1Hz-code-3"),  # SetRRate(1)
    ],
)
def test_start_unlocks_sets_the_rate_and_saves(rate_hz: float, command: bytes) -> None:
    """start writes unlock, FF AA 03 <code> 00, save, without response, as the SDKs do.

    ``device_model.py`` ``writeReg`` sleeps 0.1 s after the unlock and after the register
    write, so those two writes ask the gateway for a 0.1-s pause after them.
    """
    assert PROFILE.start(rate_hz) == [
        Write(WRITE_UUID, UNLOCK, response=False, pause_s=0.1),
        Write(WRITE_UUID, command, response=False, pause_s=0.1),
        Write(WRITE_UUID, SAVE, response=False),
    ]


@pytest.mark.parametrize(
    ("wanted_hz", "code"),
    [
        pytest.param(60.0, 0x08, id="60Hz-to-50Hz"),
        pytest.param(25.0, 0x08, id="25Hz-to-50Hz"),  # log(50/25) = 0.69 < log(25/10) = 0.92
        pytest.param(3.0, 0x05, id="3Hz-to-5Hz"),  # log(5/3) = 0.51 < log(3/1) = 1.10
        pytest.param(0.2, 0x03, id="0.2Hz-to-1Hz"),
        pytest.param(1000.0, 0x0B, id="1kHz-to-200Hz"),
    ],
)
def test_start_snaps_to_the_nearest_vendor_rate(wanted_hz: float, code: int) -> None:
    """A rate between the supported ones is snapped on a log scale."""
    assert PROFILE.start(wanted_hz)[1].data == bytes([0xFF, 0xAA, 0x03, code, 0x00])


def test_stop_writes_nothing() -> None:
    """The sensor streams whenever it is on: unsubscribing is enough."""
    assert PROFILE.stop() == []


@pytest.mark.parametrize(
    ("local_name", "service_uuids", "expected"),
    [
        pytest.param("WT901BLE67", [], True, id="name"),
        pytest.param(None, ["0000ffe5-0000-1000-8000-00805f9a34fb"], True, id="service"),
        pytest.param(None, ["0000FFE5-0000-1000-8000-00805F9A34FB"], True, id="service-upper-case"),
        pytest.param("Thingy", [], False, id="thingy"),
        pytest.param("wt901", [], False, id="lower-case-name"),
        pytest.param(None, ["0000ffe0-0000-1000-8000-00805f9a34fb"], False, id="hm10-service"),
        pytest.param(None, [], False, id="nothing"),
    ],
)
def test_matches_the_ffe5_service_or_a_wt_name(
    local_name: str | None, service_uuids: list[str], expected: bool
) -> None:
    """A WitMotion sensor is recognised by its service or by the vendor app's WT name filter."""
    assert PROFILE.matches(local_name, service_uuids) is expected


def test_buzz_writes_nothing() -> None:
    """The sensor has nothing to buzz, light or beep."""
    assert PROFILE.buzz(Command("buzz", pattern="long", reason="sit_too_long")) == []
