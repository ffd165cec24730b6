"""The binary IMU packet codec: round trips, rejection of bad payloads, unit conversions."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from ingest.codec import (
    FLAG_GYRO,
    HEADER,
    MAX_SAMPLES,
    MAX_T_S,
    VERSION,
    Batch,
    decode,
    encode,
    from_counts,
    to_counts,
)
from ingest.errors import PacketError

# Derandomised and without the example database, so every run tries the same inputs.
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)

# The worked example of docs/protocol.md: the packet below is pasted there verbatim.
EXAMPLE_HEX = """
01 00 02 00 07 00 00 00
00 00 00 40 fc 54 d9 41
00 00 48 42 00 00 80 39
00 00 00 00 00 00 00 00
00 10 00 f0 00 08 ff 0f
"""
EXAMPLE_PACKET = bytes.fromhex(EXAMPLE_HEX)


def example_batch() -> Batch:
    return Batch(
        seq=7,
        t0_s=1_700_000_000.0,
        rate_hz=50.0,
        acc_scale_g=1 / 4096,
        acc=np.array([[0, 0, 4096], [-4096, 2048, 4095]], dtype=np.int16),
    )


def counts(n: int) -> NDArray[np.int16]:
    return np.arange(n * 3, dtype=np.int16).reshape(n, 3)


def header_fields(payload: bytes) -> list[Any]:
    return list(HEADER.unpack_from(payload))


def with_header(payload: bytes, **fields: Any) -> bytes:
    """``payload`` with some header fields replaced, by name."""
    names = ["version", "flags", "n", "seq", "t0_s", "rate_hz", "acc_scale_g", "gyro_scale_dps"]
    values = header_fields(payload)
    for name, value in fields.items():
        values[names.index(name)] = value
    return HEADER.pack(*values) + payload[HEADER.size :]


def names_value(message: str, value: object) -> bool:
    """True when ``value`` appears in ``message`` as a whole token, not inside another number."""
    return re.search(rf"(?<![\w.]){re.escape(str(value))}(?![\w.])", message) is not None


# Rates and scales travel as float32, so only float32 values survive a round trip exactly.
positive_float32 = st.floats(
    min_value=2.0**-149,
    max_value=float(np.finfo(np.float32).max),
    width=32,
    allow_nan=False,
    allow_infinity=False,
)


#: Rates from 2**-10 Hz up, so that MAX_SAMPLES samples from any of ``start_times`` end before MAX_T_S.
batch_rates = st.floats(min_value=2.0**-10, max_value=float(np.finfo(np.float32).max), width=32)
start_times = st.floats(0.0, MAX_T_S - MAX_SAMPLES * 2.0**10)


@st.composite
def batches(draw: st.DrawFn, gyro: bool | None = None) -> Batch:
    n = draw(st.integers(1, MAX_SAMPLES))
    has_gyro = draw(st.booleans()) if gyro is None else gyro
    return Batch(
        seq=draw(st.integers(0, 2**32 - 1)),
        t0_s=draw(start_times),
        rate_hz=draw(batch_rates),
        acc_scale_g=draw(positive_float32),
        acc=draw(hnp.arrays(np.int16, (n, 3))),
        gyro_scale_dps=draw(positive_float32) if has_gyro else 0.0,
        gyro=draw(hnp.arrays(np.int16, (n, 3))) if has_gyro else None,
    )


# Round trips


@PROPERTY
@given(batches())
def test_decode_inverts_encode(batch: Batch) -> None:
    """decode(encode(b)) == b for every valid batch, with and without gyro."""
    assert decode(encode(batch)) == batch


@PROPERTY
@given(batches(gyro=True))
def test_decode_inverts_encode_with_gyro(batch: Batch) -> None:
    """Gyro counts and scale survive the round trip."""
    decoded = decode(encode(batch))
    assert decoded == batch
    assert decoded.gyro is not None
    assert batch.gyro is not None
    assert np.array_equal(decoded.gyro, batch.gyro)
    assert decoded.gyro_scale_dps == batch.gyro_scale_dps


@PROPERTY
@given(batches())
def test_encoding_is_canonical(batch: Batch) -> None:
    """A packet re-encodes to the same bytes, and its length follows from n and the gyro flag."""
    payload = encode(batch)
    channels = 6 if batch.gyro is not None else 3
    assert len(payload) == HEADER.size + 2 * channels * batch.n
    assert payload[0] == VERSION
    assert payload[1] == (FLAG_GYRO if batch.gyro is not None else 0)
    assert encode(decode(payload)) == payload


@pytest.mark.parametrize(
    "field",
    [
        {"rate_hz": 0.1},
        {"rate_hz": 1e39},
        {"rate_hz": 1e-50},
        {"acc_scale_g": 1e39},
    ],
    ids=["rate-rounded", "rate-overflow", "rate-underflow", "scale-overflow"],
)
def test_every_batch_that_builds_round_trips(field: dict[str, float]) -> None:
    """A batch that builds encodes to a packet that decodes back to it; otherwise it must not build."""
    fields: dict[str, Any] = {"seq": 0, "t0_s": 0.0, "rate_hz": 50.0, "acc_scale_g": 1.0, "acc": counts(1)}
    fields.update(field)
    try:
        batch = Batch(**fields)
    except PacketError:
        return
    assert decode(encode(batch)) == batch


# The worked example of docs/protocol.md


def test_worked_example_encodes_to_documented_bytes() -> None:
    """The example batch encodes to exactly the hex printed in docs/protocol.md."""
    assert encode(example_batch()) == EXAMPLE_PACKET


def test_worked_example_decodes_field_by_field() -> None:
    """The documented packet decodes to the values the protocol doc walks through."""
    batch = decode(EXAMPLE_PACKET)
    assert batch == example_batch()
    assert (batch.seq, batch.n, batch.rate_hz, batch.acc_scale_g) == (7, 2, 50.0, 1 / 4096)
    assert batch.gyro is None
    assert batch.gyro_scale_dps == 0.0
    # Power-of-two scale: the products are exact.
    assert np.array_equal(batch.acc_g(), [[0.0, 0.0, 1.0], [-1.0, 0.5, 4095 / 4096]])
    assert np.array_equal(batch.times_s(), [1_700_000_000.0, 1_700_000_000.02])


PROTOCOL_DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


def test_worked_example_is_in_the_protocol_doc() -> None:
    """docs/protocol.md shows the same hex as this test, line for line."""
    assert EXAMPLE_HEX.strip() in PROTOCOL_DOC.read_text(encoding="utf-8")


def test_protocol_doc_decoder_reads_the_example() -> None:
    """The standalone Python decoder in docs/protocol.md agrees with the codec."""
    blocks = re.findall(r"```python\n(.*?)```", PROTOCOL_DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(next(b for b in blocks if "def decode" in b), namespace)
    seq, times_s, acc_g, gyro_dps = namespace["decode"](EXAMPLE_PACKET)
    batch = example_batch()
    assert seq == batch.seq
    assert np.array_equal(times_s, batch.times_s())
    assert np.array_equal(acc_g, batch.acc_g())
    assert gyro_dps is None
    with pytest.raises(ValueError, match="not a valid"):
        namespace["decode"](EXAMPLE_PACKET + b"\x00")


@pytest.mark.parametrize("cut", range(len(EXAMPLE_PACKET)))
def test_every_prefix_of_the_example_is_rejected(cut: int) -> None:
    """Each proper prefix of the worked example is a PacketError naming its length."""
    with pytest.raises(PacketError) as err:
        decode(EXAMPLE_PACKET[:cut])
    assert names_value(str(err.value), cut)


# Rejection of bad payloads


@PROPERTY
@given(st.data(), batches())
def test_truncated_packet_is_rejected(data: st.DataObject, batch: Batch) -> None:
    """Any proper prefix of a packet raises PacketError naming the length it got."""
    payload = encode(batch)
    cut = data.draw(st.integers(0, len(payload) - 1), label="cut")
    with pytest.raises(PacketError) as err:
        decode(payload[:cut])
    assert names_value(str(err.value), cut)


@PROPERTY
@given(batches(), st.binary(min_size=1, max_size=64))
def test_oversized_packet_is_rejected(batch: Batch, extra: bytes) -> None:
    """Bytes after the last sample raise PacketError naming the length it got."""
    payload = encode(batch) + extra
    with pytest.raises(PacketError) as err:
        decode(payload)
    assert names_value(str(err.value), len(payload))


@PROPERTY
@given(st.integers(0, 255).filter(lambda v: v != VERSION))
def test_wrong_version_is_rejected(version: int) -> None:
    """Another version byte raises PacketError naming that version."""
    with pytest.raises(PacketError) as err:
        decode(bytes([version]) + EXAMPLE_PACKET[1:])
    assert names_value(str(err.value), version)


@PROPERTY
@given(st.integers(0, 255).filter(lambda f: f & ~FLAG_GYRO))
def test_unknown_flag_bits_are_rejected(flags: int) -> None:
    """Any flag bit other than the gyro bit raises PacketError naming the flags in hex."""
    with pytest.raises(PacketError) as err:
        decode(with_header(EXAMPLE_PACKET, flags=flags))
    assert f"0x{flags:02x}" in str(err.value)


@PROPERTY
@given(st.one_of(st.just(0), st.integers(MAX_SAMPLES + 1, 2**16 - 1)))
def test_sample_count_out_of_range_is_rejected(n: int) -> None:
    """A sample count of 0 or above MAX_SAMPLES raises PacketError naming the count."""
    payload = with_header(EXAMPLE_PACKET, n=n)
    payload = payload[: HEADER.size] + bytes(6 * n)  # the length agrees, so the count is the fault
    with pytest.raises(PacketError) as err:
        decode(payload)
    assert names_value(str(err.value), n)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"t0_s": float("nan")}, "nan"),
        ({"t0_s": float("inf")}, "inf"),
        ({"t0_s": 1_733_500_000_000.0}, "milliseconds"),
        ({"t0_s": -1.0}, "-1.0"),
        ({"t0_s": MAX_T_S}, "4294967296.0"),
        ({"t0_s": MAX_T_S - 1.0, "rate_hz": 0.5}, "rate_hz 0.5 too low"),
        ({"rate_hz": 0.0}, "rate_hz"),
        ({"rate_hz": -50.0}, "-50.0"),
        ({"rate_hz": float("nan")}, "nan"),
        ({"rate_hz": float("inf")}, "inf"),
        ({"acc_scale_g": 0.0}, "acc_scale_g"),
        ({"acc_scale_g": -1.0}, "-1.0"),
    ],
)
def test_header_value_out_of_range_is_rejected(fields: dict[str, float], named: str) -> None:
    """A header that is well formed but carries an impossible value raises PacketError naming it."""
    with pytest.raises(PacketError) as err:
        decode(with_header(EXAMPLE_PACKET, **fields))
    assert named in str(err.value)


def test_gyro_flag_without_gyro_scale_is_rejected() -> None:
    """A gyro packet whose gyro scale is 0 raises PacketError naming gyro_scale_dps."""
    payload = with_header(EXAMPLE_PACKET, flags=FLAG_GYRO) + bytes(12)
    with pytest.raises(PacketError, match="gyro_scale_dps"):
        decode(payload)


def test_gyro_scale_without_gyro_is_rejected() -> None:
    """A packet without gyro must carry gyro scale 0, as the layout says."""
    with pytest.raises(PacketError, match="gyro_scale_dps"):
        decode(with_header(EXAMPLE_PACKET, gyro_scale_dps=5.0))


def decodes_or_packet_error(payload: bytes) -> None:
    """Decode ``payload``; any exception other than PacketError fails the test."""
    try:
        batch = decode(payload)
    except PacketError:
        return
    # By chance the bytes form a valid packet: then it must be a proper batch.
    assert isinstance(batch, Batch)
    assert len(payload) == HEADER.size + (12 if batch.gyro is not None else 6) * batch.n


@PROPERTY
@given(st.binary(max_size=256))
def test_garbage_raises_only_packet_error(payload: bytes) -> None:
    """Arbitrary bytes raise PacketError and never another exception type."""
    decodes_or_packet_error(payload)


@PROPERTY
@given(st.sampled_from([b"\x01\x00", b"\x01\x01"]), st.binary(max_size=256))
def test_garbage_after_a_plausible_prefix_raises_only_packet_error(prefix: bytes, rest: bytes) -> None:
    """Bytes behind a valid version and flag raise PacketError and never another exception type."""
    decodes_or_packet_error(prefix + rest)


@PROPERTY
@given(st.data(), batches())
def test_corrupted_packet_raises_only_packet_error(data: st.DataObject, batch: Batch) -> None:
    """A valid packet with one byte changed decodes or raises PacketError, nothing else."""
    payload = bytearray(encode(batch))
    index = data.draw(st.integers(0, len(payload) - 1), label="index")
    payload[index] = data.draw(st.integers(0, 255), label="byte")
    decodes_or_packet_error(bytes(payload))


# Building an invalid Batch


def valid_fields() -> dict[str, Any]:
    return {"seq": 7, "t0_s": 1_700_000_000.0, "rate_hz": 50.0, "acc_scale_g": 1 / 4096, "acc": counts(2)}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"seq": -1}, "-1"),
        ({"seq": 2**32}, str(2**32)),
        ({"t0_s": float("nan")}, "nan"),
        ({"t0_s": float("-inf")}, "-inf"),
        ({"t0_s": 1_733_500_000_000.0}, "milliseconds"),
        ({"t0_s": -0.5}, "-0.5"),
        ({"t0_s": MAX_T_S - 1.0, "rate_hz": 1e-3}, "past 2**32"),
        ({"rate_hz": 0.0}, "0.0"),
        ({"rate_hz": -1.0}, "-1.0"),
        ({"rate_hz": float("nan")}, "nan"),
        ({"rate_hz": float("inf")}, "inf"),
        ({"acc_scale_g": 0.0}, "0.0"),
        ({"acc_scale_g": float("nan")}, "nan"),
        ({"acc": counts(2).astype(np.float64)}, "float64"),
        ({"acc": counts(2).astype(np.int32)}, "int32"),
        ({"acc": np.zeros((2, 2), dtype=np.int16)}, "(2, 2)"),
        ({"acc": np.zeros(3, dtype=np.int16)}, "(3,)"),
        ({"acc": np.zeros((0, 3), dtype=np.int16)}, "0"),
        ({"acc": np.zeros((MAX_SAMPLES + 1, 3), dtype=np.int16)}, str(MAX_SAMPLES + 1)),
        ({"gyro_scale_dps": 1.0}, "1.0"),
        ({"gyro": counts(2), "gyro_scale_dps": 0.0}, "0.0"),
        ({"gyro": counts(2), "gyro_scale_dps": float("nan")}, "nan"),
        ({"gyro": counts(3), "gyro_scale_dps": 1.0}, "(3, 3)"),
        ({"gyro": counts(2).astype(np.float32), "gyro_scale_dps": 1.0}, "float32"),
    ],
)
def test_invalid_batch_is_rejected(fields: dict[str, Any], named: str) -> None:
    """Building a Batch with an out-of-range field raises PacketError naming the value."""
    kwargs = valid_fields() | fields
    with pytest.raises(PacketError) as err:
        Batch(**kwargs)
    assert names_value(str(err.value), named)


def test_batch_equality_compares_sample_values() -> None:
    """Batches are equal when every field and every count is equal, and are not hashable."""
    batch = example_batch()
    assert batch == example_batch()
    assert batch != Batch(**(valid_fields() | {"acc": counts(2) + 1}))
    assert batch != "not a batch"
    with pytest.raises(TypeError):
        hash(batch)


# Unit conversions


def test_to_counts_saturates_at_int16_limits() -> None:
    """Values beyond the sensor range clip to 32767 and -32768 instead of wrapping."""
    scale = 1 / 4096
    values = np.array(
        [
            [10.0, -10.0, 0.0],
            [32767 * scale, -32768 * scale, 0.5],
            [32767.6 * scale, -32768.6 * scale, -0.5],
            [np.inf, -np.inf, 1.0],
        ]
    )
    expected = np.array(
        [
            [32767, -32768, 0],
            [32767, -32768, 2048],
            [32767, -32768, -2048],
            [32767, -32768, 4096],
        ],
        dtype=np.int16,
    )
    result = to_counts(values, scale)
    assert result.dtype == np.int16
    assert np.array_equal(result, expected)


def test_to_counts_rounds_to_nearest() -> None:
    """Counts round to the nearest integer, ties to even like numpy.rint."""
    values = np.array([[0.4, 0.6, -0.6], [1.5, 2.5, -1.5]])
    assert np.array_equal(to_counts(values, 1.0), [[0, 1, -1], [2, 2, -2]])


@PROPERTY
@given(
    hnp.arrays(np.float64, (4, 3), elements=st.floats(-32768.0, 32767.0)),
    st.sampled_from([1 / 4096, 1 / 2048, 1 / 16384, 0.001]),
)
def test_from_counts_inverts_to_counts_within_half_a_count(values_counts: NDArray[np.float64], scale: float) -> None:
    """Inside the sensor range, quantising then scaling back is off by at most half a count."""
    values = values_counts * scale
    back = from_counts(to_counts(values, scale), scale)
    # Rounding to the nearest count: the error is at most scale / 2, plus float rounding of the product.
    assert np.all(np.abs(back - values) <= scale / 2 + 1e-12)


def test_times_s_steps_by_one_over_rate() -> None:
    """Sample i was taken at t0_s + i / rate_hz."""
    batch = Batch(seq=0, t0_s=1_700_000_000.0, rate_hz=25.0, acc_scale_g=1.0, acc=counts(4))
    times = batch.times_s()
    assert times.dtype == np.float64
    assert times.shape == (4,)
    # Epoch seconds in float64 resolve about 0.24 us near 1.7e9 s: far below one 40 ms period.
    np.testing.assert_allclose(times, 1_700_000_000.0 + np.array([0.0, 0.04, 0.08, 0.12]), rtol=0, atol=1e-6)


def test_acc_g_and_gyro_dps_scale_counts() -> None:
    """acc_g and gyro_dps are counts times their scale, as float64 of shape (n, 3)."""
    acc = np.array([[0, 0, 4096], [-4096, 2048, 4095]], dtype=np.int16)
    gyro = np.array([[0, 1, -1], [100, -100, 32767]], dtype=np.int16)
    batch = Batch(seq=0, t0_s=0.0, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc, gyro_scale_dps=1 / 16, gyro=gyro)
    acc_g = batch.acc_g()
    gyro_dps = batch.gyro_dps()
    assert acc_g.dtype == np.float64
    assert acc_g.shape == (2, 3)
    assert np.array_equal(acc_g, [[0.0, 0.0, 1.0], [-1.0, 0.5, 4095 / 4096]])
    assert gyro_dps is not None
    assert np.array_equal(gyro_dps, [[0.0, 0.0625, -0.0625], [6.25, -6.25, 32767 / 16]])
    assert example_batch().gyro_dps() is None


def test_header_layout_is_28_bytes_little_endian() -> None:
    """The header struct is the documented 28 bytes, little-endian, with no padding."""
    assert HEADER.size == 28
    assert HEADER.format == "<BBHIdfff"
    assert struct.calcsize(HEADER.format) == 1 + 1 + 2 + 4 + 8 + 4 + 4 + 4
