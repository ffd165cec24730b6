"""One recording analysed for ``sitless analyze``: its CSV streamed chunk by chunk through the live analyser.

``analyze_file`` feeds a file's chunks to ``analysis.ResultBuilder``, with the wearer's
calibration at its time and the calendar days in ``days_tz``, and raises
``RecordingError`` for a file that cannot be read or judged; ``days_tz`` is the time
zone of those days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

from analysis import AnalysisResult, AnalysisSettings, ResultBuilder, UserAction
from ingest.errors import RecordingError
from ingest.recording import DEFAULT_CHUNK_ROWS, AccUnit, RecordingClock, TimeUnit, read_ahead, read_chunks

__all__ = ["analyze_file", "days_tz"]


def analyze_file(
    path: Path,
    settings: AnalysisSettings,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    calibrate_at_s: float | None = None,
    tz: dt.tzinfo | None = None,
    exercise: str | None = None,
    clock: RecordingClock | None = None,
    acc_unit: AccUnit | None = None,
    time_unit: TimeUnit | None = None,
    on_chunk: Callable[[float], None] | None = None,
) -> AnalysisResult:
    """Analyse one CSV recording chunk by chunk.

    Args:
        path: The CSV file.
        settings: The analysis settings.
        chunk_rows: Rows per chunk.
        calibrate_at_s: The wearer stood still and upright from this time (s from the
            first sample) for ``PostureTuning.calibration_s``; ``None``: no calibration.
        tz: The time zone of the calendar days; ``None``: the UTC offset the file's
            ISO-8601 timestamps state, else UTC. Days have dates only when the times
            are calendar times (ISO-8601, or Unix seconds: ``RecordingClock``).
        exercise: The guided exercise of the recording (``ResultBuilder``), or ``None``.
        clock: Filled in with what reading the file found: its start, the units assumed
            and the rows dropped (``RecordingClock``).
        acc_unit: The unit of a CSV's acceleration; ``None``: decided from its first rows.
        time_unit: The unit of a CSV's numeric times; ``None``: decided from its first rows.
        on_chunk: Called after each chunk with the seconds of recording read so far.

    Returns:
        The result, times relative to the first sample.

    Raises:
        RecordingError: The file cannot be read, has no usable samples, or too few or
            too short to judge (the message names the file and says why).
    """
    builder = ResultBuilder(settings, exercise)
    pending = calibrate_at_s
    clock = clock if clock is not None else RecordingClock()
    first_s: float | None = None
    clocked = False
    for t_s, acc_g, gyro_dps in read_ahead(
        read_chunks(path, chunk_rows=chunk_rows, clock=clock, acc_unit=acc_unit, time_unit=time_unit)
    ):
        if not clocked and clock.start_epoch_s is not None:
            builder.set_clock(clock.start_epoch_s, days_tz(tz, clock))  # known from the first chunk on
            clocked = True
        i = 0
        if pending is not None and t_s.size and t_s[-1] >= pending:
            # Split the chunk at the calibration time, as the live worker would see it.
            i = int(np.searchsorted(t_s, pending))
            builder.feed(t_s[:i], acc_g[:i], None if gyro_dps is None else gyro_dps[:i])
            builder.act(UserAction.CALIBRATE, pending)
            pending = None
        builder.feed(t_s[i:], acc_g[i:], None if gyro_dps is None else gyro_dps[i:])
        if on_chunk is not None and t_s.size:
            first_s = float(t_s[0]) if first_s is None else first_s
            on_chunk(float(t_s[-1]) - first_s)
    if pending is not None:
        builder.act(UserAction.CALIBRATE, pending)
    result = builder.finish(epoch_s=clock.start_epoch_s, tz=days_tz(tz, clock))
    if result.problem is not None:
        raise RecordingError(f"{path}: {result.problem}")
    return result


def days_tz(tz: dt.tzinfo | None, clock: RecordingClock) -> dt.tzinfo:
    """The time zone of calendar days: ``tz``, else the offset of the file's ISO-8601 timestamps, else UTC."""
    if tz is not None:
        return tz
    offset = clock.utc_offset_s
    return dt.UTC if offset is None else dt.timezone(dt.timedelta(seconds=offset))
