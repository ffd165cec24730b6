"""The Polar profile (H10, Verity Sense): PMD commands out, ACC frames in.

Byte sequences are built by hand from the layout in ``ingest/profiles/polar.py``, which
follows ``polarofficial/polar-ble-sdk`` (Android, ``.../gatt/client/pmd/``):
``BlePMDClient.kt`` (commands, ``parseDeltaFramesAll``), ``PmdSetting.kt``
(``serializeSelected``), ``PmdControlPointResponse.kt``, ``PmdDataFrame.kt``,
``model/AccData.kt`` and ``model/PmdTimeStampUtils.kt`` (``getTimeStamps``). Two vectors
come from the SDK's own tests (``src/test/.../pmd/model/AccDataTest.kt``) and one frame
from a Verity Sense capture posted in polar-ble-sdk issue #443.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Profile, Samples
from ingest.profiles.polar import (
    PMD_CONTROL_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    POLAR_EPOCH_UNIX_S,
    PROFILE,
    PmdAccDecoder,
    PolarModel,
    PolarProfile,
    start_response_factor,
)

VERITY_SENSE = PolarProfile(PolarModel.VERITY_SENSE)

# 2024-01-01T00:00:00Z is Unix 1_704_067_200 s, so 1_704_067_200 - 946_684_800 =
# 757_382_400 s after the Polar epoch: 757_382_400_000_000_000 ns = 0x0A82C347AF220000,
# little-endian 00 00 22 AF 47 C3 82 0A.
T_NS = 757_382_400_000_000_000
T_BYTES = bytes.fromhex("00 00 22 af 47 c3 82 0a")
T_UNIX_S = 1_704_067_200.0
# float64 Unix seconds near 1.7e9 resolve 2.4e-7 s; 1 µs covers that and the SDK's ns rounding.
TIME_TOL_S = 1e-6


def _g(values_mg: object) -> np.ndarray:
    """Milli-g to g exactly as the decoder divides (a float x 1000 need not give back the integer)."""
    return np.asarray(values_mg, dtype=np.float64) / 1000.0


def test_is_a_profile() -> None:
    """Both models satisfy the gateway's interface and share the PMD characteristics."""
    for profile in (PROFILE, VERITY_SENSE):
        checked: Profile = profile
        assert (checked.name, checked.service_uuid, checked.notify_uuid) == ("polar", PMD_SERVICE_UUID, PMD_DATA_UUID)
    assert PROFILE.control_uuid == PMD_CONTROL_UUID
    assert PROFILE.buzz(Command("buzz", pattern="long")) == []


@pytest.mark.parametrize(
    ("local_name", "service_uuids", "expected"),
    [
        (None, [PMD_SERVICE_UUID.upper()], True),
        ("Polar H10 12345678", [], True),  # the SDK's test name (BleDeviceSessionTest.kt)
        ("Polar Sense AAAA0003", [], True),  # the SDK's test name (PolarBleApiImplTests.swift)
        ("Polar H10", [], True),
        ("Polar OH1 A1B2C3D4", [], False),
        ("Polar H9 12345678", [], False),
        ("Polar H100 12345678", [], False),
        ("Some speaker", ["0000180d-0000-1000-8000-00805f9b34fb"], False),
        (None, [], False),
    ],
)
def test_matches_the_pmd_service_or_an_h10_or_verity_sense_name(
    local_name: str | None, service_uuids: list[str], expected: bool
) -> None:
    """A sensor is recognised by the PMD service or by its ``Polar <model> <id>`` name."""
    assert PROFILE.matches(local_name, service_uuids) is expected


def test_for_name_gives_each_model_its_rates() -> None:
    """The Verity Sense streams at 52 Hz outside SDK mode; the H10 (also the default) at 25-200 Hz."""
    assert PROFILE.for_name("Polar Sense B5A25B2F").rates_hz == (52.0,)
    assert PROFILE.for_name("Polar H10 12345678").rates_hz == (25.0, 50.0, 100.0, 200.0)
    assert PROFILE.for_name(None).model is PolarModel.H10
    assert PROFILE.for_name("Polar OH1 A1B2C3D4").model is PolarModel.H10


@pytest.mark.parametrize(
    ("rate_hz", "command"),
    [
        # 02 start, 02 ACC; 00 rate x1 = 25 (0x0019 LE: 19 00); 01 resolution x1 = 16 (10 00);
        # 02 range x1 = 8 g (08 00).
        (25.0, "02 02 00 01 19 00 01 01 10 00 02 01 08 00"),
        (50.0, "02 02 00 01 32 00 01 01 10 00 02 01 08 00"),  # 50 = 0x32
        (100.0, "02 02 00 01 64 00 01 01 10 00 02 01 08 00"),  # 100 = 0x64
        (200.0, "02 02 00 01 c8 00 01 01 10 00 02 01 08 00"),  # 200 = 0xC8 (ble_devices.md example)
        (30.0, "02 02 00 01 19 00 01 01 10 00 02 01 08 00"),  # log-nearest: 30 -> 25
        (60.0, "02 02 00 01 32 00 01 01 10 00 02 01 08 00"),  # 60 -> 50
        (150.0, "02 02 00 01 c8 00 01 01 10 00 02 01 08 00"),  # 150 -> 200 (log 4/3 < log 3/2)
    ],
)
def test_h10_start_command(rate_hz: float, command: str) -> None:
    """Start is one write to the control point: op, ACC, then rate, 16 bits and 8 g."""
    (write,) = PROFILE.start(rate_hz)
    assert (write.char_uuid, write.data.hex(" "), write.response) == (PMD_CONTROL_UUID, command, True)


def test_verity_sense_start_adds_three_channels() -> None:
    """The Verity Sense also takes 04 (channels) x1 = 3, as in the start commands of issues #331 and #443."""
    (write,) = VERITY_SENSE.start(50.0)
    assert write.data.hex(" ") == "02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03"  # 52 Hz = 0x34


def test_stop_command() -> None:
    """Stop is 03 (stop) 02 (ACC) to the control point."""
    (write,) = PROFILE.stop()
    assert (write.char_uuid, write.data) == (PMD_CONTROL_UUID, bytes([0x03, 0x02]))


def test_decoder_snaps_its_rate_like_start() -> None:
    """A decoder spaces the first frame at the rate start actually asked for."""
    assert PROFILE.decoder(60.0).rate_hz == 50.0
    assert VERITY_SENSE.decoder(50.0).rate_hz == 52.0


# A raw type-1 frame of three samples (x, y, z int16 LE, mG):
#   02                        ACC
#   00 00 22 af 47 c3 82 0a   T_NS, the time of the last sample
#   01                        raw (bit 7 clear), type 1
#   00 00 00 00 e8 03         (0, 0, 1000)        1000 = 0x03E8
#   06 ff f4 01 d4 03         (-250, 500, 980)    -250 = 0xFF06, 500 = 0x01F4, 980 = 0x03D4
#   01 00 ff ff 00 80         (1, -1, -32768)     -1 = 0xFFFF, -32768 = 0x8000
RAW_FRAME = bytes.fromhex("02" + T_BYTES.hex() + "01" + "000000 00e803" + "06fff401d403" + "0100ffff0080")


def test_a_raw_type_1_frame_is_in_g_with_times_back_from_its_time_stamp() -> None:
    """The first frame's samples end at its time stamp and are spaced by the sample period (50 Hz: 20 ms)."""
    samples = PmdAccDecoder(50.0).decode(bytearray(RAW_FRAME))  # bleak hands over a bytearray
    np.testing.assert_array_equal(samples.acc_g, [[0.0, 0.0, 1.0], [-0.25, 0.5, 0.98], [0.001, -0.001, -32.768]])
    assert samples.t_s is not None
    np.testing.assert_allclose(samples.t_s, T_UNIX_S + np.array([-0.04, -0.02, 0.0]), rtol=0, atol=TIME_TOL_S)


def test_a_later_frame_is_spread_over_the_time_since_the_previous_one() -> None:
    """Three samples 90 ms after the previous frame are 30 ms apart, whatever the nominal rate."""
    decoder = PmdAccDecoder(50.0)
    decoder.decode(RAW_FRAME)
    # T_NS + 90_000_000 ns: 0x0A82C347AF220000 + 0x055D4A80 = 0x0A82C347B47F4A80 -> 80 4a 7f b4 47 c3 82 0a.
    later = bytes.fromhex("02 804a7fb447c3820a 01") + RAW_FRAME[10:]
    samples = decoder.decode(later)
    assert samples.t_s is not None
    np.testing.assert_allclose(samples.t_s, T_UNIX_S + np.array([0.03, 0.06, 0.09]), rtol=0, atol=TIME_TOL_S)


def test_a_stop_and_a_fresh_decoder_forget_the_previous_frame() -> None:
    """Each stream starts afresh (the SDK clears its previous time stamps on stop)."""
    PmdAccDecoder(50.0).decode(RAW_FRAME)
    samples = PmdAccDecoder(25.0).decode(RAW_FRAME)
    assert samples.t_s is not None
    np.testing.assert_allclose(np.diff(samples.t_s), [0.04, 0.04], rtol=0, atol=TIME_TOL_S)


# A delta-compressed type-1 frame: a reference sample and two blocks.
#   02 | T_BYTES | 81         ACC, compressed (bit 7) type 1
#   64 00 38 ff e8 03         reference (100, -200, 1000): 0x0064, 0xFF38, 0x03E8
#   04 02 e3 80 17            block 1: 4-bit deltas, 2 samples, 4 x 2 x 3 = 24 bits = 3 bytes
#       deltas (+3, -2, 0), (-8, +7, +1) in 4-bit two's complement: 0011 1110 0000 1000 0111 0001.
#       Packed least significant bit first, delta k in bits 4k..4k+3 of the block:
#       byte 0 = d1 << 4 | d0 = 1110 0011 = e3; byte 1 = d3 << 4 | d2 = 1000 0000 = 80;
#       byte 2 = d5 << 4 | d4 = 0001 0111 = 17.
#   06 01 54 f8 03            block 2: 6-bit deltas, 1 sample, 18 bits = 3 bytes
#       deltas (+20, -31, -1) = 010100, 100001, 111111 (64 - 31 = 33 = 100001) in bits 0-5,
#       6-11 and 12-17: byte 0 = d1 bits 0-1 (01) then d0 (010100) = 01010100 = 54;
#       byte 1 = d2 bits 0-3 (1111) then d1 bits 2-5 (1000) = 11111000 = f8;
#       byte 2 = six padding zeros then d2 bits 4-5 (11) = 00000011 = 03.
DELTA_FRAME = bytes.fromhex("02" + T_BYTES.hex() + "81" + "6400 38ff e803" + "04 02 e38017" + "06 01 54f803")
DELTA_MG = [[100, -200, 1000], [103, -202, 1000], [95, -195, 1001], [115, -226, 1000]]


def test_a_delta_frame_adds_each_block_of_packed_deltas_to_the_previous_sample() -> None:
    """Four samples: the reference, then its running sums of 4-bit and 6-bit deltas, in g."""
    samples = PmdAccDecoder(52.0).decode(DELTA_FRAME)
    np.testing.assert_array_equal(samples.acc_g, _g(DELTA_MG))
    assert samples.t_s is not None
    np.testing.assert_allclose(samples.t_s[-1] - samples.t_s[0], 3 / 52, rtol=0, atol=TIME_TOL_S)


def test_the_sdk_compressed_type_1_vector() -> None:
    """AccDataTest.kt "process acc compressed data type 1": (-15, 20, 1008) then deltas (-5, -3, 0)."""
    frame = bytes.fromhex("02 6500000000000000 81 f1ff 1400 f003 06 01 7b0f08")
    # The SDK test's 101-ns time stamp is too early for two samples at 52 Hz on a first
    # frame, so give the decoder a previous frame at 100 ns as the SDK test does. That frame
    # is itself too early, yet still becomes the previous one, as in BlePMDClient.processPmdData.
    decoder = PmdAccDecoder(52.0)
    with pytest.raises(ProfileError, match="too early"):
        decoder.decode(bytes.fromhex("02 6400000000000000 81 000000000000"))
    samples = decoder.decode(frame)
    np.testing.assert_array_equal(samples.acc_g, _g([[-15, 20, 1008], [-20, 17, 1008]]))


def test_the_sdk_raw_type_1_vector() -> None:
    """AccDataTest.kt "process acc raw data frame type 1": its first two samples, time stamp 2e9 ns."""
    frame = bytes.fromhex("02 0094357700000000 01 f7ffffffe703 f8fffeffe503")
    samples = PmdAccDecoder(52.0).decode(frame)
    np.testing.assert_array_equal(samples.acc_g, _g([[-9, -1, 999], [-8, -2, 997]]))
    assert samples.t_s is not None
    assert samples.t_s[-1] == pytest.approx(POLAR_EPOCH_UNIX_S + 2.0, abs=TIME_TOL_S)


def test_a_real_verity_sense_frame_reads_about_1_g_on_the_day_it_was_captured() -> None:
    """The capture of issue #443 (posted 2024-02-23), cut after its first delta block, decodes sensibly."""
    # 02 ACC | 00 41 6f c4 12 45 93 0a: ns since 2000 | 81 compressed type 1 |
    # ee02 1ffe 82ff: reference (750, -481, -126) mG | 08 0a: 8-bit deltas, 10 samples, 30 bytes.
    # The capture went on with a block 0a 2f (10 bits x 47 samples = 177 bytes), which
    # fills its 227 bytes exactly: 10 + 6 + 2 + 30 + 2 + 177.
    frame = bytes.fromhex(
        "02 00416fc41245930a 81 ee021ffe82ff 08 0a 10da20d6a30bd9cbe7d6f6c4e6f1e1f3e0151afe281bf8372c2520131911"
    )
    samples = PmdAccDecoder(52.0).decode(frame)
    assert samples.n == 11
    np.testing.assert_array_equal(samples.acc_g[0], [0.75, -0.481, -0.126])
    # A worn sensor moving slowly: every sample's magnitude between 0.85 and 1.05 g.
    assert np.all(np.abs(np.linalg.norm(samples.acc_g, axis=1) - 0.95) < 0.1)
    assert samples.t_s is not None
    assert dt.datetime.fromtimestamp(samples.t_s[-1], dt.UTC).date() == dt.date(2024, 2, 23)


def test_compressed_frames_are_scaled_by_the_factor_as_the_sdk_does() -> None:
    """Type 1 is mG x factor, type 0 is g x factor, both truncated toward zero in float32."""
    # Compressed type 1, factor 0.5: (1001, -1001, 3) -> (500.5, -500.5, 1.5) -> (500, -500, 1) mG.
    type_1 = bytes.fromhex("02" + T_BYTES.hex() + "81 e903 17fc 0300")
    np.testing.assert_array_equal(PmdAccDecoder(50.0, factor=0.5).decode(type_1).acc_g, _g([[500, -500, 1]]))
    # Compressed type 0, factor 2.44e-4 g per count (the SDK test's): 4096 x 0.244 = 999.4 -> 999 mG.
    type_0 = bytes.fromhex("02" + T_BYTES.hex() + "80 0010 0000 00f0")
    np.testing.assert_array_equal(PmdAccDecoder(50.0, factor=2.44e-4).decode(type_0).acc_g, _g([[999, 0, -999]]))


@pytest.mark.parametrize(
    ("answer", "factor"),
    [
        ("f0 02 02 00 00", 1.0),  # issues #331 and #443: no settings, so no factor
        ("f0 02 02 00 00 05 01 0000803e", 0.25),  # 05 factor x1, float32 LE 0x3E800000 = 0.25
        ("f0 02 02 00 00 00 01 3400 05 01 40da7f39", 2.44e-4),  # rate 52, then 0x397FDA40
    ],
)
def test_start_response_factor(answer: str, factor: float) -> None:
    """The factor is setting 5 of the control point's answer to start; 1.0 without it."""
    assert start_response_factor(bytes.fromhex(answer)) == pytest.approx(factor, rel=1e-7)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("", "not a PMD control point answer"),
        ("0f 05 00 00", "not a PMD control point answer"),  # a read of the features, not an answer
        ("f0 03 02 00 00", "not the answer to an ACC start"),
        ("f0 02 00 00 00", "not the answer to an ACC start"),
        ("f0 02 02 08 00", r"status 8 \(invalid sample rate\)"),
        ("f0 02 02 63 00", r"status 99 \(unknown\)"),
        ("f0 02 02 00 00 05", "truncated"),
        ("f0 02 02 00 00 05 01 0000", "truncated"),
        ("f0 02 02 00 00 09 01 00", "unknown setting type 9"),
        ("f0 02 02 00 00 05 01 0000c07f", "finite number > 0"),  # NaN
        ("f0 02 02 00 00 05 01 000080bf", "finite number > 0"),  # -1.0
    ],
)
def test_a_bad_start_answer_raises_profile_error(answer: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        start_response_factor(bytes.fromhex(answer))


HEADER = "02" + T_BYTES.hex()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("", "empty PMD frame"),
        (HEADER[:18], "9 bytes is shorter than its 10-byte header"),
        ("00" + T_BYTES.hex() + "00 000000", "not an ACC frame: measurement type 0"),  # ECG
        ("01" + T_BYTES.hex() + "00 000000", "not an ACC frame: measurement type 1"),  # PPG
        (HEADER + "03 000000", r"unknown ACC frame type 0x03 \(raw type 3\)"),
        (HEADER + "82 000000000000", r"unknown ACC frame type 0x82 \(compressed type 2\)"),
        (HEADER + "01", "ACC frame holds no samples"),
        (HEADER + "01 e803 0000 18fc e8", "truncated sample: 7 bytes"),
        (HEADER + "02 000000 000000", "truncated sample: 6 bytes of samples is not a multiple of 9"),
        (HEADER + "81 6400 38ff", "truncated sample: a compressed frame needs a 6-byte reference"),
        (HEADER + "81 6400 38ff e803 04", "delta block header at byte 6 runs past"),
        (HEADER + "81 6400 38ff e803 04 02 e380", "delta block of 3 bytes at byte 8 runs past"),
        (HEADER + "81 6400 38ff e803 04 00", "sample count of 0"),
        (HEADER + "81 6400 38ff e803 00 02 e38017", "delta width of 0 bits"),
        (HEADER + "81 6400 38ff e803 21 01" + "00" * 13, "delta width of 33 bits"),
        ("02 0000000000000000 01 e80300000000", "too early for 1 samples"),
    ],
)
def test_a_malformed_frame_raises_profile_error(frame: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        PmdAccDecoder(50.0).decode(bytes.fromhex(frame))


def test_a_time_stamp_that_does_not_advance_raises_profile_error() -> None:
    """A frame no later than the previous one of its type has no time for its samples."""
    decoder = PmdAccDecoder(50.0)
    decoder.decode(RAW_FRAME)
    with pytest.raises(ProfileError, match="is not after the previous frame's"):
        decoder.decode(RAW_FRAME)


def test_decoder_refuses_a_bad_rate_or_factor() -> None:
    """A rate or factor that is not finite and > 0 is a programmer error."""
    for rate_hz, factor in ((0.0, 1.0), (float("nan"), 1.0), (50.0, 0.0), (50.0, float("inf"))):
        with pytest.raises(ValueError, match="must be a finite number > 0"):
            PmdAccDecoder(rate_hz, factor)


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_profile_error(data: bytes) -> None:
    with contextlib.suppress(ProfileError):
        assert isinstance(PmdAccDecoder(50.0).decode(data), Samples)


@given(st.sampled_from([0x00, 0x01, 0x02, 0x80, 0x81]), st.binary(max_size=300), st.integers(0, 2**64 - 1))
def test_any_acc_body_decodes_or_raises_profile_error(frame_type: int, body: bytes, t_ns: int) -> None:
    """Bodies behind a valid ACC header reach the sample and delta parsers."""
    frame = bytes([0x02]) + t_ns.to_bytes(8, "little") + bytes([frame_type]) + body
    with contextlib.suppress(ProfileError):
        samples = PmdAccDecoder(52.0, factor=0.5).decode(frame)
        assert samples.t_s is not None
        assert np.all(np.isfinite(samples.acc_g))


@st.composite
def raw_frames(draw: st.DrawFn) -> tuple[int, np.ndarray, int]:
    frame_type = draw(st.sampled_from([0, 1, 2]))
    width = frame_type + 1
    limit = 1 << (8 * width - 1)
    n = draw(st.integers(1, 40))
    values = np.array(draw(st.lists(st.integers(-limit, limit - 1), min_size=3 * n, max_size=3 * n))).reshape(n, 3)
    t_ns = draw(st.integers(2 * 10**9, 2**60))  # room for 40 samples at 25 Hz; up to 2036
    return frame_type, values, t_ns


@given(raw_frames())
def test_a_raw_frame_round_trips(case: tuple[int, np.ndarray, int]) -> None:
    """Random raw frames of every type give back their mG values, the last sample at the time stamp."""
    frame_type, values, t_ns = case
    width = frame_type + 1
    body = b"".join(int(v).to_bytes(width, "little", signed=True) for v in values.ravel())
    frame = bytes([0x02]) + t_ns.to_bytes(8, "little") + bytes([frame_type]) + body
    samples = PmdAccDecoder(25.0).decode(frame)
    np.testing.assert_array_equal(samples.acc_g, _g(values))
    assert samples.t_s is not None
    # float64 seconds below 2.1e9 s resolve 4.8e-7 s: within 1e-12 relative, 1 µs absolute.
    assert samples.t_s[-1] == pytest.approx(t_ns / 1e9 + POLAR_EPOCH_UNIX_S, rel=1e-12)
    np.testing.assert_allclose(np.diff(samples.t_s), 0.04, rtol=0, atol=TIME_TOL_S)


def _pack(deltas: list[int], width: int) -> bytes:
    """Deltas as a block's bytes: each ``width`` bits two's complement, least significant bit first."""
    bits = sum((d & ((1 << width) - 1)) << (k * width) for k, d in enumerate(deltas))
    return bits.to_bytes(-(-len(deltas) * width // 8), "little")


@st.composite
def delta_frames(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, list[int]]]]:
    ref = draw(st.lists(st.integers(-(2**15), 2**15 - 1), min_size=3, max_size=3))
    blocks = []
    for _ in range(draw(st.integers(0, 3))):
        width = draw(st.integers(1, 16))
        count = draw(st.integers(1, 20))
        bound = 1 << (width - 1)
        blocks.append((width, draw(st.lists(st.integers(-bound, bound - 1), min_size=3 * count, max_size=3 * count))))
    return ref, blocks


@given(delta_frames())
def test_a_delta_frame_round_trips(case: tuple[list[int], list[tuple[int, list[int]]]]) -> None:
    """Random references and blocks of deltas give back the running sums."""
    ref, blocks = case
    body = b"".join(v.to_bytes(2, "little", signed=True) for v in ref)
    body += b"".join(bytes([width, len(deltas) // 3]) + _pack(deltas, width) for width, deltas in blocks)
    frame = bytes([0x02]) + T_BYTES + bytes([0x81]) + body
    all_deltas = np.array([d for _, deltas in blocks for d in deltas], dtype=np.int64).reshape(-1, 3)
    expected = np.cumsum(np.vstack([np.array([ref]), all_deltas]), axis=0)
    np.testing.assert_array_equal(PmdAccDecoder(52.0).decode(frame).acc_g, _g(expected))


def test_the_start_answer_sets_the_factor_of_the_frames_after_it() -> None:
    """The gateway hands the control point's answer to the decoder: compressed frames after it are scaled.

    ``BlePMDClient.startMeasurement`` keeps the factor of the answer to start
    (``PmdSetting.updateSelectedFromStartResponse``) and ``AccData.kt`` multiplies
    compressed samples by it; raw frames stay in mG (``dataFromRawType1`` reads no factor).
    """
    type_1 = bytes.fromhex("02" + T_BYTES.hex() + "81 e903 17fc 0300")  # (1001, -1001, 3) counts
    decoder = PmdAccDecoder(52.0)
    decoder.reply(bytes.fromhex("f0 02 02 00 00 05 01 0000003f"))  # setting 5 x1: float32 0x3F000000 = 0.5
    assert decoder.factor == 0.5
    np.testing.assert_array_equal(decoder.decode(type_1).acc_g, _g([[500, -500, 1]]))
    raw = bytes.fromhex("02" + (T_NS + 20_000_000).to_bytes(8, "little").hex() + "01 e803 0000 18fc")
    np.testing.assert_array_equal(decoder.decode(raw).acc_g, _g([[1000, 0, -1000]]))


def test_answers_to_other_commands_leave_the_factor_and_a_refusal_is_an_error() -> None:
    """An answer to stop changes nothing; an answer refusing the start raises ProfileError naming the status."""
    decoder = PmdAccDecoder(52.0, factor=0.25)
    decoder.reply(bytes.fromhex("f0 03 02 00 00"))  # the answer to stop ACC
    decoder.reply(bytes.fromhex("f0 02 02 00 00"))  # a start answer without a factor: 1.0, as getFactor gives
    assert decoder.factor == 1.0
    with pytest.raises(ProfileError, match=r"status 6 \(already in state\)"):
        decoder.reply(bytes.fromhex("f0 02 02 06 00"))
    assert decoder.factor == 1.0
