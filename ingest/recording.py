"""Reading recordings: CSV files with ``t, ax, ay, az`` (DESIGN.md, "Batch analysis CLI").

``t`` is seconds (float) or ISO-8601 timestamps; ``ax, ay, az`` are in g; optional
``gx, gy, gz`` (deg/s) are accepted and ignored for now. Files are streamed in chunks
so that a week at 50 Hz never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingest.errors import RecordingError

__all__ = ["ACC_COLUMNS", "DEFAULT_CHUNK_ROWS", "read_chunks"]

ACC_COLUMNS = ("ax", "ay", "az")
#: Rows per chunk: ~10 min at 50 Hz, a few MB of floats, while parsing stays vectorised.
DEFAULT_CHUNK_ROWS = 50_000


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


def _parse(reader: Iterator[pd.DataFrame], path: Path) -> Iterator[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    t_first: float | None = None
    t_last = -np.inf
    iso: bool | None = None
    first_row = 1  # 1-based data row number (the header is row 0)
    for frame in reader:
        missing = [c for c in ("t", *ACC_COLUMNS) if c not in frame.columns]
        if missing:
            raise RecordingError(
                f"{path}: missing column(s) {', '.join(missing)} (have {', '.join(map(str, frame.columns))})"
            )
        if iso is None:
            probe = frame["t"].dropna()
            iso = bool(probe.size) and bool(pd.to_numeric(probe, errors="coerce").isna().all())
        t = _times(frame["t"], path, first_row, iso=iso)
        acc = np.column_stack([_numeric(frame[c], c, path, first_row) for c in ACC_COLUMNS])
        ok = np.isfinite(t) & np.all(np.isfinite(acc), axis=1)
        rows = first_row + np.flatnonzero(ok)
        t, acc = t[ok], acc[ok]
        first_row += len(frame)
        if t.size == 0:
            continue
        prev = np.concatenate([[t_last], t[:-1]])
        back = np.flatnonzero(t < prev)
        if back.size:
            raise RecordingError(
                f"{path}: row {int(rows[back[0]])}: time goes backwards "
                f"({t[back[0]]!r} after {prev[back[0]]!r}); sort the file by t"
            )
        t_last = float(t[-1])
        if t_first is None:
            t_first = float(t[0])
        yield t - t_first, acc
    if t_first is None:
        raise RecordingError(f"{path}: no usable samples")


def read_chunks(
    path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Stream a recording CSV in chunks.

    Rows with a missing value are dropped.

    Args:
        path: The CSV file.
        chunk_rows: Rows per chunk read (> 0).

    Yields:
        ``(t_s, acc_g)``: times in s relative to the first sample, shape (n,), and
        accelerations in g, shape (n, 3); chunks may be empty after dropping rows.

    Raises:
        RecordingError: Missing or unreadable file, missing columns, non-numeric values,
            times going backwards (the message names the row), or no usable sample.
        ValueError: ``chunk_rows`` is not positive.
    """
    path = Path(path)
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be > 0, got {chunk_rows}")
    try:
        with pd.read_csv(path, chunksize=chunk_rows, dtype=str, skipinitialspace=True) as reader:
            yield from _parse(reader, path)
    except FileNotFoundError as err:
        raise RecordingError(f"{path}: no such file") from err
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise RecordingError(f"{path}: cannot read: {err}") from err
