"""Fuzzing the packet codec: any bytes decode to a batch that re-encodes to them, or raise PacketError.

Three kinds of input reach ``decode``: arbitrary bytes; packets built field by field
with every header field free (version, flags, counts, NaN, infinities, denormals,
signed zeros) and a body near the length the header asks for; and valid packets with
one byte changed, cut or extended. Whatever comes in, ``decode`` returns a batch whose
values are finite and which encodes back to the very bytes it came from, or raises
``PacketError``: never another exception. Sizes stay under a few KB, so no example
runs long.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ingest.codec import FLAG_GYRO, HEADER, MAX_SAMPLES, MAX_T_S, VERSION, Batch, decode, encode
from ingest.errors import PacketError
from tests.ingest.test_codec import EXAMPLE_PACKET, batch_rates, positive_float32, start_times, with_header

FUZZ = settings(max_examples=300, deadline=None, database=None)

_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Float fields at and past their limits: NaN, infinities, signed zeros, the smallest
#: float32 denormal and normal, the largest float32 and float64.
EXTREME_FLOATS = [
    math.nan,
    math.inf,
    -math.inf,
    0.0,
    -0.0,
    2.0**-149,
    -(2.0**-149),
    float(np.finfo(np.float32).tiny),
    _FLOAT32_MAX,
    -_FLOAT32_MAX,
    5e-324,
    1.0,
    50.0,
]
#: t0_s is a float64: its own largest value too.
EXTREME_FLOAT64S = [*EXTREME_FLOATS, float(np.finfo(np.float64).max), -float(np.finfo(np.float64).max)]
float64_fields = st.sampled_from(EXTREME_FLOAT64S) | st.floats()
float32_fields = st.sampled_from(EXTREME_FLOATS) | st.floats(width=32)


def decodes_or_refuses(payload: bytes) -> Batch | None:
    """Decode ``payload``; a batch must be finite and re-encode to ``payload``, else PacketError is expected."""
    try:
        batch = decode(payload)
    except PacketError:
        return None
    assert encode(batch) == payload
    assert 0.0 <= batch.t0_s <= batch.last_s < MAX_T_S
    for scale in (batch.rate_hz, batch.acc_scale_g):
        assert math.isfinite(scale)
        assert scale > 0
    assert batch.acc.shape == (batch.n, 3)
    assert 1 <= batch.n <= MAX_SAMPLES
    assert np.all(np.isfinite(batch.acc_g()))
    assert np.all(np.isfinite(batch.times_s()))
    gyro = batch.gyro_dps()
    assert gyro is None or np.all(np.isfinite(gyro))
    return batch


@FUZZ
@given(st.binary(max_size=2 * HEADER.size + 64))
def test_arbitrary_bytes_decode_and_re_encode_or_raise_packet_error(payload: bytes) -> None:
    """Random bytes of up to a few packets' length."""
    decodes_or_refuses(payload)


@st.composite
def forged_packets(draw: st.DrawFn) -> bytes:
    """A header with every field drawn freely, then a body of about the length it asks for."""
    version = draw(st.sampled_from([VERSION, VERSION, 0, 2, 255]))
    flags = draw(st.sampled_from([0, FLAG_GYRO, 0x02, 0x80, 0xFF]))
    n = draw(st.sampled_from([0, 1, 2, MAX_SAMPLES, MAX_SAMPLES + 1, 2**16 - 1]) | st.integers(0, 40))
    seq = draw(st.sampled_from([0, 2**32 - 1]) | st.integers(0, 2**32 - 1))
    header = HEADER.pack(
        version,
        flags,
        n,
        seq,
        draw(float64_fields),
        draw(float32_fields),
        draw(float32_fields),
        draw(float32_fields),
    )
    channels = 6 if flags & FLAG_GYRO else 3
    # The body the header asks for, give or take a few bytes (capped: a 65535-sample
    # header must not make a 786-KB body).
    wanted = min(n, MAX_SAMPLES) * channels * 2
    size = max(0, wanted + draw(st.integers(-3, 3)))
    fill = draw(st.sampled_from([b"\x00", b"\xff", b"\x7f", b"\x80"]))
    return header + fill * size


@FUZZ
@given(forged_packets())
@example(HEADER.pack(VERSION, 0, 1, 0, 0.0, 50.0, 1.0, -0.0) + bytes(6))
def test_forged_headers_decode_and_re_encode_or_raise_packet_error(payload: bytes) -> None:
    """Header fields at their extremes never crash the decoder and never give a non-finite batch.

    The example is a packet without gyro whose gyro scale is -0.0: it used to decode, and
    its batch re-encoded with +0.0, so two packets gave one batch.
    """
    decodes_or_refuses(payload)


def test_a_negative_zero_gyro_scale_without_gyro_is_refused() -> None:
    """Without gyro the gyro scale is exactly +0.0, the only bytes ``encode`` writes there."""
    payload = with_header(EXAMPLE_PACKET, gyro_scale_dps=-0.0)
    with pytest.raises(PacketError, match=r"gyro_scale_dps must be 0 without gyro, got -0\.0"):
        decode(payload)


@pytest.mark.parametrize("field", ["t0_s", "rate_hz", "acc_scale_g", "gyro_scale_dps"])
def test_each_float_field_at_its_extremes(field: str) -> None:
    """Every extreme float in every float field, on the documented example packet, with and without gyro."""
    with_gyro = with_header(EXAMPLE_PACKET + EXAMPLE_PACKET[HEADER.size :], flags=FLAG_GYRO, gyro_scale_dps=1.0)
    assert decodes_or_refuses(with_gyro) is not None
    for value in EXTREME_FLOAT64S if field == "t0_s" else EXTREME_FLOATS:
        decodes_or_refuses(with_header(EXAMPLE_PACKET, **{field: value}))
        decodes_or_refuses(with_header(with_gyro, **{field: value}))


@pytest.mark.parametrize("n", [0, 1, MAX_SAMPLES, MAX_SAMPLES + 1, 2**16 - 1])
def test_sample_counts_at_their_extremes(n: int) -> None:
    """The largest packet decodes; a count past it is refused whatever body follows."""
    header = HEADER.pack(VERSION, 0, n, 2**32 - 1, 1.7e9, 50.0, 1 / 4096, 0.0)
    for body_samples in {max(n - 1, 0), min(n, MAX_SAMPLES + 1)}:
        batch = decodes_or_refuses(header + bytes(6 * body_samples))
        assert (batch is not None) == (1 <= n <= MAX_SAMPLES and body_samples == n)


@st.composite
def mutated_packets(draw: st.DrawFn) -> bytes:
    """A valid packet with one byte flipped, a cut, or bytes added at the end."""
    n = draw(st.integers(1, 16))
    has_gyro = draw(st.booleans())
    batch = Batch(
        seq=draw(st.integers(0, 2**32 - 1)),
        t0_s=draw(start_times),
        rate_hz=draw(batch_rates),
        acc_scale_g=draw(positive_float32),
        acc=draw(hnp.arrays(np.int16, (n, 3))),
        gyro_scale_dps=draw(positive_float32) if has_gyro else 0.0,
        gyro=draw(hnp.arrays(np.int16, (n, 3))) if has_gyro else None,
    )
    packet = encode(batch)
    kind = draw(st.sampled_from(["flip", "truncate", "extend"]))
    if kind == "flip":
        at = draw(st.integers(0, len(packet) - 1))
        # Bias towards the header, where a flip changes the meaning rather than a count.
        at = draw(st.sampled_from([at, at % HEADER.size]))
        value = draw(st.integers(0, 255).filter(lambda v: v != packet[at]))
        return packet[:at] + bytes([value]) + packet[at + 1 :]
    if kind == "truncate":
        return packet[: draw(st.integers(0, len(packet) - 1))]
    return packet + draw(st.binary(min_size=1, max_size=16))


@FUZZ
@given(mutated_packets())
def test_mutated_packets_decode_and_re_encode_or_raise_packet_error(payload: bytes) -> None:
    """One changed byte gives another valid packet or PacketError; a cut or extended one is always refused."""
    decodes_or_refuses(payload)


def test_every_bit_flip_of_the_example() -> None:
    """Each of the example's bits flipped in turn (all 320 of them)."""
    for at in range(len(EXAMPLE_PACKET)):
        for bit in range(8):
            payload = bytearray(EXAMPLE_PACKET)
            payload[at] ^= 1 << bit
            decodes_or_refuses(bytes(payload))


def test_a_header_only_packet_is_refused_whatever_its_count() -> None:
    """A header and nothing else: refused, as n is at least 1."""
    for n in (0, 1, 2**16 - 1):
        with pytest.raises(PacketError):
            decode(struct.pack("<BBHIdfff", VERSION, 0, n, 0, 0.0, 50.0, 1.0, 0.0))
