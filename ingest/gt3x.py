"""Reading ActiGraph ``.gt3x`` files: the ``activity.bin`` and the ``log.bin`` layouts.

A ``.gt3x`` is a zip holding ``info.txt`` (serial number, sample rate, start date,
time zone) and the samples in one of two layouts, both documented by ActiGraph under
the MIT licence:

- ``activity.bin`` (GT3X+ "NEO"/ActiSleep+ "MRA", firmware up to 2.5.0): the 12-bit
  packed stream of github.com/actigraph/NHANES-GT3X-File-Format,
  ``fileformats/activity.bin.md`` and ``fileformats/info.txt.md``.
- ``log.bin`` (firmware 3 and later, wGT3X+, wGT3X-BT, GT9X): log records, documented in
  github.com/actigraph/GT3X-File-Format, ``README.md``, ``LogRecords/Activity.md``,
  ``Activity2.md``, ``Parameters.md``, ``Metadata.md``.

Both are streamed from the zip (``read_gt3x``). The maintained reader, ActiGraph's
``pygt3x``, is GPL-3.0 and not used. ``ingest.loggers`` chooses this reader by content
and turns its Unix times into ``Chunk`` values; readers, licences and memory are in
docs/loggers.md.
"""

from __future__ import annotations

import math
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ingest.errors import PayloadError, RecordingError
from ingest.recording import HEADER_RATE_RANGE_HZ, RecordingClock

__all__ = [
    "GT3X_SCALE_G",
    "GT3xRecord",
    "gt3x_checksum",
    "iter_gt3x_records",
    "read_gt3x",
    "unpack_gt3x_activity",
]

#: Counts per g of ``activity.bin`` samples (activity.bin.md, "Scaling Activity Values").
GT3X_SCALE_G = 341.0

#: .NET ticks (100 ns since 0001-01-01) at the Unix epoch.
_TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000
_TICKS_PER_S = 10_000_000
#: .NET ticks of DateTime.MaxValue (9999-12-31T23:59:59.9999999), the latest Start Date.
_MAX_TICKS = 3_155_378_975_999_999_999
#: Bytes of two packed activity.bin samples (2 x 3 axes x 12 bits).
_GT3X_PAIR_BYTES = 9
#: log.bin (GT3X-File-Format README.md, "Log Record Format"): separator 0x1E, type,
#: uint32 LE timestamp (s), uint16 LE payload size, the payload, a 1-byte checksum.
_LOG_SEPARATOR = 0x1E
_LOG_HEADER = struct.Struct("<BBIH")
_LOG_ACTIVITY = 0x00  # 12-bit packed, Y X Z (LogRecords/Activity.md)
_LOG_METADATA = 0x06  # JSON (LogRecords/Metadata.md)
_LOG_PARAMETERS = 0x15  # 8-byte key/value pairs (LogRecords/Parameters.md)
_LOG_ACTIVITY2 = 0x1A  # int16 LE, X Y Z (LogRecords/Activity2.md)
#: PARAMETERS key of ACCEL_SCALE (address space 0, identifier 55), LSB per g.
_PARAM_ACCEL_SCALE = (0, 55)
#: Counts per g by serial-number prefix when no PARAMETERS record gives ACCEL_SCALE
#: (Activity.md and Activity2.md, "Scaling Activity Values": NEO and CLE ±6 g, MOS ±8 g).
_GT3X_SCALE_BY_SERIAL = {"NEO": 341.0, "CLE": 341.0, "MOS": 256.0}
_LOG_READ_BYTES = 1 << 16
#: Largest info.txt read, bytes. ActiGraph's is a dozen short lines (299 bytes in the
#: NEO sample, ``SITLESS_DATA/loggers/neo.gt3x``); read whole, a 408 KB .gt3x whose
#: info.txt inflated to 400 MB took 930 MB of memory.
_MAX_INFO_BYTES = 64 * 1024
#: The first byte that is not 0: zero bytes between log records are skipped in one search.
_NONZERO = re.compile(rb"[^\x00]")

#: What ``read_gt3x`` yields: Unix times, s, shape (n,); acceleration, g, shape (n, 3).
_Samples = tuple[NDArray[np.float64], NDArray[np.float64]]


def _split(epoch_s: NDArray[np.float64], acc_g: NDArray[np.float64], rows: int) -> Iterator[_Samples]:
    for i in range(0, epoch_s.size, rows):
        yield epoch_s[i : i + rows], acc_g[i : i + rows]


def unpack_gt3x_activity(packed: bytes, scale: float = GT3X_SCALE_G) -> NDArray[np.float64]:
    """Unpack ``activity.bin`` bytes: 12-bit two's complement samples in Y, X, Z order.

    Follows ActiGraph's activity.bin.md: 4.5 bytes a sample, big-endian nibbles, values
    over 2047 negative, divided by 341 and rounded to 3 decimals as ActiLife does. A
    trailing half byte (odd sample count) is ignored. The payload of a log.bin ACTIVITY
    record is packed the same way (GT3X-File-Format ``LogRecords/Activity.md``).

    Args:
        packed: Whole samples' bytes from the start of a sample (an even sample, i.e. a
            multiple of 9 bytes, except at the end of the file).
        scale: Counts per g.

    Returns:
        Accelerations in g in X, Y, Z order, shape (n, 3).

    >>> unpack_gt3x_activity(bytes.fromhex("006008EBD007009EBF007008EBF0")).tolist()
    [[0.023, 0.018, -0.947], [0.026, 0.021, -0.941], [0.023, 0.021, -0.941]]
    """
    whole = len(packed) // _GT3X_PAIR_BYTES * _GT3X_PAIR_BYTES
    tail = packed[whole:]
    odd = len(tail) >= 5  # one more sample needs 4.5 bytes
    buf = np.frombuffer(packed[:whole] + (tail[:5] + b"\x00" * 4 if odd else b""), dtype=np.uint8)
    b = buf.reshape(-1, _GT3X_PAIR_BYTES).astype(np.int32)
    values = np.empty((b.shape[0], 6), dtype=np.int32)
    for k in range(3):  # three byte triples, each two 12-bit values
        b0, b1, b2 = b[:, 3 * k], b[:, 3 * k + 1], b[:, 3 * k + 2]
        values[:, 2 * k] = (b0 << 4) | (b1 >> 4)
        values[:, 2 * k + 1] = ((b1 & 0x0F) << 8) | b2
    values = np.where(values > 2047, values - 4096, values)  # 12-bit two's complement
    yxz = values.reshape(-1, 3)
    if odd:
        yxz = yxz[:-1]
    return np.round(yxz[:, [1, 0, 2]] / scale, 3)


def _entry(zf: zipfile.ZipFile, name: str, path: Path) -> IO[bytes]:
    """Open one file of the zip to read.

    Raises:
        KeyError: The zip has no such file.
        RecordingError: The file is encrypted (zipfile raises ``RuntimeError``, asking for a password).
    """
    try:
        return zf.open(name)
    except RuntimeError as err:
        raise RecordingError(f"{path}: not a .gt3x file: its {name} is encrypted ({err})") from err


def _gt3x_info(zf: zipfile.ZipFile, path: Path) -> dict[str, str]:
    """info.txt's ``Key: value`` lines, read up to ``_MAX_INFO_BYTES`` (a zip inflates what it holds at will)."""
    try:
        with _entry(zf, "info.txt", path) as f:
            data = f.read(_MAX_INFO_BYTES + 1)
    except KeyError as err:
        raise RecordingError(f"{path}: not a .gt3x file: the zip has no info.txt") from err
    if len(data) > _MAX_INFO_BYTES:
        raise RecordingError(
            f"{path}: not a .gt3x file: its info.txt is over {_MAX_INFO_BYTES} bytes (ActiGraph's hold a few hundred)"
        )
    text = data.decode("utf-8", errors="replace")
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def _utc_offset_s(text: str) -> float | None:
    """A .gt3x info.txt ``TimeZone`` (``-06:00:00``) in s, or ``None`` when unreadable.

    An offset no time zone has (beyond UTC-12 to UTC+14, or minutes or seconds past 59)
    is unreadable too: a damaged file's ``99:99:99`` must not become a four-day offset.

    >>> _utc_offset_s("-06:00:00"), _utc_offset_s("05:30:00"), _utc_offset_s("?"), _utc_offset_s("99:99:99")
    (-21600.0, 19800.0, None, None)
    """
    match = re.fullmatch(r"([+-]?)(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if match is None:
        return None
    hours, minutes, seconds = int(match[2]), int(match[3]), int(match[4] or 0)
    sign = -1.0 if match[1] == "-" else 1.0
    offset_s = sign * (hours * 3600 + minutes * 60 + seconds)
    if minutes > 59 or seconds > 59 or not -12 * 3600 <= offset_s <= 14 * 3600:
        return None
    return offset_s


def read_gt3x(path: Path, chunk_rows: int, clock: RecordingClock) -> Iterator[_Samples]:
    """Stream an ActiGraph .gt3x file from its zip, ``activity.bin`` or else ``log.bin``.

    Args:
        path: The .gt3x file.
        chunk_rows: Samples per chunk (> 0), the last chunk fewer. ``activity.bin`` is
            read in whole 9-byte pairs of samples: its chunks hold
            ``2 * max(1, chunk_rows // 2)``.
        clock: Given the UTC offset of info.txt's ``TimeZone`` (or, in a ``log.bin``,
            of a METADATA record), ``None`` when neither says.

    Yields:
        ``(epoch_s, acc_g)``: Unix times in s, shape (n,), and acceleration in g in
        X, Y, Z order, shape (n, 3).

    Raises:
        RecordingError: The zip lacks info.txt or both activity.bin and log.bin;
            info.txt lacks a usable Sample Rate, Start Date or Acceleration Scale; or
            log.bin has a damaged record, no accelerometer scale or records out of
            time order.
        EOFError: A log record cut short.
        OSError: The file cannot be read.
        zipfile.BadZipFile: The zip is damaged or truncated.
    """
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        info = _gt3x_info(zf, path)
        if "activity.bin" not in names and "log.bin" not in names:
            raise RecordingError(f"{path}: not a .gt3x file: the zip has no activity.bin or log.bin")
        try:
            rate_hz = float(info["Sample Rate"])
            start_ticks = int(info["Start Date"])
        except (KeyError, ValueError) as err:
            raise RecordingError(f"{path}: info.txt has no usable Sample Rate and Start Date: {err}") from err
        low_hz, high_hz = HEADER_RATE_RANGE_HZ
        if not low_hz <= rate_hz <= high_hz:
            raise RecordingError(f"{path}: info.txt: Sample Rate must be {low_hz:g} to {high_hz:g} Hz, got {rate_hz}")
        if not 0 <= start_ticks <= _MAX_TICKS:
            raise RecordingError(
                f"{path}: info.txt: Start Date must be .NET ticks 0 to {_MAX_TICKS}, got {start_ticks}"
            )
        # Start Date is the device's local time; TimeZone (when given) is its UTC offset.
        offset_s = _utc_offset_s(info.get("TimeZone", ""))
        clock.utc_offset_s = offset_s
        if "activity.bin" not in names:
            yield from _read_gt3x_log(zf, path, info, rate_hz=rate_hz, chunk_rows=chunk_rows, clock=clock)
            return
        start_s = (start_ticks - _TICKS_AT_UNIX_EPOCH) / _TICKS_PER_S - (offset_s or 0.0)
        pair_rows = max(1, chunk_rows // 2)
        done = 0
        with _entry(zf, "activity.bin", path) as f:
            while packed := f.read(pair_rows * _GT3X_PAIR_BYTES):
                acc_g = unpack_gt3x_activity(packed)
                epoch_s = start_s + (done + np.arange(acc_g.shape[0])) / rate_hz
                done += acc_g.shape[0]
                yield epoch_s, acc_g


class GT3xRecord(NamedTuple):
    """One log.bin record (GT3X-File-Format ``README.md``, "Log Record Format").

    Attributes:
        kind: The record type (0x00 ACTIVITY, 0x15 PARAMETERS, 0x1A ACTIVITY2, ...).
        timestamp_s: Its time to the second, device time (local unless initialised in UTC).
        payload: The payload bytes.
        offset: Where the record starts in log.bin, bytes.
    """

    kind: int
    timestamp_s: int
    payload: bytes
    offset: int


def gt3x_checksum(record: bytes) -> int:
    """The checksum of a log record's header and payload: their XOR, complemented (README.md, "Checksum Calculation").

    >>> hex(gt3x_checksum(bytes.fromhex("1e 06")))  # ~(0x1e ^ 0x06)
    '0xe7'
    """
    x = 0
    for b in record:
        x ^= b
    return ~x & 0xFF


def iter_gt3x_records(f: IO[bytes]) -> Iterator[GT3xRecord]:
    """The records of a log.bin stream, read a block at a time, each checked against its checksum.

    Zero bytes between records are skipped (README.md: "Extra bytes with 0's between
    valid records ... can be ignored").

    Args:
        f: The log.bin stream.

    Yields:
        Each record in file order.

    Raises:
        EOFError: A record runs past the end of the stream (a truncated file).
        ValueError: A byte that starts no record, or a record whose checksum does not match.
    """
    buf = b""
    base = 0  # offset of buf[0] in the stream
    pos = 0
    eof = False
    while True:
        nonzero = _NONZERO.search(buf, pos)  # a byte at a time, a zip of zeros took a second per 14 MB
        pos = len(buf) if nonzero is None else nonzero.start()
        if pos + _LOG_HEADER.size > len(buf) and not eof:
            buf, base, pos = buf[pos:], base + pos, 0
            block = f.read(_LOG_READ_BYTES)
            eof = not block
            buf += block
            continue
        if pos >= len(buf):
            return
        if buf[pos] != _LOG_SEPARATOR:
            raise ValueError(f"log.bin byte {base + pos}: {buf[pos]:#04x} where a record (0x1e) should start")
        if pos + _LOG_HEADER.size > len(buf):
            raise EOFError(f"log.bin record at byte {base + pos}: header cut after {len(buf) - pos} bytes")
        _, kind, timestamp_s, size = _LOG_HEADER.unpack_from(buf, pos)
        end = pos + _LOG_HEADER.size + size + 1
        if end > len(buf):
            if eof:
                raise EOFError(
                    f"log.bin record at byte {base + pos}: {size}-byte payload and checksum cut after "
                    f"{len(buf) - pos - _LOG_HEADER.size} bytes"
                )
            buf, base, pos = buf[pos:], base + pos, 0
            block = f.read(max(_LOG_READ_BYTES, end - pos))
            eof = not block
            buf += block
            continue
        if gt3x_checksum(buf[pos : end - 1]) != buf[end - 1]:
            raise ValueError(
                f"log.bin record at byte {base + pos} (type {kind:#04x}): checksum {buf[end - 1]:#04x}, "
                f"expected {gt3x_checksum(buf[pos : end - 1]):#04x}"
            )
        yield GT3xRecord(kind, timestamp_s, bytes(buf[pos + _LOG_HEADER.size : end - 1]), base + pos)
        pos = end


def _sspcodec(value: int) -> float:
    """A PARAMETERS float: signed 24-bit fraction over 2**23 times 2 to a signed 8-bit exponent (Parameters.md).

    >>> _sspcodec(0x09400000), _sspcodec(0x0C400000), _sspcodec(0)
    (256.0, 2048.0, 0.0)
    """
    exponent = (value >> 24) & 0xFF
    exponent -= 256 if exponent & 0x80 else 0
    fraction = value & 0xFFFFFF
    fraction -= 1 << 24 if fraction & 0x800000 else 0
    return float(fraction / float(1 << 23) * 2.0**exponent)


def _gt3x_parameters(payload: bytes) -> dict[tuple[int, int], int]:
    """A PARAMETERS payload: (address space, identifier) -> uint32 value, 8 bytes each, LE (Parameters.md)."""
    whole = len(payload) // 8 * 8
    return {(a, i): v for a, i, v in struct.iter_unpack("<HHI", payload[:whole])}


def _gt3x_log_timezone(payload: bytes) -> tuple[bool | None, float | None]:
    """A METADATA record's (whether times are UTC, UTC offset in s), each None when it does not say (Metadata.md).

    The payload is parsed as any hostile JSON is (``parse_object``): a record of ``[[[...``
    made the standard parser raise ``RecursionError`` and ended ``sitless analyze``.
    """
    from ingest.payload_fields import parse_object  # it imports analysis: not for files without METADATA

    try:
        meta = parse_object(payload)  # a record holds at most 65,535 bytes, under its size limit
    except PayloadError:
        return None, None
    if meta.get("MetadataType") == "LocalTimeLog" and "UsedUtc" in meta:
        return bool(meta["UsedUtc"]), None
    if meta.get("MetadataType") == "SubjectTimeLog" and isinstance(meta.get("UtcOffset"), str):
        return None, _utc_offset_s(meta["UtcOffset"])
    return None, None


def _gt3x_log_scale(info: dict[str, str], path: Path) -> float | None:
    """Counts per g from info.txt: its ``Acceleration Scale``, else the serial number's prefix; None if neither."""
    text = info.get("Acceleration Scale")
    if text:
        try:
            scale = float(text)
        except ValueError as err:
            raise RecordingError(f"{path}: info.txt: Acceleration Scale {text!r} is not a number") from err
        if math.isfinite(scale) and scale >= 1:  # under 1 count per g (1e-320) would overflow the samples
            return scale
    serial = info.get("Serial Number", "")
    return _GT3X_SCALE_BY_SERIAL.get(serial[:3].upper())


def _read_gt3x_log(
    zf: zipfile.ZipFile, path: Path, info: dict[str, str], *, rate_hz: float, chunk_rows: int, clock: RecordingClock
) -> Iterator[_Samples]:
    """A .gt3x with log.bin: ACTIVITY and ACTIVITY2 records, one second of samples each, timed by their time stamps.

    The samples of a record are at its time stamp plus ``k / rate_hz``. Seconds without
    a record (idle sleep mode, when the device stops sampling while still) stay gaps:
    no sample is made up for them. Chunks hold ``chunk_rows`` samples, the last fewer.
    """
    times: list[NDArray[np.float64]] = []
    accs: list[NDArray[np.float64]] = []
    held = 0
    last_s = -np.inf  # time of the last sample so far
    with _entry(zf, "log.bin", path) as f:
        for start_s, acc in _gt3x_log_seconds(f, path, info, clock):
            if start_s <= last_s:  # a record of more than a second of samples runs into the next
                raise RecordingError(
                    f"{path}: log.bin: a record at {start_s} s starts before the last sample of the one before, "
                    f"at {last_s} s: more samples than its Sample Rate of {rate_hz:g} Hz gives a second"
                )
            times.append(start_s + np.arange(acc.shape[0]) / rate_hz)
            last_s = float(times[-1][-1]) if acc.shape[0] else last_s
            accs.append(acc)
            held += acc.shape[0]
            if held >= chunk_rows:
                epoch_s, acc_g = np.concatenate(times), np.concatenate(accs)
                whole = held // chunk_rows * chunk_rows
                yield from _split(epoch_s[:whole], acc_g[:whole], chunk_rows)
                times, accs, held = [epoch_s[whole:]], [acc_g[whole:]], held - whole
    if held:
        yield from _split(np.concatenate(times), np.concatenate(accs), chunk_rows)


def _gt3x_log_seconds(
    f: IO[bytes], path: Path, info: dict[str, str], clock: RecordingClock
) -> Iterator[tuple[float, NDArray[np.float64]]]:
    """Each ACTIVITY or ACTIVITY2 record as (its Unix time, s; its samples in g, shape (n, 3)).

    1-byte ACTIVITY records (a USB connection, not samples: Activity.md) and every other
    record type are skipped. The scale is ACCEL_SCALE of a PARAMETERS record when one
    comes before the samples, else info.txt's ``Acceleration Scale``, else the serial
    number's (Activity2.md). Times are the device's local time minus the UTC offset
    (info.txt TimeZone, else a METADATA SubjectTimeLog), unless a METADATA LocalTimeLog
    says the device ran in UTC (Metadata.md, "Files Initialized in UTC").

    Raises:
        RecordingError: A damaged record, no scale, or a record not after the one before.
        EOFError: A record cut short.
    """
    scale = _gt3x_log_scale(info, path)
    used_utc = False
    last_s = -np.inf
    records = iter_gt3x_records(f)
    while True:
        try:
            record = next(records, None)
        except ValueError as err:  # a checksum that does not match, a byte that starts no record
            raise RecordingError(f"{path}: cannot read ActiGraph .gt3x file (damaged?): {err}") from err
        if record is None:
            return
        if record.kind == _LOG_PARAMETERS:
            value = _gt3x_parameters(record.payload).get(_PARAM_ACCEL_SCALE)
            scale = _sspcodec(value) if value is not None and _sspcodec(value) > 0 else scale
        elif record.kind == _LOG_METADATA:
            utc, offset = _gt3x_log_timezone(record.payload)
            used_utc = used_utc or bool(utc)
            if offset is not None and clock.utc_offset_s is None:
                clock.utc_offset_s = offset
        elif record.kind in (_LOG_ACTIVITY, _LOG_ACTIVITY2) and len(record.payload) > 1:
            if scale is None:
                raise RecordingError(
                    f"{path}: log.bin: no accelerometer scale (no PARAMETERS ACCEL_SCALE, no info.txt "
                    f"Acceleration Scale, serial number {info.get('Serial Number', '?')!r} not NEO, CLE or MOS)"
                )
            start_s = record.timestamp_s - (0.0 if used_utc else (clock.utc_offset_s or 0.0))
            if start_s <= last_s:
                raise RecordingError(
                    f"{path}: log.bin record at byte {record.offset}: time {record.timestamp_s} "
                    "is not after the record before"
                )
            last_s = start_s
            yield start_s, _gt3x_log_samples(record, scale)


def _gt3x_log_samples(record: GT3xRecord, scale: float) -> NDArray[np.float64]:
    """The samples of an ACTIVITY (12-bit, Y X Z) or ACTIVITY2 (int16 LE, X Y Z) record in g to 3 decimals, (n, 3).

    >>> _gt3x_log_samples(GT3xRecord(0x1A, 0, bytes.fromhex("3000 ccff 4201"), 0), 256.0).tolist()
    [[0.188, -0.203, 1.258]]
    """
    if record.kind == _LOG_ACTIVITY:
        return unpack_gt3x_activity(record.payload, scale)
    whole = len(record.payload) // 6 * 6
    raw = np.frombuffer(record.payload[:whole], dtype="<i2").reshape(-1, 3).astype(np.float64)
    return np.round(raw / scale, 3)
