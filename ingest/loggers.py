"""Reading research-logger files: Axivity ``.cwa``, GENEActiv ``.bin``, ActiGraph ``.gt3x`` and RAW CSV.

``read_logger_chunks`` yields the same ``Chunk`` values as ``ingest.recording.read_chunks``
(times in s from the first sample, acceleration in g) and fills in the same
``RecordingClock`` (Unix time of the first sample). The format is told by content
(``detect_format``); the file name's extension is only a hint, used when the content says
nothing. Readers, licences and memory are in docs/loggers.md.

- Axivity ``.cwa`` and GENEActiv ``.bin``: scikit-digital-health (``skdh``, MIT), which
  loads the whole file, so these are cut into chunks after reading.
- ActiGraph ``.gt3x`` with ``activity.bin`` (GT3X+ "NEO"/ActiSleep+ "MRA", firmware up to
  2.5.0): the 12-bit packed stream documented by ActiGraph (github.com/actigraph/
  NHANES-GT3X-File-Format, ``fileformats/activity.bin.md``), streamed from the zip.
- ActiGraph ``.gt3x`` with ``log.bin`` (firmware 3 and later, wGT3X+, wGT3X-BT, GT9X):
  its log records, documented by ActiGraph (github.com/actigraph/GT3X-File-Format,
  ``README.md``, ``LogRecords/Activity.md``, ``Activity2.md``, ``Parameters.md``,
  ``Metadata.md``), streamed from the zip (``read_gt3x_log``). The maintained reader,
  ActiGraph's ``pygt3x``, is GPL-3.0 and not used.
- ActiLife RAW CSV exports, plain or gzip-compressed: streamed with pandas.

skdh is imported only when a ``.cwa`` or ``.bin`` file is read: it takes seconds to import.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingest.errors import RecordingError
from ingest.recording import Chunk, RecordingClock

__all__ = [
    "ACTILIFE_HEADER_LINES",
    "GT3X_SCALE_G",
    "GT3xRecord",
    "LoggerFormat",
    "detect_format",
    "gt3x_checksum",
    "iter_gt3x_records",
    "read_logger_chunks",
    "unpack_gt3x_activity",
]


class LoggerFormat(StrEnum):
    """The recording file formats ``sitless analyze`` reads."""

    SITLESS_CSV = "sitless CSV"
    ACTILIFE_CSV = "ActiLife RAW CSV"
    AXIVITY_CWA = "Axivity .cwa"
    GENEACTIV_BIN = "GENEActiv .bin"
    ACTIGRAPH_GT3X = "ActiGraph .gt3x"


#: Lines before the column names in an ActiLife RAW CSV export.
ACTILIFE_HEADER_LINES = 10
#: Counts per g of ``activity.bin`` samples (activity.bin.md, "Scaling Activity Values").
GT3X_SCALE_G = 341.0

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
#: A .cwa file opens with the "MD" metadata packet, whose length field is always 1020
#: (Open Movement cwa.h, ``cwa_header_t``: ``packetHeader`` 0x444D, ``packetLength`` 0x3FC).
_CWA_MAGIC = b"MD\xfc\x03"
_CWA_HEADER_BYTES = 1024
_CWA_SECTOR_BYTES = 512
_GENEACTIV_MAGIC = b"Device Identity"
_ACTILIFE_MAGIC = b"Data File Created By ActiGraph"
_HEAD_BYTES = 4096
_EXTENSION_HINTS = {
    ".cwa": LoggerFormat.AXIVITY_CWA,
    ".bin": LoggerFormat.GENEACTIV_BIN,
    ".gt3x": LoggerFormat.ACTIGRAPH_GT3X,
}
#: .NET ticks (100 ns since 0001-01-01) at the Unix epoch.
_TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000
_TICKS_PER_S = 10_000_000
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


def _head(path: Path) -> bytes:
    """The first bytes of a file, decompressed when it is gzip (a truncated gzip gives what it has)."""
    with path.open("rb") as f:
        raw = f.read(_HEAD_BYTES)
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return zlib.decompressobj(wbits=31).decompress(raw, _HEAD_BYTES)
    except zlib.error as err:
        raise RecordingError(f"{path}: broken gzip data: {err}") from err


def _is_gzip(path: Path) -> bool:
    """Whether a file starts with the gzip magic bytes."""
    with path.open("rb") as f:
        return f.read(2) == _GZIP_MAGIC


def detect_format(path: str | Path) -> LoggerFormat:
    """Tell a recording's format from its first bytes, the extension being a hint.

    Args:
        path: The file.

    Returns:
        The format. A file whose content matches no logger format is a sitless CSV
        unless its extension names a logger format.

    Raises:
        RecordingError: The file is missing or unreadable, or its extension names a
            logger format its content does not have.
    """
    path = Path(path)
    try:
        head = _head(path)
    except FileNotFoundError as err:
        raise RecordingError(f"{path}: no such file") from err
    except OSError as err:
        raise RecordingError(f"{path}: cannot read: {err}") from err
    first_line = head.split(b"\n", 1)[0]
    if head.startswith(_CWA_MAGIC):
        return LoggerFormat.AXIVITY_CWA
    if head.startswith(_GENEACTIV_MAGIC):
        return LoggerFormat.GENEACTIV_BIN
    if head.startswith(_ZIP_MAGIC):
        return LoggerFormat.ACTIGRAPH_GT3X
    if _ACTILIFE_MAGIC in first_line:
        return LoggerFormat.ACTILIFE_CSV
    hint = _EXTENSION_HINTS.get(path.suffix.lower())
    if hint is not None:
        raise RecordingError(f"{path}: not an {hint} file (its first bytes are {head[:16]!r})")
    return LoggerFormat.SITLESS_CSV


def read_logger_chunks(
    path: str | Path, fmt: LoggerFormat, chunk_rows: int, clock: RecordingClock | None = None
) -> Iterator[Chunk]:
    """Stream a research-logger file as ``Chunk`` values.

    Args:
        path: The file.
        fmt: Its format (``detect_format``), not ``SITLESS_CSV``.
        chunk_rows: Samples per chunk (> 0).
        clock: Filled in with the Unix time of the first sample (device wall-clock
            time read as UTC, except .gt3x, whose info.txt states the UTC offset) before
            the first chunk is yielded.

    Yields:
        ``Chunk`` values ``(t_s, acc_g, gyro_dps)``, times in s from the first sample.

    Raises:
        RecordingError: The file is unreadable, truncated or holds no samples; or it
            is a .gt3x whose layout sitless does not read (the message says how to
            export it).
        ValueError: ``chunk_rows`` is not positive, or ``fmt`` is ``SITLESS_CSV``.
    """
    path = Path(path)
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be > 0, got {chunk_rows}")
    clock = clock if clock is not None else RecordingClock()
    readers = {
        LoggerFormat.AXIVITY_CWA: _read_skdh,
        LoggerFormat.GENEACTIV_BIN: _read_skdh,
        LoggerFormat.ACTIGRAPH_GT3X: _read_gt3x,
        LoggerFormat.ACTILIFE_CSV: _read_actilife_csv,
    }
    if fmt not in readers:
        raise ValueError(f"not a logger format: {fmt}")
    samples = 0
    try:
        for epoch_s, acc_g, gyro_dps in readers[fmt](path, fmt, chunk_rows, clock):
            if epoch_s.size == 0:
                continue
            if clock.start_epoch_s is None:
                clock.start_epoch_s = float(epoch_s[0])
            samples += epoch_s.size
            yield Chunk(epoch_s - clock.start_epoch_s, acc_g, gyro_dps)
    except FileNotFoundError as err:
        raise RecordingError(f"{path}: no such file") from err
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise RecordingError(f"{path}: cannot read {fmt} file (truncated or damaged?): {err}") from err
    if samples == 0:
        raise RecordingError(f"{path}: no usable samples")


_Samples = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]


def _split(
    epoch_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyro_dps: NDArray[np.float64] | None, rows: int
) -> Iterator[_Samples]:
    for i in range(0, epoch_s.size, rows):
        yield epoch_s[i : i + rows], acc_g[i : i + rows], None if gyro_dps is None else gyro_dps[i : i + rows]


def _read_skdh(path: Path, fmt: LoggerFormat, chunk_rows: int, clock: RecordingClock) -> Iterator[_Samples]:
    """Axivity and GENEActiv through scikit-digital-health, which reads the whole file at once."""
    from skdh.io import ReadBin, ReadCwa
    from skdh.io.axivity import UnexpectedAxesError
    from skdh.utility.exceptions import FileSizeError

    if fmt is LoggerFormat.AXIVITY_CWA:
        # skdh reads whole sectors and silently drops a partial one: refuse a cut file here.
        size = path.stat().st_size
        if size < _CWA_HEADER_BYTES or (size - _CWA_HEADER_BYTES) % _CWA_SECTOR_BYTES:
            raise RecordingError(
                f"{path}: truncated .cwa file: {size} bytes is not a {_CWA_HEADER_BYTES}-byte header "
                f"and whole {_CWA_SECTOR_BYTES}-byte sectors"
            )
    reader: Any = ReadCwa() if fmt is LoggerFormat.AXIVITY_CWA else ReadBin()
    try:
        with warnings.catch_warnings():
            # Content decides the format, so a different extension is fine; device clocks are
            # local wall-clock time without a zone, read as UTC (docs/loggers.md).
            warnings.filterwarnings("ignore", message="File extension", category=UserWarning)
            warnings.filterwarnings("ignore", message="Timestamps are local but naive", category=UserWarning)
            data: dict[str, Any] = reader.predict(file=str(path))
    except (RuntimeError, ValueError, FileSizeError, UnexpectedAxesError) as err:
        raise RecordingError(f"{path}: cannot read {fmt} file (truncated or damaged?): {err}") from err
    epoch_s = np.asarray(data["time"], dtype=np.float64)
    acc_g = np.asarray(data["accel"], dtype=np.float64)
    gyro = data.get("gyro")
    gyro_dps = None if gyro is None else np.asarray(gyro, dtype=np.float64)
    back = np.flatnonzero(np.diff(epoch_s) < 0)
    if back.size:
        raise RecordingError(f"{path}: sample {int(back[0]) + 1}: time goes backwards")
    yield from _split(epoch_s, acc_g, gyro_dps, chunk_rows)


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


def _gt3x_info(zf: zipfile.ZipFile, path: Path) -> dict[str, str]:
    try:
        text = zf.read("info.txt").decode("utf-8", errors="replace")
    except KeyError as err:
        raise RecordingError(f"{path}: not a .gt3x file: the zip has no info.txt") from err
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def _utc_offset_s(text: str) -> float | None:
    """A .gt3x info.txt ``TimeZone`` (``-06:00:00``) in s, or ``None`` when unreadable.

    >>> _utc_offset_s("-06:00:00"), _utc_offset_s("05:30:00"), _utc_offset_s("?")
    (-21600.0, 19800.0, None)
    """
    match = re.fullmatch(r"([+-]?)(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if match is None:
        return None
    sign = -1.0 if match[1] == "-" else 1.0
    return sign * (int(match[2]) * 3600 + int(match[3]) * 60 + int(match[4] or 0))


def _read_gt3x(path: Path, fmt: LoggerFormat, chunk_rows: int, clock: RecordingClock) -> Iterator[_Samples]:
    """ActiGraph .gt3x with activity.bin, streamed from the zip ``chunk_rows`` samples at a time."""
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
        if not rate_hz > 0:
            raise RecordingError(f"{path}: info.txt: Sample Rate must be > 0, got {rate_hz}")
        # Start Date is the device's local time; TimeZone (when given) is its UTC offset.
        offset_s = _utc_offset_s(info.get("TimeZone", ""))
        clock.utc_offset_s = offset_s
        if "activity.bin" not in names:
            yield from _read_gt3x_log(zf, path, info, rate_hz=rate_hz, chunk_rows=chunk_rows, clock=clock)
            return
        start_s = (start_ticks - _TICKS_AT_UNIX_EPOCH) / _TICKS_PER_S - (offset_s or 0.0)
        pair_rows = max(1, chunk_rows // 2)
        done = 0
        with zf.open("activity.bin") as f:
            while packed := f.read(pair_rows * _GT3X_PAIR_BYTES):
                acc_g = unpack_gt3x_activity(packed)
                epoch_s = start_s + (done + np.arange(acc_g.shape[0])) / rate_hz
                done += acc_g.shape[0]
                yield epoch_s, acc_g, None


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
        while pos < len(buf) and buf[pos] == 0:
            pos += 1
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
    """A METADATA record's (whether times are UTC, UTC offset in s), each None when it does not say (Metadata.md)."""
    try:
        meta = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, None
    if not isinstance(meta, dict):
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
        if scale > 0:
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
    with zf.open("log.bin") as f:
        for start_s, acc in _gt3x_log_seconds(f, path, info, clock):
            times.append(start_s + np.arange(acc.shape[0]) / rate_hz)
            accs.append(acc)
            held += acc.shape[0]
            if held >= chunk_rows:
                epoch_s, acc_g = np.concatenate(times), np.concatenate(accs)
                whole = held // chunk_rows * chunk_rows
                yield from _split(epoch_s[:whole], acc_g[:whole], None, chunk_rows)
                times, accs, held = [epoch_s[whole:]], [acc_g[whole:]], held - whole
    if held:
        yield from _split(np.concatenate(times), np.concatenate(accs), None, chunk_rows)


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
            raise RecordingError(f"{path}: cannot read {LoggerFormat.ACTIGRAPH_GT3X} file (damaged?): {err}") from err
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


def _actilife_header(lines: list[str], path: Path) -> tuple[float, float]:
    """The start (wall-clock time read as UTC, Unix s) and rate (Hz) of an ActiLife RAW CSV header.

    >>> lines = ["--- ActiLife v6.13.4 Firmware v2.5.0 date format M/d/yyyy at 30 Hz  Filter Normal ---",
    ...          "Serial Number: NEO1", "Start Time 11:55:00", "Start Date 12/20/2021"]
    >>> _actilife_header(lines, Path("x.csv"))
    (1640001300.0, 30.0)
    """
    top = lines[0]
    rate = re.search(r"at (\d+(?:\.\d+)?) Hz", top)
    date_format = re.search(r"date format (\S+)", top)
    fields = {}
    for line in lines[1:]:
        for key in ("Start Time", "Start Date"):
            if line.startswith(key):
                fields[key] = line[len(key) :].strip()
    if rate is None or date_format is None or len(fields) < 2:
        raise RecordingError(
            f"{path}: ActiLife CSV header lacks the sample rate, date format, Start Time or Start Date"
        )
    # .NET date format (M/d/yyyy, dd.MM.yyyy, yyyy-MM-dd, ...) to strptime's.
    py_format = re.sub(r"y+", "%Y", re.sub(r"M+", "%m", re.sub(r"d+", "%d", date_format[1])))
    try:
        start = dt.datetime.strptime(f"{fields['Start Date']} {fields['Start Time']}", f"{py_format} %H:%M:%S")
    except ValueError as err:
        raise RecordingError(f"{path}: ActiLife CSV start date/time does not read: {err}") from err
    return start.replace(tzinfo=dt.UTC).timestamp(), float(rate[1])


def _read_actilife_csv(path: Path, fmt: LoggerFormat, chunk_rows: int, clock: RecordingClock) -> Iterator[_Samples]:
    """ActiLife RAW CSV (plain or gzip): 10 header lines, then ``Accelerometer X,Y,Z`` in g."""
    gz = _is_gzip(path)
    compression: Literal["gzip"] | None = "gzip" if gz else None
    with gzip.open(path, "rt", encoding="utf-8") if gz else path.open(encoding="utf-8") as f:
        lines = [f.readline().strip() for _ in range(ACTILIFE_HEADER_LINES)]
    start_s, rate_hz = _actilife_header(lines, path)
    columns = [f"Accelerometer {axis}" for axis in "XYZ"]
    done = 0
    try:
        with pd.read_csv(
            path,
            skiprows=ACTILIFE_HEADER_LINES,
            chunksize=chunk_rows,
            usecols=columns,
            dtype=dict.fromkeys(columns, np.float64),
            compression=compression,
        ) as reader:
            for frame in reader:
                acc_g = frame[columns].to_numpy(dtype=np.float64)
                epoch_s = start_s + (done + np.arange(len(frame))) / rate_hz
                done += len(frame)
                ok = np.all(np.isfinite(acc_g), axis=1)  # a cut last row: drop it, the others keep their times
                yield epoch_s[ok], acc_g[ok], None
    except ValueError as err:  # missing columns, text where a number should be
        raise RecordingError(f"{path}: not an ActiLife RAW CSV with {', '.join(columns)} in g: {err}") from err
