"""Reading research-logger files: Axivity ``.cwa``, GENEActiv ``.bin``, ActiGraph ``.gt3x`` and RAW CSV.

``read_logger_chunks`` yields the same ``Chunk`` values as ``ingest.recording.read_chunks``
(times in s from the first sample, acceleration in g) and fills in the same
``RecordingClock`` (Unix time of the first sample). The format is told by content
(``detect_format``); the file name's extension is only a hint, used when the content says
nothing. Readers, licences and memory are in docs/loggers.md.

- Axivity ``.cwa`` and GENEActiv ``.bin``: scikit-digital-health (``skdh``, MIT), which
  loads the whole file, so these are cut into chunks after reading.
- ActiGraph ``.gt3x``, with ``activity.bin`` (firmware up to 2.5.0) or ``log.bin``
  (firmware 3 and later): sitless's own readers in ``ingest.gt3x``, after ActiGraph's
  format documentation. Its public names are re-exported here.
- ActiLife RAW CSV exports, plain or gzip-compressed: streamed with pandas.

skdh is imported only when a ``.cwa`` or ``.bin`` file is read: it takes seconds to import.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingest.errors import RecordingError
from ingest.gt3x import GT3X_SCALE_G, GT3xRecord, gt3x_checksum, iter_gt3x_records, read_gt3x, unpack_gt3x_activity
from ingest.recording import HEADER_RATE_RANGE_HZ, Chunk, RecordingClock
from ingest.recording_file import check_regular_file, open_csv

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


def detect_format(path: str | Path) -> LoggerFormat:
    """Tell a recording's format from its first bytes, the extension being a hint.

    Args:
        path: The file.

    Returns:
        The format. A file whose content matches no logger format is a sitless CSV
        unless its extension names a logger format.

    Raises:
        RecordingError: The file is missing, unreadable or not a regular file (checked
            before it is opened: ``ingest.recording_file.check_regular_file``), or its
            extension names a logger format its content does not have.
    """
    path = Path(path)
    check_regular_file(path)
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
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, UnicodeDecodeError, NotImplementedError) as err:
        # zipfile raises NotImplementedError for a damaged zip's "version" or compression method.
        raise RecordingError(f"{path}: cannot read {fmt} file (truncated or damaged?): {err}") from err
    if samples == 0:
        raise RecordingError(f"{path}: no usable samples")


_Samples = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]


def _split(
    epoch_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyro_dps: NDArray[np.float64] | None, rows: int
) -> Iterator[_Samples]:
    for i in range(0, epoch_s.size, rows):
        yield epoch_s[i : i + rows], acc_g[i : i + rows], None if gyro_dps is None else gyro_dps[i : i + rows]


#: The GENEActiv .bin header: its 59 lines end with the page count, and the lines that
#: must hold these labels (GENEActiv "Data File Format" as the sample file has it; the
#: reader after this check takes every line at its place).
_GENEACTIV_HEADER_LINES = 59
_GENEACTIV_HEADER_LABELS = {
    0: "Device Identity",
    7: "Device Capabilities",
    18: "Configuration Info",
    19: "Measurement Frequency:",
    24: "Trial Info",
    36: "Subject Info",
    46: "Calibration Data",
    47: "x gain:",
    48: "x offset:",
    49: "y gain:",
    50: "y offset:",
    51: "z gain:",
    52: "z offset:",
    53: "Volts:",
    54: "Lux:",
    56: "Memory Status",
    57: "Number of Pages:",
}
#: The 9 lines before each page's line of samples, by label; the samples follow as hex,
#: 12 digits (48 bits) per sample.
_GENEACTIV_PAGE_LABELS = (
    "Recorded Data",
    "Device Unique Serial Code:",
    "Sequence Number:",
    "Page Time:",
    "Unassigned:",
    "Temperature:",
    "Battery voltage:",
    "Device Status:",
    "Measurement Frequency:",
)
_HEX_SAMPLES = re.compile(rb"(?:[0-9A-Fa-f]{12})+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def check_geneactiv(path: Path) -> None:
    """Refuse a GENEActiv .bin file whose lines are not where the format puts them.

    scikit-digital-health's reader takes each line at its place, and on a file cut short
    or with a line added or damaged it crashes the whole process or never returns (found
    by fuzzing: ``tests/ingest/test_fuzz_readers.py``). So every line is checked first, in
    one pass: the 59-line header with its numeric calibration and page count, then each
    page's 9 labelled lines and its line of hex samples, and as many pages as the header
    says.

    Raises:
        RecordingError: The file does not follow the format; the message says where.
    """

    def bad(line: int, why: str) -> RecordingError:
        return RecordingError(f"{path}: line {line + 1}: {why}: not a whole, undamaged GENEActiv .bin file")

    def value(line: int, text: str, label: str, number: bool) -> str:
        if not text.startswith(label):
            raise bad(line, f"{label!r} expected")
        rest = text[len(label) :]
        if number and _NUMBER.fullmatch(rest.removesuffix(" Hz").strip()) is None:
            raise bad(line, f"{label!r} is not a number")
        return rest

    pages = 0
    declared = -1
    with path.open("rb") as f:
        for i, raw in enumerate(f):
            line = raw.rstrip(b"\r\n")
            if i < _GENEACTIV_HEADER_LINES:
                label = _GENEACTIV_HEADER_LABELS.get(i)
                if label is not None:
                    text = line.decode("latin-1")
                    rest = value(i, text, label, number=label.endswith(":"))
                    if i == _GENEACTIV_HEADER_LINES - 2:
                        declared = int(float(rest))
                continue
            at = (i - _GENEACTIV_HEADER_LINES) % 10
            if at < len(_GENEACTIV_PAGE_LABELS):
                if pages == declared and at == 0 and not line.strip():
                    continue  # blank lines after the last page
                label = _GENEACTIV_PAGE_LABELS[at]
                number = label in ("Sequence Number:", "Temperature:", "Battery voltage:", "Measurement Frequency:")
                value(i, line.decode("latin-1"), label, number)
            elif _HEX_SAMPLES.fullmatch(line) is None:
                raise bad(i, "a page's samples are not 12-digit hex numbers")
            else:
                pages += 1
    if declared < 1:
        raise RecordingError(f"{path}: the header ends early: not a whole GENEActiv .bin file")
    if pages != declared:
        raise RecordingError(
            f"{path}: {pages} whole pages where the header says {declared}: a truncated or damaged GENEActiv .bin file"
        )


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
    else:
        check_geneactiv(path)
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


def _read_gt3x(path: Path, fmt: LoggerFormat, chunk_rows: int, clock: RecordingClock) -> Iterator[_Samples]:
    """ActiGraph .gt3x through ``ingest.gt3x``, which has no gyroscope."""
    for epoch_s, acc_g in read_gt3x(path, chunk_rows, clock):
        yield epoch_s, acc_g, None


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
    except (ValueError, re.error) as err:  # re.error: a format naming a field twice (strptime builds a regex)
        raise RecordingError(f"{path}: ActiLife CSV start date/time does not read: {err}") from err
    rate_hz, (low_hz, high_hz) = float(rate[1]), HEADER_RATE_RANGE_HZ
    if not low_hz <= rate_hz <= high_hz:  # "at 0 Hz" would make every time infinite
        raise RecordingError(f"{path}: ActiLife CSV sample rate must be {low_hz:g} to {high_hz:g} Hz, got {rate[1]}")
    return start.replace(tzinfo=dt.UTC).timestamp(), rate_hz


def _read_actilife_csv(path: Path, fmt: LoggerFormat, chunk_rows: int, clock: RecordingClock) -> Iterator[_Samples]:
    """ActiLife RAW CSV (plain or gzip): 10 header lines, then ``Accelerometer X,Y,Z`` in g."""
    with open_csv(path) as raw, io.BufferedReader(raw) as head:
        lines = [head.readline().decode("utf-8").strip() for _ in range(ACTILIFE_HEADER_LINES)]
    start_s, rate_hz = _actilife_header(lines, path)
    columns = [f"Accelerometer {axis}" for axis in "XYZ"]
    done = 0
    try:
        with (
            open_csv(path) as f,
            pd.read_csv(
                f,
                skiprows=ACTILIFE_HEADER_LINES,
                chunksize=chunk_rows,
                usecols=columns,
                dtype=dict.fromkeys(columns, np.float64),
            ) as reader,
        ):
            for frame in reader:
                acc_g = frame[columns].to_numpy(dtype=np.float64)
                epoch_s = start_s + (done + np.arange(len(frame))) / rate_hz
                done += len(frame)
                ok = np.all(np.isfinite(acc_g), axis=1)  # a cut last row: drop it, the others keep their times
                yield epoch_s[ok], acc_g[ok], None
    except ValueError as err:  # missing columns, text where a number should be
        raise RecordingError(f"{path}: not an ActiLife RAW CSV with {', '.join(columns)} in g: {err!s:.200}") from err
