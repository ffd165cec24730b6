"""Polar H10 and Verity Sense: the accelerometer over the Polar Measurement Data (PMD) service.

Both sensors stream through one GATT service (``../shared/ble_devices.md``, section 5.3):

=============  ========================================  ================  ==============================
short name     UUID                                      properties        content
=============  ========================================  ================  ==============================
service        ``fb005c80-02e7-f387-1cad-8acd2d8df0c8``
control point  ``fb005c81-02e7-f387-1cad-8acd2d8df0c8``  write, indicate   commands in, answers out
data           ``fb005c82-02e7-f387-1cad-8acd2d8df0c8``  notify            one data frame each
=============  ========================================  ================  ==============================

A command is an op code (2 start, 3 stop), the measurement type (2 = ACC, online) and,
for start, the settings as ``[type, count 1, value LE]``: sample rate (2 bytes),
resolution 16 bits (2 bytes), range 8 g (2 bytes) and, on the Verity Sense, 3 channels
(1 byte). The gateway must subscribe to the control point's indications and to the data
notifications before it writes (the SDK's ``sendControlPointCommand`` refuses to send a
command otherwise); the answer to start may carry the factor of compressed frames
(:func:`start_response_factor`), which the gateway hands to the decoder
(:meth:`PmdAccDecoder.reply`) before the first frame.

A data frame is a 10-byte header and samples: byte 0 the measurement type (low 6 bits),
bytes 1-8 the time of the frame's last sample (uint64 LE, ns since 2000-01-01T00:00:00
UTC), byte 9 the frame type (bit 7 set: delta-compressed; bits 0-6: the type). ACC
frames are

* raw type 0, 1 and 2: samples of 3 signed LE integers of 1, 2 and 3 bytes, in mG;
* compressed type 1: a reference sample of 3 int16 LE, then blocks of (delta width in
  bits, sample count, count x 3 signed deltas of that width packed least significant bit
  first), each sample the previous one plus its deltas, in mG times the factor;
* compressed type 0: the same with the factor giving g.

The H10 is reported to send raw type-1 frames and the Verity Sense compressed type-1
frames (polar-ble-sdk issues #331 and #443); the SDK does not say which model sends
which. Sample times follow the SDK: the samples of a frame are spread evenly after the
previous frame of the same type up to this frame's time stamp, or, for the first frame
of a stream, back from it at the sample rate.

The device clock is UTC only if it was never set to local time (the SDK's
``setLocalTime`` makes the time stamps local wall-clock time), and an H10 taken off its
strap forgets the time and restarts at 2019-01-01 (``TimeSystemExplained.md``), so the
gateway compares the times with the host clock.

Sources, ``polarofficial/polar-ble-sdk`` at commit 8fb5311c, Android sources under
``sources/Android/android-communications/library/src/main/java/com/polar/androidcommunications/``
(learned from, not copied):

* ``api/ble/model/gatt/client/pmd/BlePMDClient.kt``: the UUIDs; ``startMeasurement``,
  ``stopMeasurement`` and ``sendControlPointCommand`` (command layout);
  ``processPmdData`` and ``getPreviousFrameTimeStamp`` (previous time per measurement
  and frame type); ``parseDeltaFramesAll``, ``parseDeltaFrameRefSamples`` and
  ``parseDeltaFrame`` (delta frames); ``getFactor`` (1.0 when none was given).
* ``.../pmd/PmdControlPointCommand.kt`` (op codes), ``.../pmd/PmdSetting.kt``
  (``serializeSelected``, ``typeToFieldSize``, ``updateSelectedFromStartResponse``),
  ``.../pmd/PmdControlPointResponse.kt`` (the answer), ``.../pmd/PmdMeasurementType.kt``
  (``fromId`` masks 0x3F), ``.../pmd/PmdDataFrame.kt`` (the header).
* ``.../pmd/model/AccData.kt`` (``parseDataFromDataFrame``: the frame types, units and
  factor) and ``.../pmd/model/PmdTimeStampUtils.kt`` (``getTimeStamps``).
* ``api/ble/model/polar/PolarAdvDataUtility.kt``: local names are ``Polar <model> <id>``.
* ``documentation/TimeSystemExplained.md``, ``documentation/products/PolarH10.md`` and
  ``documentation/products/PolarVeritySense.md`` (rates and ranges).

>>> PROFILE.start(200.0)[0].data.hex(" ")
'02 02 00 01 c8 00 01 01 10 00 02 01 08 00'
>>> frame = bytes.fromhex("02 00ca9a3b00000000 01 e803 0000 18fc")
>>> PROFILE.decoder(50.0).decode(frame).acc_g
array([[ 1.,  0., -1.]])
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Profile, Samples, Write, nearest_rate

__all__ = [
    "PMD_CONTROL_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_EPOCH_UNIX_S",
    "PROFILE",
    "PmdAccDecoder",
    "PolarModel",
    "PolarProfile",
    "start_response_factor",
]

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
#: Unix time of the Polar epoch, 2000-01-01T00:00:00Z (``TimeSystemExplained.md``).
POLAR_EPOCH_UNIX_S = 946_684_800

_OP_START = 0x02
_OP_STOP = 0x03
_ACC = 0x02
_MEASUREMENT_MASK = 0x3F
_COMPRESSED = 0x80
_FRAME_TYPE_MASK = 0x7F
_HEADER_BYTES = 10
_CHANNELS = 3
#: Bytes per value of the raw ACC frame types (``AccData.kt``).
_RAW_BYTES = {0: 1, 1: 2, 2: 3}
#: Compressed ACC frame types (``AccData.kt``); both have 16-bit reference samples.
_DELTA_TYPES = frozenset({0, 1})
_REF_BYTES = 2
#: Widest delta the SDK can hold: it unpacks deltas into 32-bit integers.
_MAX_DELTA_BITS = 32
_TIMESTAMP = struct.Struct("<Q")
_RESPONSE = 0xF0
#: Bytes per value of each setting type (``PmdSetting.kt``, ``typeToFieldSize``).
_SETTING_BYTES = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4, 6: 16}
_SAMPLE_RATE, _RESOLUTION, _RANGE, _CHANNELS_SETTING, _FACTOR = 0, 1, 2, 4, 5
_STATUS = (
    "success",
    "invalid op code",
    "invalid measurement type",
    "not supported",
    "invalid length",
    "invalid parameter",
    "already in state",
    "invalid resolution",
    "invalid sample rate",
    "invalid range",
    "invalid MTU",
    "invalid number of channels",
    "invalid state",
    "device in charger",
    "disk full",
)


class PolarModel(StrEnum):
    """A Polar sensor with an accelerometer stream: the model word of its local name ``Polar <model> <id>``."""

    H10 = "H10"
    VERITY_SENSE = "Sense"


#: Online ACC rates. The Verity Sense offers 26-416 Hz only in SDK mode, which also stops
#: its heart rate; sitless keeps it in normal mode at its one rate (PolarVeritySense.md).
_RATES_HZ = {PolarModel.H10: (25.0, 50.0, 100.0, 200.0), PolarModel.VERITY_SENSE: (52.0,)}
_NAME = re.compile(r"Polar (H10|Sense)(?:\s|$)")


def _model_of(local_name: str | None) -> PolarModel | None:
    """The model a local name advertises, None when it is not an H10 or a Verity Sense.

    >>> _model_of("Polar Sense B5A25B2F"), _model_of("Polar H100"), _model_of(None)
    (<PolarModel.VERITY_SENSE: 'Sense'>, None, None)
    """
    found = _NAME.match(local_name.strip()) if local_name else None
    return PolarModel(found.group(1)) if found else None


def _setting(kind: int, value: int) -> bytes:
    """One setting of a start command: type, count 1, value LE."""
    return bytes([kind, 1]) + value.to_bytes(_SETTING_BYTES[kind], "little")


class PolarProfile:
    """The PMD accelerometer of one Polar model (module docstring).

    ``rates_hz`` depends on the model, so each model has its own instance: the gateway
    picks it from the advertised name with :meth:`for_name`.

    Attributes:
        model: The sensor model.
        rates_hz: The model's online ACC rates, Hz, ascending.
    """

    __slots__ = ("model", "rates_hz")

    name = "polar"
    service_uuid = PMD_SERVICE_UUID
    notify_uuid = PMD_DATA_UUID
    control_uuid = PMD_CONTROL_UUID
    indicate_uuids: tuple[str, ...] = (PMD_CONTROL_UUID,)
    rate_uuid: str | None = None

    def __init__(self, model: PolarModel = PolarModel.H10) -> None:
        self.model = model
        self.rates_hz: tuple[float, ...] = _RATES_HZ[model]

    def __repr__(self) -> str:
        return f"PolarProfile({self.model.name})"

    def matches(self, local_name: str | None, service_uuids: Sequence[str]) -> bool:
        """The PMD service advertised, or a local name ``Polar H10 …`` or ``Polar Sense …``."""
        if any(u.lower() == PMD_SERVICE_UUID for u in service_uuids):
            return True
        return _model_of(local_name) is not None

    def for_name(self, local_name: str | None) -> PolarProfile:
        """The profile of the model a device advertises; the H10's when the name does not say.

        >>> PROFILE.for_name("Polar Sense B5A25B2F").rates_hz
        (52.0,)
        """
        return PolarProfile(_model_of(local_name) or PolarModel.H10)

    def start(self, rate_hz: float) -> list[Write]:
        """Start the ACC stream at the supported rate nearest ``rate_hz``, 16 bits, ±8 g."""
        rate = round(nearest_rate(self.rates_hz, rate_hz))
        command = bytes([_OP_START, _ACC])
        command += _setting(_SAMPLE_RATE, rate) + _setting(_RESOLUTION, 16) + _setting(_RANGE, 8)
        if self.model is PolarModel.VERITY_SENSE:
            command += _setting(_CHANNELS_SETTING, _CHANNELS)
        return [Write(PMD_CONTROL_UUID, command)]

    def stop(self) -> list[Write]:
        """Stop the ACC stream; an H10 left streaming stays on until its battery is empty (KnownIssues.md)."""
        return [Write(PMD_CONTROL_UUID, bytes([_OP_STOP, _ACC]))]

    def decoder(self, rate_hz: float, factor: float = 1.0) -> PmdAccDecoder:
        """A fresh decoder for a stream started at ``rate_hz`` (snapped as :meth:`start` does).

        Args:
            rate_hz: The rate given to :meth:`start`, Hz.
            factor: The factor of compressed frames from the answer to start
                (:func:`start_response_factor`); 1.0 when it gave none.
        """
        return PmdAccDecoder(nearest_rate(self.rates_hz, rate_hz), factor)

    def buzz(self, command: Command) -> list[Write]:
        """Nothing: the PMD service has no motor, LED or buzzer to drive."""
        return []

    def settled_rate(self, data: bytes) -> float:
        """Never called: the rate is the one started or the start is refused (``rate_uuid`` is None)."""
        raise ProfileError("the polar profile has no rate to read back")


class PmdAccDecoder:
    """Decodes the ACC frames of one PMD stream; remembers the last time stamp of each frame type.

    Args:
        rate_hz: The stream's sample rate, Hz; spaces the samples of its first frame.
        factor: The factor of compressed frames (``AccData.kt``).

    Raises:
        ValueError: A rate or factor that is not a finite number > 0.
    """

    __slots__ = ("_factor", "_previous_ns", "rate_hz")

    def __init__(self, rate_hz: float, factor: float = 1.0) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be a finite number > 0, got {rate_hz!r}")
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
        self.rate_hz = float(rate_hz)
        self._factor = np.float32(factor)
        self._previous_ns: dict[int, int] = {}

    @property
    def factor(self) -> float:
        """The factor compressed frames are scaled by (``AccData.kt``)."""
        return float(self._factor)

    def reply(self, data: bytes) -> None:
        """Take the control point's answer: the answer to an ACC start sets the factor of compressed frames.

        The SDK keeps the factor of the answer to start (``BlePMDClient.startMeasurement``,
        ``PmdSetting.updateSelectedFromStartResponse``) and scales compressed frames by it
        (``AccData.kt``); raw frames are in mG whatever the factor. Other answers (to stop,
        to a settings query) leave it.

        >>> decoder = PmdAccDecoder(52.0)
        >>> decoder.reply(bytes.fromhex("f0 02 02 00 00 05 01 0000003f"))
        >>> decoder.factor
        0.5

        Raises:
            ProfileError: The sensor refused to start ACC (the status named), or the answer does not read.
        """
        if len(data) >= 3 and data[0] == _RESPONSE and data[1] == _OP_START and data[2] & _MEASUREMENT_MASK == _ACC:
            self._factor = np.float32(start_response_factor(data))

    def decode(self, data: bytes) -> Samples:
        """The samples of one ACC frame in g, shape (n, 3), with their device times in Unix seconds.

        As in the SDK, a frame whose header reads becomes the previous frame of its type
        even when its samples do not, so that the next frame is spread over the time since.

        Raises:
            ProfileError: Empty, shorter than the header, not ACC, an unknown frame type,
                a truncated sample or delta block, a delta block of 0 samples or with a
                width outside 1-32 bits, no samples, compressed samples that overflow
                float32 times the factor, or a time stamp that is not after the
                previous frame's (or too early for the first frame's samples).
        """
        if not data:
            raise ProfileError("empty PMD frame")
        if len(data) < _HEADER_BYTES:
            raise ProfileError(f"PMD frame of {len(data)} bytes is shorter than its {_HEADER_BYTES}-byte header")
        if data[0] & _MEASUREMENT_MASK != _ACC:
            raise ProfileError(
                f"not an ACC frame: measurement type {data[0] & _MEASUREMENT_MASK} (byte {data[0]:#04x})"
            )
        frame_ns: int = _TIMESTAMP.unpack_from(data, 1)[0]
        compressed = bool(data[9] & _COMPRESSED)
        frame_type = data[9] & _FRAME_TYPE_MASK
        if frame_type not in (_DELTA_TYPES if compressed else _RAW_BYTES):
            kind = "compressed" if compressed else "raw"
            raise ProfileError(f"unknown ACC frame type {data[9]:#04x} ({kind} type {frame_type})")
        previous_ns = self._previous_ns.get(frame_type, 0)
        self._previous_ns[frame_type] = frame_ns
        body = bytes(data[_HEADER_BYTES:])
        if not compressed:
            acc_mg = _raw_samples(body, _RAW_BYTES[frame_type])
        elif frame_type == 1:
            deltas = _delta_samples(body)
            acc_mg = deltas if self._factor == 1 else _truncate(deltas, self._factor)
        else:
            with np.errstate(over="ignore"):  # an infinite factor: _truncate refuses its products
                factor_mg = self._factor * np.float32(1000)
            acc_mg = _truncate(_delta_samples(body), factor_mg)
        t_ns = _sample_times_ns(previous_ns, frame_ns, acc_mg.shape[0], self.rate_hz)
        return Samples(acc_mg / 1000.0, t_s=t_ns / 1e9 + POLAR_EPOCH_UNIX_S)


def _raw_samples(body: bytes, width: int) -> NDArray[np.float64]:
    """Raw samples of 3 signed LE integers of ``width`` bytes, shape (n, 3).

    >>> _raw_samples(bytes.fromhex("01 ff 80"), 1)
    array([[   1.,   -1., -128.]])
    """
    size = width * _CHANNELS
    if not body:
        raise ProfileError("ACC frame holds no samples")
    if len(body) % size:
        raise ProfileError(f"truncated sample: {len(body)} bytes of samples is not a multiple of {size}")
    octets = np.frombuffer(body, dtype=np.uint8).reshape(-1, width).astype(np.int64)
    values: NDArray[np.int64] = (octets << (8 * np.arange(width, dtype=np.int64))).sum(axis=1)
    values = np.where(values >= 1 << (8 * width - 1), values - (1 << (8 * width)), values)
    return values.reshape(-1, _CHANNELS).astype(np.float64)


def _delta_samples(body: bytes) -> NDArray[np.float64]:
    """The samples of a delta-compressed body: a 16-bit reference sample, then delta blocks; shape (n, 3).

    A block is the delta width in bits, the sample count, then ``count x 3`` deltas
    packed least significant bit first: bit ``i`` of the block is bit ``i % 8`` of its
    byte ``i // 8``, so the block read as one little-endian integer has delta ``k`` in
    bits ``k * width`` up, a signed two's-complement value of ``width`` bits.

    >>> _delta_samples(bytes.fromhex("0a00 f6ff e803 02 01 2d"))  # 2-bit deltas 01, 11, 10: +1, -1, -2
    array([[  10.,  -10., 1000.],
           [  11.,  -11.,  998.]])
    """
    ref_size = _REF_BYTES * _CHANNELS
    if len(body) < ref_size:
        raise ProfileError(f"truncated sample: a compressed frame needs a {ref_size}-byte reference, got {len(body)}")
    rows = [[int.from_bytes(body[i : i + _REF_BYTES], "little", signed=True) for i in range(0, ref_size, _REF_BYTES)]]
    offset = ref_size
    while offset < len(body):
        if offset + 2 > len(body):
            raise ProfileError(f"delta block header at byte {offset} runs past the {len(body)} bytes of samples")
        width, count = body[offset], body[offset + 1]
        offset += 2
        if not 0 < width <= _MAX_DELTA_BITS:
            raise ProfileError(f"delta width of {width} bits is outside 1 to {_MAX_DELTA_BITS}")
        if count == 0:
            raise ProfileError(f"delta block at byte {offset - 2} has a sample count of 0")
        size = math.ceil(width * count * _CHANNELS / 8)
        if offset + size > len(body):
            raise ProfileError(
                f"delta block of {size} bytes at byte {offset} runs past the {len(body)} bytes of samples"
            )
        bits = int.from_bytes(body[offset : offset + size], "little")
        offset += size
        mask, sign = (1 << width) - 1, 1 << (width - 1)
        for k in range(0, count * _CHANNELS, _CHANNELS):
            deltas = [(((bits >> ((k + c) * width)) & mask) ^ sign) - sign for c in range(_CHANNELS)]
            rows.append([last + delta for last, delta in zip(rows[-1], deltas, strict=True)])
    return np.array(rows, dtype=np.float64)


def _truncate(samples: NDArray[np.float64], factor: np.float32) -> NDArray[np.float64]:
    """``samples x factor`` in float32 truncated toward zero, as the SDK scales compressed frames.

    Raises:
        ProfileError: A product beyond float32's range (a factor no sensor sends, or deltas
            that ran away): the samples would be infinite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        scaled: NDArray[np.float32] = np.trunc(samples.astype(np.float32) * factor)
    if not np.all(np.isfinite(scaled)):
        raise ProfileError(f"compressed samples times the factor {float(factor):g} overflow float32")
    return scaled.astype(np.float64)


def _sample_times_ns(previous_ns: int, frame_ns: int, n: int, rate_hz: float) -> NDArray[np.float64]:
    """Device times of a frame's ``n`` samples, ns since the Polar epoch (``PmdTimeStampUtils.getTimeStamps``).

    The last sample is at the frame's time stamp. After a previous frame of the same type
    the samples share the time since it evenly; without one (``previous_ns`` 0) they are
    spaced by the sample period. Times before the last are rounded to whole ns.

    >>> _sample_times_ns(0, 1_000_000_000, 3, 50.0)
    array([9.6e+08, 9.8e+08, 1.0e+09])
    >>> _sample_times_ns(1_000_000_000, 1_060_000_000, 3, 50.0)
    array([1.02e+09, 1.04e+09, 1.06e+09])
    """
    if previous_ns == 0:
        step_ns = 1e9 / rate_hz
        if frame_ns < step_ns * n:
            raise ProfileError(f"time stamp {frame_ns} ns is too early for {n} samples at {rate_hz:g} Hz")
        first_ns = frame_ns - step_ns * (n - 1)
    else:
        if frame_ns <= previous_ns:
            raise ProfileError(f"time stamp {frame_ns} ns is not after the previous frame's {previous_ns} ns")
        step_ns = float(frame_ns - previous_ns) / n
        first_ns = previous_ns + step_ns
    before = np.round(first_ns + step_ns * np.arange(n - 1, dtype=np.float64))
    return np.append(before, float(frame_ns))


def start_response_factor(data: bytes) -> float:
    """The factor of compressed ACC frames in the control point's answer to start; 1.0 when it has none.

    The answer (``PmdControlPointResponse.kt``) is 0xF0, the op code, the measurement
    type, a status (0 = success), a "more" flag, then settings as in a command; the
    factor is setting 5, a float32 LE (``PmdSetting.updateSelectedFromStartResponse``).

    >>> start_response_factor(bytes.fromhex("f0 02 02 00 00"))
    1.0
    >>> start_response_factor(bytes.fromhex("f0 02 02 00 00 05 01 0000803e"))
    0.25

    Raises:
        ProfileError: Not an answer to an ACC start, a refusal (the status named), a
            truncated or unknown setting, or a factor that is not a finite number > 0.
    """
    if len(data) < 4 or data[0] != _RESPONSE:
        raise ProfileError(f"not a PMD control point answer: {bytes(data[:8]).hex(' ')}")
    if data[1] != _OP_START or data[2] & _MEASUREMENT_MASK != _ACC:
        raise ProfileError(f"not the answer to an ACC start: op code {data[1]}, measurement type {data[2]}")
    if data[3]:
        status = _STATUS[data[3]] if data[3] < len(_STATUS) else "unknown"
        raise ProfileError(f"the sensor refused to start ACC: status {data[3]} ({status})")
    params, offset, factor = bytes(data[5:]), 0, 1.0
    while offset < len(params):
        if offset + 2 > len(params):
            raise ProfileError(f"setting at byte {offset} of the answer is truncated")
        kind, count = params[offset], params[offset + 1]
        if kind not in _SETTING_BYTES:
            raise ProfileError(f"unknown setting type {kind} in the answer")
        end = offset + 2 + count * _SETTING_BYTES[kind]
        if end > len(params):
            raise ProfileError(f"setting type {kind} at byte {offset} of the answer is truncated")
        if kind == _FACTOR and count:
            factor = struct.unpack_from("<f", params, offset + 2)[0]
        offset = end
    if not (math.isfinite(factor) and factor > 0):
        raise ProfileError(f"factor must be a finite number > 0, got {factor!r}")
    return float(factor)


#: The family's entry for ``--profile polar``: the H10 until :meth:`PolarProfile.for_name` says otherwise.
PROFILE = PolarProfile()

if TYPE_CHECKING:
    _IS_A_PROFILE: Profile = PROFILE
