"""The micro:bit accelerometer profile against byte sequences built from the vendor code.

Sources of every literal below (lancaster-university/microbit-dal):
``source/bluetooth/MicroBitAccelerometerService.cpp`` (UUIDs, the 6-byte data
characteristic, the uint16 period characteristic), ``inc/drivers/MicroBitAccelerometer.h``
(X, Y, Z in milli-g), ``source/drivers/MMA8653.cpp`` (periods 1, 2, 5, 10, 20, 80, 160,
640 ms), ``source/bluetooth/MicroBitLEDService.cpp`` and ``inc/bluetooth/MicroBitLEDService.h``
(LED text UUID, at most 20 bytes), ``source/bluetooth/MicroBitBLEManager.cpp`` (name
``BBC micro:bit [xxxxx]``).
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
from ingest.profiles.microbit import ACCELEROMETER_PERIOD_UUID, PROFILE, MicrobitDecoder

# Derandomised and without the example database, so every run tries the same inputs.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)

PERIOD_UUID = "e95dfb24-251d-470a-a062-fa1922dfa9a8"  # MicroBitAccelerometerServicePeriodUUID
LED_TEXT_UUID = "e95d93ee-251d-470a-a062-fa1922dfa9a8"  # MicroBitLEDServiceTextUUID


def test_profile_names_its_uuids_in_lower_case() -> None:
    """The service and data UUIDs are MicroBitAccelerometerService.cpp's byte arrays, lower case."""
    assert PROFILE.name == "microbit"
    assert PROFILE.service_uuid == "e95d0753-251d-470a-a062-fa1922dfa9a8"
    assert PROFILE.notify_uuid == "e95dca4b-251d-470a-a062-fa1922dfa9a8"


def test_rates_are_the_supported_periods_ascending() -> None:
    """Rates are 1000 / period for the MMA8653 periods 640 ... 1 ms, in ascending order."""
    assert PROFILE.rates_hz == (1.5625, 6.25, 12.5, 50.0, 100.0, 200.0, 500.0, 1000.0)
    assert list(PROFILE.rates_hz) == sorted(PROFILE.rates_hz)


def test_decode_turns_milli_g_into_g() -> None:
    """One notification is one sample of three int16 LE milli-g."""
    data = (
        b"\xe8\x03"  # x = 0x03e8 = 1000 mg = 1 g
        b"\x0c\xfe"  # y = 0xfe0c = -500 mg = -0.5 g
        b"\x18\xfc"  # z = 0xfc18 = -1000 mg = -1 g
    )
    samples = MicrobitDecoder().decode(data)
    assert samples.n == 1
    np.testing.assert_array_equal(samples.acc_g, [[1.0, -0.5, -1.0]])
    assert samples.acc_g.dtype == np.float64
    assert samples.gyro_dps is None
    assert samples.t_s is None


def test_decode_reaches_the_int16_extremes() -> None:
    """The extremes of int16 decode to +-32.767 g and -32.768 g."""
    data = (
        b"\xff\x7f"  # x = 0x7fff = 32767 mg
        b"\x00\x80"  # y = 0x8000 = -32768 mg
        b"\x00\x00"  # z = 0
    )
    samples = MicrobitDecoder().decode(data)
    # 32.767 is not exact in binary: compare to a few ulp.
    np.testing.assert_allclose(samples.acc_g, [[32.767, -32.768, 0.0]], rtol=1e-15)


def test_decode_accepts_a_bytearray() -> None:
    """bleak hands notifications over as bytearray."""
    samples = MicrobitDecoder().decode(bytearray(b"\x00\x00\x00\x00\xe8\x03"))  # z = 1000 mg
    np.testing.assert_array_equal(samples.acc_g, [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("data", "length"),
    [
        pytest.param(b"", 0, id="empty"),
        pytest.param(b"\xe8\x03\x00\x00\x18", 5, id="one-byte-short"),
        pytest.param(b"\xe8\x03\x00\x00\x18\xfc\x00", 7, id="one-byte-long"),
        pytest.param(b"\xe8\x03\x00\x00\x18\xfc" * 2, 12, id="two-samples"),
    ],
)
def test_decode_rejects_a_wrong_length_naming_it(data: bytes, length: int) -> None:
    """Anything but 6 bytes raises ProfileError with the length and the expected length."""
    with pytest.raises(ProfileError, match=rf"of {length} bytes, expected 6"):
        MicrobitDecoder().decode(data)


def test_decode_rejects_what_is_not_bytes() -> None:
    """A str is not a notification."""
    with pytest.raises(ProfileError, match="must be bytes"):
        MicrobitDecoder().decode("abcdef")  # type: ignore[arg-type]


@PROPERTY
@given(data=st.binary(max_size=64))
def test_decode_of_any_bytes_returns_samples_or_raises_profile_error(data: bytes) -> None:
    """No input makes decode raise anything but ProfileError."""
    try:
        samples = MicrobitDecoder().decode(data)
    except ProfileError:
        assert len(data) != 6
    else:
        assert isinstance(samples, Samples)
        assert samples.acc_g.shape == (1, 3)


@pytest.mark.parametrize(
    ("rate_hz", "payload"),
    [
        pytest.param(50.0, b"\x14\x00", id="50Hz-20ms"),  # 20 = 0x0014
        pytest.param(1.5625, b"\x80\x02", id="1.5625Hz-640ms"),  # 640 = 0x0280
        pytest.param(1000.0, b"\x01\x00", id="1000Hz-1ms"),  # 1 = 0x0001
        pytest.param(100.0, b"\x0a\x00", id="100Hz-10ms"),  # 10 = 0x000a
    ],
)
def test_start_writes_the_period_as_uint16_ms(rate_hz: float, payload: bytes) -> None:
    """start writes the period characteristic, uint16 LE ms, with response."""
    assert PROFILE.start(rate_hz) == [Write(PERIOD_UUID, payload, response=True)]


@pytest.mark.parametrize(
    ("wanted_hz", "period_ms"),
    [
        pytest.param(60.0, 20, id="60Hz-to-50Hz"),
        pytest.param(10.0, 80, id="10Hz-to-12.5Hz"),
        pytest.param(30.0, 20, id="30Hz-to-50Hz"),
        pytest.param(5000.0, 1, id="too-fast-to-1ms"),
        pytest.param(0.001, 640, id="too-slow-to-640ms"),
    ],
)
def test_start_snaps_to_the_nearest_supported_period(wanted_hz: float, period_ms: int) -> None:
    """A rate between the supported ones is snapped on a log scale."""
    (write,) = PROFILE.start(wanted_hz)
    assert struct.unpack("<H", write.data) == (period_ms,)


@PROPERTY
@given(wanted_hz=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_start_never_writes_a_zero_period(wanted_hz: float) -> None:
    """A period of 0 crashes the device (ble_devices.md 5.1): no rate leads to one."""
    (write,) = PROFILE.start(wanted_hz)
    (period_ms,) = struct.unpack("<H", write.data)
    assert period_ms in (1, 2, 5, 10, 20, 80, 160, 640)


@pytest.mark.parametrize("rate_hz", [0.0, -50.0, float("nan"), float("inf")])
def test_start_refuses_a_rate_that_is_not_positive_and_finite(rate_hz: float) -> None:
    """A bad rate is a programmer error (base.nearest_rate)."""
    with pytest.raises(ValueError, match="finite number > 0"):
        PROFILE.start(rate_hz)


def test_stop_writes_nothing() -> None:
    """Unsubscribing stops the notifications."""
    assert PROFILE.stop() == []


@pytest.mark.parametrize(
    ("local_name", "service_uuids", "expected"),
    [
        pytest.param("BBC micro:bit [zogav]", [], True, id="name"),
        pytest.param(None, ["e95d0753-251d-470a-a062-fa1922dfa9a8"], True, id="service"),
        pytest.param(None, ["E95D0753-251D-470A-A062-FA1922DFA9A8"], True, id="service-upper-case"),
        pytest.param("Thingy", ["ef680100-9b35-4933-9b10-52ffa9740042"], False, id="thingy"),
        pytest.param("micro:bit", [], False, id="name-without-BBC"),
        pytest.param(None, [], False, id="nothing"),
        pytest.param(None, ["e95dd91d-251d-470a-a062-fa1922dfa9a8"], False, id="led-service-only"),
    ],
)
def test_matches_the_accelerometer_service_or_the_microbit_name(
    local_name: str | None, service_uuids: list[str], expected: bool
) -> None:
    """A micro:bit is recognised by its advertised service or by its name."""
    assert PROFILE.matches(local_name, service_uuids) is expected


def test_buzz_scrolls_move_on_the_led_matrix() -> None:
    """A buzz writes the UTF-8 text to the LED text characteristic (MicroBitLEDService.cpp)."""
    writes = PROFILE.buzz(Command("buzz", pattern="long", reason="sit_too_long"))
    assert writes == [Write(LED_TEXT_UUID, b"MOVE", response=True)]
    assert len(writes[0].data) <= 20  # MICROBIT_BLE_MAXIMUM_SCROLLTEXT


def test_buzz_ignores_other_commands() -> None:
    """A rate command is not a buzz."""
    assert PROFILE.buzz(Command("rate", rate_hz=50.0)) == []


def test_decoder_is_fresh_for_each_stream() -> None:
    """Two decoders are two objects."""
    assert PROFILE.decoder(50.0) is not PROFILE.decoder(50.0)


def test_the_gateway_reads_back_the_period_the_board_settled_on() -> None:
    """The period characteristic is read and write; the firmware writes back the period it snapped to.

    ``MicroBitAccelerometerService.cpp`` (microbit-dal) sets the period written, then writes
    ``getPeriod()`` back into the characteristic; a v1.5 board (``FXOS8700.cpp``,
    ``LSM303Accelerometer.cpp``) snaps to other tables than the v1's, so a read may show
    a period outside ``PERIODS_MS`` (40 ms here, made up for the test).
    """
    assert PROFILE.rate_uuid == ACCELEROMETER_PERIOD_UUID
    assert PROFILE.settled_rate(struct.pack("<H", 20)) == 50.0
    assert PROFILE.settled_rate(struct.pack("<H", 40)) == 25.0
    assert PROFILE.settled_rate(struct.pack("<H", 640)) == pytest.approx(1.5625)


@pytest.mark.parametrize(("data", "message"), [(b"", "0 bytes"), (b"\x14", "1 bytes"), (b"\x00\x00", "0 ms")])
def test_a_period_read_that_does_not_read_is_a_profile_error(data: bytes, message: str) -> None:
    """A period read of the wrong length or of 0 ms (which the firmware never settles on) raises ProfileError."""
    with pytest.raises(ProfileError, match=message):
        PROFILE.settled_rate(data)
