"""The binary IMU packet: one batch of tri-axial samples from one device.

The layout is little-endian and versioned; ``docs/protocol.md`` describes it byte by
byte with a worked example. Version 1::

    offset size type     field
         0    1 uint8    version (1)
         1    1 uint8    flags (bit 0: gyro present; other bits must be 0)
         2    2 uint16   n, samples in this packet (1..MAX_SAMPLES)
         4    4 uint32   seq, packet sequence number (per device, +1 per packet)
         8    8 float64  t0_s, device time of the first sample (Unix epoch seconds, 0..2**32)
        16    4 float32  rate_hz, nominal sample rate (> 0)
        20    4 float32  acc_scale_g, g per accelerometer count (> 0)
        24    4 float32  gyro_scale_dps, deg/s per gyro count (> 0 with gyro, else 0)
        28  6n  int16[n][3] ax, ay, az counts, sample after sample
    28+6n  6n  int16[n][3] gx, gy, gz counts (only when flags bit 0 is set)
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ingest.errors import PacketError

__all__ = [
    "FLAG_GYRO",
    "HEADER",
    "MAX_PACKET_BYTES",
    "MAX_SAMPLES",
    "MAX_T_S",
    "VERSION",
    "Batch",
    "decode",
    "encode",
    "epoch_time",
    "from_counts",
    "to_counts",
]

VERSION = 1
FLAG_GYRO = 0x01
HEADER = struct.Struct("<BBHIdfff")
MAX_SAMPLES = 1024
#: The largest packet: ``MAX_SAMPLES`` samples with gyro.
MAX_PACKET_BYTES = HEADER.size + 12 * MAX_SAMPLES
#: Samples are timed from 0 up to (not including) Unix time 2**32 s, 2106-02-07, where a
#: 32-bit unsigned clock ends. A board counting milliseconds (1.7e12 "seconds"), a clock
#: set thousands of years ahead or a rate so low that a packet's last sample lies beyond
#: it is refused here, rather than analysed and dated where no calendar can show it.
MAX_T_S = 2.0**32
_SAMPLE = np.dtype("<i2")


def epoch_time(value: Any) -> float:
    """A time read back (a stored event's, a status's) as Unix epoch seconds within ``[0, MAX_T_S)``.

    Raises:
        ValueError: It is not a number, or lies outside the range packets carry (a clock
            counting milliseconds, in a store written before intake refused one).
        TypeError: It is not a number.

    >>> epoch_time(1.7e9), epoch_time("5")
    (1700000000.0, 5.0)
    >>> epoch_time(1.7e12)
    Traceback (most recent call last):
    ...
    ValueError: time 1700000000000.0 is outside 0..2**32 s (a clock in milliseconds?)
    """
    t_s = float(value)
    if not 0.0 <= t_s < MAX_T_S:
        raise ValueError(f"time {t_s!r} is outside 0..2**32 s (a clock in milliseconds?)")
    return t_s


@dataclass(frozen=True, slots=True, eq=False)
class Batch:
    """One packet's worth of samples, as integer counts with their scales.

    Attributes:
        seq: Packet sequence number, 0..2**32-1, one more for each packet a device sends.
        t0_s: Device time of the first sample, Unix epoch seconds, within [0, ``MAX_T_S``)
            with the last sample too.
        rate_hz: Nominal sample rate; sample ``i`` was taken at ``t0_s + i / rate_hz``.
        acc_scale_g: g per accelerometer count.
        acc: Accelerometer counts, int16 array of shape (n, 3).
        gyro_scale_dps: deg/s per gyro count (0.0 when there is no gyro).
        gyro: Gyro counts, int16 array of shape (n, 3), or None.
    """

    seq: int
    t0_s: float
    rate_hz: float
    acc_scale_g: float
    acc: NDArray[np.int16]
    gyro_scale_dps: float = 0.0
    gyro: NDArray[np.int16] | None = None

    def __post_init__(self) -> None:
        # Every check raises only when it fails, so no message is formatted for a good
        # packet (formatting a dtype or shape costs more than the checks themselves).
        if not isinstance(self.seq, int) or isinstance(self.seq, bool):
            raise PacketError(f"seq must be an int, got {self.seq!r}")
        for name in ("rate_hz", "acc_scale_g", "gyro_scale_dps"):
            object.__setattr__(self, name, _as_float32(name, getattr(self, name)))
        if not 0 <= self.seq < 2**32:
            raise PacketError(f"seq out of range: {self.seq}")
        if not 0.0 <= self.t0_s < MAX_T_S:
            raise PacketError(f"t0_s must be Unix epoch seconds within [0, 2**32), got {self.t0_s} (milliseconds?)")
        if not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise PacketError(f"rate_hz must be > 0, got {self.rate_hz}")
        if not (math.isfinite(self.acc_scale_g) and self.acc_scale_g > 0):
            raise PacketError(f"acc_scale_g must be > 0, got {self.acc_scale_g}")
        _check_counts("acc", self.acc)
        if self.gyro is None:
            if self.gyro_scale_dps != 0.0:
                raise PacketError(f"gyro_scale_dps must be 0 without gyro, got {self.gyro_scale_dps}")
        else:
            _check_counts("gyro", self.gyro)
            if self.gyro.shape != self.acc.shape:
                raise PacketError(f"gyro shape {self.gyro.shape} != acc {self.acc.shape}")
            if not (math.isfinite(self.gyro_scale_dps) and self.gyro_scale_dps > 0):
                raise PacketError(f"gyro_scale_dps must be > 0 with gyro, got {self.gyro_scale_dps}")
        if not self.last_s < MAX_T_S:
            raise PacketError(f"the last sample falls at {self.last_s} s, past 2**32 (rate_hz {self.rate_hz} too low?)")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.acc.shape[0])

    def times_s(self) -> NDArray[np.float64]:
        """Device time of each sample, Unix epoch seconds, shape (n,)."""
        return self.t0_s + np.arange(self.n, dtype=np.float64) / self.rate_hz

    @property
    def last_s(self) -> float:
        """Device time of the newest sample (the last of :meth:`times_s`), Unix epoch seconds."""
        return self.t0_s + float(self.n - 1) / self.rate_hz

    def acc_g(self) -> NDArray[np.float64]:
        """Acceleration in g, shape (n, 3)."""
        return self.acc.astype(np.float64) * self.acc_scale_g

    def gyro_dps(self) -> NDArray[np.float64] | None:
        """Angular rate in deg/s, shape (n, 3), or None without a gyro."""
        return None if self.gyro is None else self.gyro.astype(np.float64) * self.gyro_scale_dps

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Batch):
            return NotImplemented
        same_gyro = (self.gyro is None and other.gyro is None) or (
            self.gyro is not None and other.gyro is not None and np.array_equal(self.gyro, other.gyro)
        )
        return (
            self.seq == other.seq
            and self.t0_s == other.t0_s
            and self.rate_hz == other.rate_hz
            and self.acc_scale_g == other.acc_scale_g
            and self.gyro_scale_dps == other.gyro_scale_dps
            and np.array_equal(self.acc, other.acc)
            and same_gyro
        )

    __hash__ = None  # type: ignore[assignment]


_FLOAT32 = struct.Struct("<f")


def _as_float32(name: str, value: float) -> float:
    """The value as the wire stores it (float32), refusing overflow and underflow to 0.

    >>> _as_float32("rate_hz", 0.1)
    0.10000000149011612
    >>> _as_float32("rate_hz", 1e39)
    Traceback (most recent call last):
    ...
    ingest.errors.PacketError: rate_hz does not fit in float32, got 1e+39
    """
    try:
        (narrow,) = _FLOAT32.unpack(_FLOAT32.pack(value))
    except OverflowError:  # finite but beyond float32's range
        raise PacketError(f"{name} does not fit in float32, got {value}") from None
    if narrow == 0.0 and value != 0.0:
        raise PacketError(f"{name} underflows float32 to 0, got {value}")
    return float(narrow)


def _check_counts(name: str, counts: NDArray[np.int16]) -> None:
    if not isinstance(counts, np.ndarray):
        raise PacketError(f"{name} must be a numpy array, got {type(counts).__name__}")
    if counts.dtype != np.int16:
        raise PacketError(f"{name} must be int16 counts, got {counts.dtype}")
    if counts.ndim != 2 or counts.shape[1] != 3:
        raise PacketError(f"{name} must have shape (n, 3), got {counts.shape}")
    if not 1 <= counts.shape[0] <= MAX_SAMPLES:
        raise PacketError(f"{name} must hold 1..{MAX_SAMPLES} samples, got {counts.shape[0]}")


def to_counts(values: NDArray[np.float64], scale: float) -> NDArray[np.int16]:
    """Quantise physical values to int16 counts, saturating like a real sensor.

    Args:
        values: Values in physical units (g or deg/s), shape (n, 3).
        scale: Physical units per count.

    Returns:
        Counts, int16 array of shape (n, 3).
    """
    return np.clip(np.rint(values / scale), -32768, 32767).astype(np.int16)


def from_counts(counts: NDArray[np.int16], scale: float) -> NDArray[np.float64]:
    """Inverse of :func:`to_counts`: counts times scale, shape (n, 3)."""
    return counts.astype(np.float64) * scale


def encode(batch: Batch) -> bytes:
    """Serialise a batch to the version-1 wire format.

    Args:
        batch: A valid batch (it checked itself when built).

    Returns:
        The packet bytes: a 28-byte header then the sample counts.
    """
    flags = FLAG_GYRO if batch.gyro is not None else 0
    header = HEADER.pack(
        VERSION, flags, batch.n, batch.seq, batch.t0_s, batch.rate_hz, batch.acc_scale_g, batch.gyro_scale_dps
    )
    parts = [header, batch.acc.astype(_SAMPLE, copy=False).tobytes()]
    if batch.gyro is not None:
        parts.append(batch.gyro.astype(_SAMPLE, copy=False).tobytes())
    return b"".join(parts)


def decode(payload: bytes) -> Batch:
    """Parse a packet, checking every length and field.

    Args:
        payload: The raw MQTT payload.

    Returns:
        The batch it carries.

    Raises:
        PacketError: The payload is truncated, oversized, of another version, has unknown
            flags or carries values out of range; the message names the offending value.
    """
    if len(payload) < HEADER.size:
        raise PacketError(f"packet too short: {len(payload)} < {HEADER.size} bytes")
    version, flags, n, seq, t0_s, rate_hz, acc_scale, gyro_scale = HEADER.unpack_from(payload)
    if version != VERSION:
        raise PacketError(f"unsupported packet version {version} (expected {VERSION})")
    if flags & ~FLAG_GYRO:
        raise PacketError(f"unknown flag bits 0x{flags:02x}")
    if not 1 <= n <= MAX_SAMPLES:
        raise PacketError(f"sample count {n} outside 1..{MAX_SAMPLES}")
    # -0.0 too: encode writes +0.0, so a batch re-encodes to the bytes it came from.
    if not flags & FLAG_GYRO and (gyro_scale != 0.0 or math.copysign(1.0, gyro_scale) < 0):
        raise PacketError(f"gyro_scale_dps must be 0 without gyro, got {gyro_scale}")
    channels = 6 if flags & FLAG_GYRO else 3
    expected = HEADER.size + n * channels * _SAMPLE.itemsize
    if len(payload) != expected:
        raise PacketError(f"packet length {len(payload)} != {expected} bytes for {n} samples")
    counts = np.frombuffer(payload, dtype=_SAMPLE, offset=HEADER.size).astype(np.int16)
    acc = counts[: n * 3].reshape(n, 3)
    gyro = counts[n * 3 :].reshape(n, 3) if flags & FLAG_GYRO else None
    return Batch(
        seq=seq,
        t0_s=t0_s,
        rate_hz=float(rate_hz),
        acc_scale_g=float(acc_scale),
        acc=acc,
        gyro_scale_dps=float(gyro_scale) if gyro is not None else 0.0,
        gyro=gyro,
    )
