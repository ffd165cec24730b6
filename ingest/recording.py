"""Reading recordings: CSV files with ``t, ax, ay, az`` (DESIGN.md, "Batch analysis CLI").

``t`` is seconds (float) or ISO-8601 timestamps; ``ax, ay, az`` are in g; optional
``gx, gy, gz`` are angular rate in deg/s, all three or none. Files are streamed in chunks
so that a week at 50 Hz never sits in memory at once; ``read_ahead`` reads the next
chunks on a second core while the caller works on this one.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingest.errors import RecordingError

__all__ = [
    "ACC_COLUMNS",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_READ_AHEAD",
    "GYRO_COLUMNS",
    "UNIX_TIME_FROM_S",
    "Chunk",
    "RecordingClock",
    "read_ahead",
    "read_chunks",
]

T = TypeVar("T")

ACC_COLUMNS = ("ax", "ay", "az")
GYRO_COLUMNS = ("gx", "gy", "gz")
#: Rows per chunk: ~10 min at 50 Hz, a few MB of floats, while parsing stays vectorised.
DEFAULT_CHUNK_ROWS = 50_000
#: Chunks ``read_ahead`` keeps ready: enough to ride out one slow chunk, a few MB each.
DEFAULT_READ_AHEAD = 2
#: Numeric times from this on (2001-09-09) are Unix times, as sitless's own exports
#: write them; smaller ones are seconds from the recording's start (no calendar date).
UNIX_TIME_FROM_S = 1e9


@dataclass(slots=True)
class RecordingClock:
    """What a recording's times say about the calendar, filled in by ``read_chunks``.

    Attributes:
        start_epoch_s: Unix time of the first usable sample, s; ``None`` when the
            times are only relative (seconds from the start).
        utc_offset_s: UTC offset of the first ISO-8601 timestamp, s; ``None`` when it
            had none (or the times are numbers).
    """

    start_epoch_s: float | None = None
    utc_offset_s: float | None = None


class Chunk(NamedTuple):
    """Consecutive samples of a recording.

    Attributes:
        t_s: Times in s relative to the first sample, shape (n,).
        acc_g: Accelerations in g, shape (n, 3).
        gyro_dps: Angular rates in deg/s, shape (n, 3), or ``None`` when the file has no gyro columns.
    """

    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyro_dps: NDArray[np.float64] | None


def _numeric(column: pd.Series, name: str, path: Path, first_row: int) -> NDArray[np.float64]:
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bool(bad.any()):
        row = first_row + int(np.flatnonzero(bad.to_numpy())[0])
        raise RecordingError(f"{path}: row {row}: column {name!r} is not a number: {column.iloc[row - first_row]!r}")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _times(column: pd.Series, path: Path, first_row: int, *, iso: bool) -> NDArray[np.float64]:
    if not iso:
        return _numeric(column, "t", path, first_row)
    try:
        stamps = pd.to_datetime(column, format="ISO8601", utc=True)
    except (ValueError, TypeError) as err:
        raise RecordingError(f"{path}: column 't' is neither seconds nor ISO-8601 timestamps: {err}") from err
    epoch = pd.Timestamp(0, tz="UTC")
    seconds = (stamps - epoch).dt.total_seconds()
    return np.asarray(seconds.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


class _Parser:
    """Checks and converts chunks in file order, keeping the state that spans chunks."""

    def __init__(self, path: Path, *, iso: bool, clock: RecordingClock) -> None:
        self.path = path
        self.iso = iso
        self.clock = clock
        self.t_first: float | None = None
        self.t_last = -np.inf
        self.first_row = 1  # 1-based data row number of the next chunk (the header is row 0)

    def feed(self, frame: pd.DataFrame) -> Chunk | None:
        """Convert one chunk; None when no row of it is usable."""
        path = self.path
        have = ", ".join(map(str, frame.columns))
        missing = [c for c in ("t", *ACC_COLUMNS) if c not in frame.columns]
        if missing:
            raise RecordingError(f"{path}: missing column(s) {', '.join(missing)} (have {have})")
        gyro_columns = [c for c in GYRO_COLUMNS if c in frame.columns]
        if gyro_columns and len(gyro_columns) < len(GYRO_COLUMNS):
            raise RecordingError(f"{path}: gyro needs all of {', '.join(GYRO_COLUMNS)} or none (have {have})")
        t = _times(frame["t"], path, self.first_row, iso=self.iso)
        acc = np.column_stack([_numeric(frame[c], c, path, self.first_row) for c in ACC_COLUMNS])
        ok = np.isfinite(t) & np.all(np.isfinite(acc), axis=1)
        gyro = None
        if gyro_columns:
            gyro = np.column_stack([_numeric(frame[c], c, path, self.first_row) for c in GYRO_COLUMNS])
            ok &= np.all(np.isfinite(gyro), axis=1)
        rows = self.first_row + np.flatnonzero(ok)
        t, acc = t[ok], acc[ok]
        gyro = None if gyro is None else gyro[ok]
        self.first_row += len(frame)
        if t.size == 0:
            return None
        prev = np.concatenate([[self.t_last], t[:-1]])
        back = np.flatnonzero(t < prev)
        if back.size:
            raise RecordingError(
                f"{path}: row {int(rows[back[0]])}: time goes backwards "
                f"({t[back[0]]!r} after {prev[back[0]]!r}); sort the file by t"
            )
        self.t_last = float(t[-1])
        if self.t_first is None:
            self.t_first = float(t[0])
            if self.iso or self.t_first >= UNIX_TIME_FROM_S:
                self.clock.start_epoch_s = self.t_first
        return Chunk(t - self.t_first, acc, gyro)


def _first_time(path: Path) -> str | None:
    """The ``t`` text of the first data row, to tell seconds from ISO-8601 timestamps."""
    probe = pd.read_csv(path, nrows=1, dtype=str, skipinitialspace=True)
    if "t" not in probe.columns or probe.empty:
        return None
    value = probe["t"].iloc[0]
    return None if pd.isna(value) else str(value)


def _utc_offset_s(stamp: str) -> float | None:
    """The UTC offset an ISO-8601 timestamp states, s, or ``None`` (none, or unreadable).

    >>> _utc_offset_s("2026-11-23T08:00:00+01:00"), _utc_offset_s("2026-11-23 08:00:00")
    (3600.0, None)
    """
    try:
        offset = pd.Timestamp(stamp).utcoffset()
    except (ValueError, TypeError):
        return None
    return None if offset is None else offset.total_seconds()


def _chunks(path: Path, chunk_rows: int, parser: _Parser) -> Iterator[Chunk]:
    """Read numeric columns straight as float64; re-read as text from the first chunk that is not.

    Parsing floats in pandas' C reader is about ten times faster than converting text
    (docs/performance.md). A chunk with a value that is not a number is read again as
    text, which names the offending row and value.
    """
    fast = not parser.iso
    while True:
        skip = range(1, parser.first_row)  # data rows already done (row 0 is the header)
        dtype: dict[str, type] | type = dict.fromkeys(("t", *ACC_COLUMNS, *GYRO_COLUMNS), np.float64) if fast else str
        with pd.read_csv(path, chunksize=chunk_rows, dtype=dtype, skipinitialspace=True, skiprows=skip) as reader:
            try:
                for frame in reader:
                    chunk = parser.feed(frame)
                    if chunk is not None:
                        yield chunk
                return
            except ValueError:
                if not fast:
                    raise
                fast = False  # a value that is not a float: find and name it the slow way


def read_chunks(
    path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS, clock: RecordingClock | None = None
) -> Iterator[Chunk]:
    """Stream a recording in chunks: a sitless CSV, or a research-logger file (``ingest.loggers``).

    The format is told by content (``ingest.loggers.detect_format``). In a sitless CSV, rows
    with a missing value (gyro included, when the file has gyro columns) are dropped; a
    ``.gz`` one is decompressed.

    Args:
        path: The CSV file.
        chunk_rows: Rows per chunk read (> 0).
        clock: Filled in with the recording's calendar time (``RecordingClock``) as
            soon as the first chunk is read.

    Yields:
        ``Chunk`` values ``(t_s, acc_g, gyro_dps)``; chunks may be empty after dropping rows.

    Raises:
        RecordingError: Missing, unreadable or truncated file, missing columns (or only
            some gyro columns), non-numeric values,
            times going backwards (the message names the row), or no usable sample.
        ValueError: ``chunk_rows`` is not positive.
    """
    from ingest.loggers import LoggerFormat, detect_format, read_logger_chunks  # it imports this module

    path = Path(path)
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be > 0, got {chunk_rows}")
    fmt = detect_format(path)
    if fmt is not LoggerFormat.SITLESS_CSV:
        yield from read_logger_chunks(path, fmt, chunk_rows, clock)
        return
    try:
        first = _first_time(path)
        iso = first is not None and pd.isna(pd.to_numeric(first, errors="coerce"))
        clock = clock if clock is not None else RecordingClock()
        if iso:
            clock.utc_offset_s = _utc_offset_s(str(first))
        parser = _Parser(path, iso=iso, clock=clock)
        yield from _chunks(path, chunk_rows, parser)
        if parser.t_first is None:
            raise RecordingError(f"{path}: no usable samples")
    except FileNotFoundError as err:
        raise RecordingError(f"{path}: no such file") from err
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise RecordingError(f"{path}: cannot read: {err}") from err


class _End:
    """The producer thread's last word: the iterator is exhausted or raised ``error``."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = DEFAULT_READ_AHEAD) -> Iterator[T]:
    """Yield the items of an iterator, produced by a background thread up to ``depth`` ahead.

    pandas' C reader releases the GIL while it tokenises and converts numbers, so reading
    the next chunks of a recording runs on a second core while the caller analyses this
    one (docs/performance.md). Items come out in order; an exception raised by ``items``
    is raised here, after the items before it. Stopping early (``close()`` or garbage
    collection of this generator) stops the thread and closes ``items``.

    Args:
        items: Any iterator; it is advanced only by the background thread.
        depth: Items kept ready (> 0).

    Raises:
        ValueError: ``depth`` is not positive.
    """
    if depth <= 0:
        raise ValueError(f"depth must be > 0, got {depth}")
    ready: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            put(_End(err))
        else:
            put(_End())
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="sitless-read-ahead", daemon=True)
    thread.start()
    try:
        while not isinstance(item := ready.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stop.set()
        thread.join()
