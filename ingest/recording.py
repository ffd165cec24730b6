"""Reading recordings: CSV files with ``t, ax, ay, az`` (DESIGN.md, "Batch analysis CLI").

``t`` is seconds (float) or ISO-8601 timestamps; ``ax, ay, az`` are in g; optional
``gx, gy, gz`` are angular rate in deg/s, all three or none. Files are streamed in chunks
so that a week at 50 Hz never sits in memory at once; ``read_ahead`` reads the next
chunks on a second core while the caller works on this one.

Files as people have them may hold acceleration in m/s² or times in Unix milliseconds.
Unless told (``AccUnit``, ``TimeUnit``), the first chunk decides for the whole file
(``detect_acc_unit``, ``detect_time_unit``), and ``RecordingClock.assumed`` says what was
assumed. Rows with an empty, NaN or infinite cell are dropped and counted.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingest.codec import MAX_T_S
from ingest.errors import RecordingError
from ingest.recording_file import open_csv

__all__ = [
    "ACC_COLUMNS",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_READ_AHEAD",
    "GYRO_COLUMNS",
    "HEADER_RATE_RANGE_HZ",
    "MAX_TIME_CHARS",
    "STANDARD_GRAVITY_MS2",
    "UNIX_TIME_FROM_S",
    "AccUnit",
    "Chunk",
    "RecordingClock",
    "TimeUnit",
    "detect_acc_unit",
    "detect_time_unit",
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
#: Numeric times from this on are Unix milliseconds (1e11 s would be the year 5138; 1e11 ms
#: is 1973), when they also step like milliseconds (``detect_time_unit``).
UNIX_TIME_MS_FROM = 1e11
#: Numeric times in seconds from this on are past the year 9999: not a time, most likely milliseconds.
UNIX_TIME_BEFORE_S = 253_402_300_800.0
#: Sample rates a logger file's header may state, Hz: far past any wearable logger's on
#: both sides (they sample at 1-3200 Hz), and narrow enough that every sample's time,
#: start plus index over rate, is a finite number.
HEADER_RATE_RANGE_HZ = (0.01, 100_000.0)
#: Longest first ``t`` text read as a time: an ISO-8601 timestamp with nanoseconds and
#: an offset (``2026-11-23T08:00:00.123456789+01:00``) has 35 characters, a float 24.
MAX_TIME_CHARS = 64
#: Standard gravity, m/s² per g (CGPM 1901; ISO 80000-3).
STANDARD_GRAVITY_MS2 = 9.80665
#: A first chunk whose median |a| lies in this range is in m/s²: a worn or resting sensor
#: reads about 1 g, so in g the median stays far below 7 (sustained 7 g is a fighter
#: pilot's), while in m/s² it is 9.8 give or take movement and calibration error.
MS2_MEDIAN_RANGE = (7.0, 12.0)
#: Steps between samples, in ms, of a sensor sampling at 2000 Hz down to 0.1 Hz.
MS_STEP_RANGE = (0.5, 10_000.0)
#: Relative times (below ``UNIX_TIME_FROM_S``) whose median step is at least this are in
#: milliseconds from the start (a logger's ``millis()``): read as seconds they would be a
#: sensor at 0.5 Hz or slower, below any raw accelerometer's rate; as milliseconds, one
#: at 500 Hz or slower. Smaller steps stay seconds.
RELATIVE_MS_MIN_STEP = 2.0


class AccUnit(StrEnum):
    """The unit of a CSV's ``ax, ay, az`` columns."""

    G = "g"
    MS2 = "m/s2"


class TimeUnit(StrEnum):
    """The unit of a CSV's numeric ``t`` column (ISO-8601 timestamps carry their own)."""

    S = "s"
    MS = "ms"


@dataclass(slots=True)
class RecordingClock:
    """What reading a recording found out about it, filled in by ``read_chunks``.

    Attributes:
        start_epoch_s: Unix time of the first usable sample, s; ``None`` when the
            times are only relative (seconds from the start).
        utc_offset_s: UTC offset of the first ISO-8601 timestamp, s; ``None`` when it
            had none (or the times are numbers).
        assumed: What was inferred from the first chunk rather than told, and differs
            from the documented format: ``{"units": "m/s2"}`` and ``{"time": "epoch_ms"}``
            or ``{"time": "relative_ms"}`` (milliseconds from the start);
            empty when the file is in g and seconds (or the caller said what it is).
        rows: Data rows read (sitless CSVs; 0 for research-logger files).
        dropped_rows: Rows dropped for an empty, NaN or infinite cell (sitless CSVs).
    """

    start_epoch_s: float | None = None
    utc_offset_s: float | None = None
    assumed: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    dropped_rows: int = 0


def detect_acc_unit(acc: NDArray[np.float64]) -> AccUnit:
    """The unit of accelerations: m/s² when their median magnitude is about 9.8, else g.

    Args:
        acc: Accelerations of the first rows, shape (n, 3), finite.

    Returns:
        ``AccUnit.MS2`` when the median |a| lies in ``MS2_MEDIAN_RANGE``, else ``AccUnit.G``.

    >>> detect_acc_unit(np.array([[0.0, 0.0, 9.81], [0.3, 0.0, 9.7]])), detect_acc_unit(np.array([[0.0, 0.0, 1.0]]))
    (<AccUnit.MS2: 'm/s2'>, <AccUnit.G: 'g'>)
    """
    if acc.shape[0] == 0:
        return AccUnit.G
    with np.errstate(over="ignore"):  # |a| of values near float64's limit is inf: not m/s² either
        median = float(np.median(np.linalg.norm(acc, axis=1)))
    low, high = MS2_MEDIAN_RANGE
    return AccUnit.MS2 if low <= median <= high else AccUnit.G


def detect_time_unit(t: NDArray[np.float64]) -> TimeUnit:
    """The unit of numeric times: milliseconds when they step like it and not like seconds, else seconds.

    Args:
        t: Times of the first rows, shape (n,), finite.

    Returns:
        ``TimeUnit.MS`` for Unix milliseconds (the first time at least
        ``UNIX_TIME_MS_FROM``, the median step in ``MS_STEP_RANGE``; one row: the size
        alone decides) and for milliseconds from the start (the first time below
        ``UNIX_TIME_FROM_S``, the median step from ``RELATIVE_MS_MIN_STEP`` to the top of
        ``MS_STEP_RANGE``), else ``TimeUnit.S``.

    >>> detect_time_unit(np.array([1764057600000.0, 1764057600020.0, 1764057600040.0]))
    <TimeUnit.MS: 'ms'>
    >>> detect_time_unit(np.array([1764057600.0, 1764057600.02]))
    <TimeUnit.S: 's'>
    >>> detect_time_unit(np.array([0.0, 20.0, 40.0])), detect_time_unit(np.array([0.0, 0.02, 0.04]))
    (<TimeUnit.MS: 'ms'>, <TimeUnit.S: 's'>)
    """
    if t.size == 0:
        return TimeUnit.S
    low, high = MS_STEP_RANGE
    if t[0] >= UNIX_TIME_MS_FROM:
        if t.size == 1:
            return TimeUnit.MS
    elif t[0] < UNIX_TIME_FROM_S and t.size > 1:
        low = RELATIVE_MS_MIN_STEP
    else:
        return TimeUnit.S
    with np.errstate(over="ignore", invalid="ignore"):  # times aeons apart: no millisecond step
        step = float(np.median(np.diff(t)))
    return TimeUnit.MS if low <= step <= high else TimeUnit.S


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
        value = column.iloc[row - first_row]
        raise RecordingError(f"{path}: row {row}: column {name!r} is not a number: {value!r:.80}")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _times(column: pd.Series, path: Path, first_row: int, *, iso: bool) -> NDArray[np.float64]:
    if not iso:
        return _numeric(column, "t", path, first_row)
    try:
        stamps = pd.to_datetime(column, format="ISO8601", utc=True)
        # Inside the try: stamps of mixed resolutions that span more than nanoseconds can
        # (year 1 after 2026) overflow here with OutOfBoundsDatetime, a ValueError.
        seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    except (ValueError, TypeError) as err:
        why = f"{str(err).partition(chr(10))[0]:.200}"  # pandas quotes the whole cell, then adds advice lines
        raise RecordingError(f"{path}: column 't' is neither seconds nor ISO-8601 timestamps: {why}") from err
    return np.asarray(seconds.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


class _Parser:
    """Checks and converts chunks in file order, keeping the state that spans chunks."""

    def __init__(
        self, path: Path, *, iso: bool, clock: RecordingClock, acc_unit: AccUnit | None, time_unit: TimeUnit | None
    ) -> None:
        self.path = path
        self.iso = iso
        self.clock = clock
        self.acc_unit = acc_unit  # None: decided from the first usable rows
        self.time_unit = TimeUnit.S if iso else time_unit
        self.t_first: float | None = None
        self.t_last = -np.inf
        self.first_row = 1  # 1-based data row number of the next chunk (the header is row 0)

    def feed(self, frame: pd.DataFrame) -> Chunk | None:
        """Convert one chunk; None when no row of it is usable."""
        path = self.path
        have = f"{', '.join(map(str, frame.columns)):.200}"  # a header line may be up to MAX_LINE_BYTES
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
        self.clock.rows += len(frame)
        self.clock.dropped_rows += len(frame) - t.size
        if t.size == 0:
            return None
        self._decide_units(t, acc)
        if self.acc_unit is AccUnit.MS2:
            acc = acc / STANDARD_GRAVITY_MS2
        prev = np.concatenate([[self.t_last], t[:-1]])
        back = np.flatnonzero(t < prev)
        if back.size:
            raise RecordingError(
                f"{path}: row {int(rows[back[0]])}: time goes backwards "
                f"({t[back[0]]!r} after {prev[back[0]]!r}); sort the file by t"
            )
        self.t_last = float(t[-1])
        # Times are made relative in the file's own unit first: Unix milliseconds are
        # exact integers, which dividing before subtracting would round to 0.2 µs.
        per_s = 1000.0 if self.time_unit is TimeUnit.MS else 1.0
        if self.t_first is None:
            self.t_first = float(t[0])
            first_s = self.t_first / per_s
            if first_s >= UNIX_TIME_BEFORE_S:
                unit = "s" if per_s == 1 else "ms"
                raise RecordingError(
                    f"{path}: row {int(rows[0])}: time {self.t_first:.17g} {unit} is after the year 9999 as Unix time;"
                    " are the times in another unit? (sitless analyze --time-unit)"
                )
            if self.iso or first_s >= UNIX_TIME_FROM_S:
                self.clock.start_epoch_s = first_s
        with np.errstate(over="ignore"):
            t_s = (t - self.t_first) / per_s
        # A span past MAX_T_S (136 years; beyond float64 even, e.g. -1e308 then 1e308) is a
        # broken row, not a recording: the days between would be summarised one by one.
        far = np.flatnonzero(~(t_s < MAX_T_S))
        if far.size:
            raise RecordingError(
                f"{path}: row {int(rows[far[0]])}: time {float(t[far[0]])!r} is too far from the first,"
                f" {self.t_first!r} (more than 2**32 s, 136 years, after it)"
            )
        return Chunk(t_s, acc, gyro)

    def _decide_units(self, t: NDArray[np.float64], acc: NDArray[np.float64]) -> None:
        """Decide from the first usable rows what the caller left open, and note what differs from g and s."""
        if self.acc_unit is None:
            self.acc_unit = detect_acc_unit(acc)
            if self.acc_unit is AccUnit.MS2:
                self.clock.assumed["units"] = str(AccUnit.MS2)
        if self.time_unit is None:
            self.time_unit = detect_time_unit(t)
            if self.time_unit is TimeUnit.MS:
                self.clock.assumed["time"] = "epoch_ms" if t[0] >= UNIX_TIME_FROM_S else "relative_ms"


def _first_time(path: Path) -> str | None:
    """The ``t`` text of the first data row, to tell seconds from ISO-8601 timestamps.

    One longer than ``MAX_TIME_CHARS`` is refused: read as a date, 400 KB of digits took 7 s, 800 KB over 15.
    """
    with open_csv(path) as f:
        probe = pd.read_csv(f, nrows=1, dtype=str, skipinitialspace=True)
    if "t" not in probe.columns or probe.empty:
        return None
    value = probe["t"].iloc[0]
    if pd.isna(value):
        return None
    if len(value) > MAX_TIME_CHARS:
        raise RecordingError(
            f"{path}: the first time, column 't', is {len(value)} characters long: neither seconds nor an ISO-8601"
            f" timestamp (at most {MAX_TIME_CHARS}): {value!r:.80}"
        )
    return str(value)


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
    text, which names the offending row and value. Blank lines are read as rows (with
    missing values, so dropped and counted): the data row numbers are then the file's
    line numbers less one, which the second read skips by and the messages name.
    """
    fast = not parser.iso
    while True:
        skip = range(1, parser.first_row)  # data rows already done (row 0 is the header)
        dtype: dict[str, type] | type = dict.fromkeys(("t", *ACC_COLUMNS, *GYRO_COLUMNS), np.float64) if fast else str
        with (
            open_csv(path) as f,
            pd.read_csv(
                f, chunksize=chunk_rows, dtype=dtype, skipinitialspace=True, skiprows=skip, skip_blank_lines=False
            ) as reader,
        ):
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
    path: str | Path,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    clock: RecordingClock | None = None,
    *,
    acc_unit: AccUnit | None = None,
    time_unit: TimeUnit | None = None,
) -> Iterator[Chunk]:
    """Stream a recording in chunks: a sitless CSV, or a research-logger file (``ingest.loggers``).

    The format is told by content (``ingest.loggers.detect_format``). In a sitless CSV, rows
    with an empty, NaN or infinite value (gyro included, when the file has gyro columns)
    are dropped and counted; a gzip, bzip2 or xz one is decompressed (told by its first
    bytes, not its name: ``ingest.recording_file.open_csv``).

    Args:
        path: The recording: a regular file, not a pipe or a device.
        chunk_rows: Rows per chunk read (> 0).
        clock: Filled in with the recording's calendar time, the units assumed and the
            rows dropped (``RecordingClock``) as the chunks are read.
        acc_unit: The unit of a sitless CSV's acceleration; ``None``: decided from the
            first chunk (``detect_acc_unit``). Research-logger readers give g already.
        time_unit: The unit of a sitless CSV's numeric times; ``None``: decided from the
            first chunk (``detect_time_unit``). ISO-8601 times and logger files ignore it.

    Yields:
        ``Chunk`` values ``(t_s, acc_g, gyro_dps)``; chunks may be empty after dropping rows.

    Raises:
        RecordingError: Missing, unreadable or truncated file, not a regular file, a
            line over ``MAX_LINE_BYTES``, a first time over ``MAX_TIME_CHARS``
            characters, missing columns (or only some gyro columns), non-numeric values,
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
        parser = _Parser(path, iso=iso, clock=clock, acc_unit=acc_unit, time_unit=time_unit)
        yield from _chunks(path, chunk_rows, parser)
        if parser.t_first is None:
            why = f" (all {clock.rows} rows have missing or non-finite values)" if clock.rows else ""
            raise RecordingError(f"{path}: no usable samples{why}")
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
