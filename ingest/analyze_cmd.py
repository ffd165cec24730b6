"""``sitless analyze``: batch analysis of recording files (DESIGN.md, "Batch analysis CLI").

Each CSV is streamed in chunks through ``analysis.ResultBuilder`` (the live analyser
fed chunk by chunk), so long recordings stay small in memory. A file that cannot be
read, or whose samples are too few or too short to judge (one row, every row at one
time, less data than a posture needs: ``AnalysisResult.problem``), gets a one-line
error naming it and no result; the others are still analysed and the exit status is 1.

What reading assumed about a CSV's units (m/s², Unix milliseconds: ``ingest.recording``)
and the rows it dropped for missing or non-finite values are said on stderr, one line
each, and kept in the JSON with the input's path and the recording's absolute start.
``--json-dir`` never writes two inputs' results, or this run's and another input's
earlier one, to one file (``_json_dir_target``).

The summary on stdout says "not measured" for what the placement cannot report
(``analysis.posture.capabilities``; slouch only on the chest and upper back), where
a number would read as a measured 0.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import multiprocessing
import sys
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis import (
    AnalysisResult,
    AnalysisSettings,
    Placement,
    Posture,
    ResultBuilder,
    UserAction,
)
from analysis.sets import followed
from ingest.errors import RecordingError
from ingest.policy_args import add_policy_arguments, alert_policy, float_option, slouch_policy
from ingest.recording import DEFAULT_CHUNK_ROWS, AccUnit, RecordingClock, TimeUnit, read_ahead, read_chunks

__all__ = ["analyze_file", "register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``analyze`` subcommand to the ``sitless`` parser."""
    parser = sub.add_parser(
        "analyze",
        help="analyse recording files (postures, sitting bouts, alerts)",
        description="Analyse CSV recordings with columns t (s or ISO-8601), ax, ay, az (g), and research-logger "
        "files. Acceleration in m/s2 and times in Unix milliseconds are detected from a CSV's first rows and "
        "said on stderr; --units and --time-unit say them instead.",
    )
    parser.add_argument("recordings", nargs="+", type=Path, metavar="RECORDING", help="CSV file(s)")
    parser.add_argument(
        "--placement", required=True, choices=[str(p) for p in Placement], help="where the sensor was worn"
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", type=Path, metavar="OUT", help="write one file's result as JSON")
    out.add_argument(
        "--json-dir",
        type=Path,
        metavar="DIR",
        help="write DIR/<stem>.json for each input; inputs sharing a stem, and a file an earlier run wrote for "
        'another input (its "source" names another file), get <stem>-2.json, <stem>-3.json, ... in argument '
        "order; one line per input says where its result went",
    )
    add_policy_arguments(parser)
    float_option(
        parser,
        "--calibrate-at",
        "the wearer stood still and upright for 5 s from this time (s from the first sample)",
        metavar="SECONDS",
    )
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="time zone of the calendar days (IANA name, e.g. Europe/London); default: the offset of ISO-8601 "
        "timestamps, else UTC",
    )
    parser.add_argument(
        "--exercise",
        metavar="ID",
        help="the recording is a guided set of this programme exercise (e.g. squat, knee_roll), or 'any' for the "
        "generic repetition counter: count its repetitions and time its holds",
    )
    parser.add_argument(
        "--units",
        choices=[str(u) for u in AccUnit],
        help="unit of a CSV's ax, ay, az (default: m/s2 when the median |a| of the first rows is 7-12, else g)",
    )
    parser.add_argument(
        "--time-unit",
        choices=[str(u) for u in TimeUnit],
        help="unit of a CSV's numeric t (default: ms when the times are Unix milliseconds, above 1e11 and "
        "stepping like ms, else s)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="analyse up to N files at once, in separate processes (same results as one at a time)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line on a terminal")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


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
            builder.set_clock(clock.start_epoch_s, _days_tz(tz, clock))  # known from the first chunk on
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
    result = builder.finish(epoch_s=clock.start_epoch_s, tz=_days_tz(tz, clock))
    if result.problem is not None:
        raise RecordingError(f"{path}: {result.problem}")
    return result


def _days_tz(tz: dt.tzinfo | None, clock: RecordingClock) -> dt.tzinfo:
    """The time zone of calendar days: ``tz``, else the offset of the file's ISO-8601 timestamps, else UTC."""
    if tz is not None:
        return tz
    offset = clock.utc_offset_s
    return dt.UTC if offset is None else dt.timezone(dt.timedelta(seconds=offset))


def _start(clock: RecordingClock, tz: dt.tzinfo | None) -> dict[str, Any]:
    """The recording's absolute start for the JSON: Unix time and ISO-8601 with its UTC offset, or nulls.

    >>> _start(RecordingClock(1764000000.25, 3600.0), None)
    {'start_unix_s': 1764000000.25, 'start_iso': '2025-11-24T17:00:00.250+01:00'}
    >>> _start(RecordingClock(), None)
    {'start_unix_s': None, 'start_iso': None}
    """
    if clock.start_epoch_s is None:
        return {"start_unix_s": None, "start_iso": None}
    start = dt.datetime.fromtimestamp(clock.start_epoch_s, _days_tz(tz, clock))
    return {"start_unix_s": clock.start_epoch_s, "start_iso": start.isoformat(timespec="milliseconds")}


_ASSUMED_WORDS = {
    "units": "acceleration in m/s2 (divided by 9.80665; --units g to override)",
    "time": "times in Unix milliseconds (--time-unit s to override)",
}


def _assumed_line(path: Path, clock: RecordingClock) -> str | None:
    """The stderr line saying what was assumed about a file's units, or ``None`` when nothing was.

    >>> _assumed_line(Path("d.csv"), RecordingClock(assumed={"units": "m/s2"}))
    'sitless analyze: d.csv: assumed acceleration in m/s2 (divided by 9.80665; --units g to override)'
    """
    if not clock.assumed:
        return None
    return f"sitless analyze: {path}: assumed " + " and ".join(_ASSUMED_WORDS[k] for k in clock.assumed)


def _dropped_line(path: Path, clock: RecordingClock) -> str | None:
    """The stderr line counting the rows dropped for missing or non-finite values, or ``None`` when none were.

    >>> _dropped_line(Path("d.csv"), RecordingClock(rows=1835, dropped_rows=123))
    'sitless analyze: d.csv: dropped 123 rows (6.7%) with missing or non-finite values'
    """
    if not clock.dropped_rows:
        return None
    share = 100.0 * clock.dropped_rows / clock.rows
    rows = "row" if clock.dropped_rows == 1 else "rows"
    what = f"{clock.dropped_rows} {rows} ({share:.1f}%)"
    return f"sitless analyze: {path}: dropped {what} with missing or non-finite values"


#: Postures of the summary line, with the words it uses for them.
_POSTURE_WORDS = (
    (Posture.SITTING, "sitting"),
    (Posture.STANDING, "standing"),
    (Posture.LYING, "lying"),
    (Posture.WALKING, "walking"),
    (Posture.OTHER, "other"),
    (Posture.NONWEAR, "not worn"),
)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60.0:.1f} min"


def _summary_text(path: Path, result: AnalysisResult) -> str:
    """The human summary: what a number would claim falsely says "not measured".

    >>> from analysis import Placement
    >>> from analysis.posture import capabilities
    >>> r = AnalysisResult(3000, 60.0, 50.0, (), (), (), (), detects=capabilities(Placement.WRIST))
    >>> print(_summary_text(Path("w.csv"), r))  # doctest: +NORMALIZE_WHITESPACE
    w.csv: 3000 samples, 1.0 min at 50.0 Hz
      sitting not measured, standing not measured, lying not measured, walking 0.0 min, other 0.0 min,
      not worn 0.0 min
      sitting bouts, breaks and alerts not measured, slouching not measured
      this placement reports: walking, other, nonwear
    """
    s = result.summary()
    detects = set(result.detects)
    postures = ", ".join(
        f"{word} {_minutes(float(s[f'{p}_s'])) if str(p) in detects else 'not measured'}" for p, word in _POSTURE_WORDS
    )
    n_gaps = len(result.gaps)
    gaps = f", no data {_minutes(result.gap_s)} ({n_gaps} gap{'s' * (n_gaps != 1)})" if n_gaps else ""
    if str(Posture.SITTING) in detects:
        sitting = (
            f"sitting bouts {len(result.sitting_bouts)} (longest {_minutes(float(s['longest_sitting_s']))}), "
            f"breaks {s['breaks']}, alerts {len(result.alerts)}"
        )
        if result.in_bed_alerts:
            sitting += f" (and {len(result.in_bed_alerts)} in bed, set aside)"
    else:
        sitting = "sitting bouts, breaks and alerts not measured"
    slouch = _minutes(result.slouch_s) if result.slouch_measured else "not measured"
    return (
        f"{path}: {result.samples} samples, {_minutes(result.duration_s)} at {result.rate_hz:.1f} Hz{gaps}\n"
        f"  {postures}\n"
        f"  {sitting}, slouching {slouch}\n"
        f"  this placement reports: {', '.join(result.detects)}"
        + "".join(f"\n  {line}" for line in _exercise_lines(result) + _day_lines(result))
    )


def _exercise_lines(result: AnalysisResult) -> list[str]:
    """One line per exercise set: the exercise, when, repetitions and holds.

    >>> from analysis.sets import ExerciseSet
    >>> r = AnalysisResult(1, 1.0, 1.0, (), (), (), (), exercises=(ExerciseSet("squat", 12.0, 47.5, 10),))
    >>> _exercise_lines(r)
    ['exercise squat at 0.2-0.8 min: 10 reps']
    """
    lines = []
    for e in result.exercises:
        line = f"exercise {e.exercise} at {(e.start_s - result.t0_s) / 60:.1f}-{(e.end_s - result.t0_s) / 60:.1f} min"
        line += f": {e.reps} reps"
        if e.holds:
            held = ", ".join(f"{h.duration_s:.1f} s" for h in e.holds)
            line += f", holds {held}"
            broken = sum(h.broken for h in e.holds)
            bounced = sum(h.bounces > 0 for h in e.holds)
            line += f" ({broken} broken early, {bounced} bounced)" if broken or bounced else ""
        lines.append(line)
    return lines


def _day_lines(result: AnalysisResult) -> list[str]:
    """One line per calendar day: waking postures, in bed, non-wear, bouts by length, breaks, alerts.

    >>> from analysis.days import DaySummary
    >>> day = DaySummary(1, "2026-11-23", 0.0, 86400.0, 86400.0, (("sitting", 30000.0), ("nonwear", 600.0)),
    ...                  28800.0, 0.0, (5, 2, 1), 7, 3)
    >>> _day_lines(AnalysisResult(1, 1.0, 1.0, (), (), (), (), detects=("sitting", "lying"), days=(day,)))
    ['2026-11-23: awake sitting 500.0 min, lying 0.0 min; in bed 480.0 min; not worn 10.0 min; \
sitting bouts <30 min 5, 30-60 min 2, >60 min 1; breaks 7; alerts 3']
    """
    lines = []
    detects = set(result.detects)
    for d in result.days:
        name = d.date if d.date is not None else f"day {d.day}"
        awake = ", ".join(
            f"{word} {_minutes(d.seconds_of(str(p))) if str(p) in detects else 'not measured'}"
            for p, word in _POSTURE_WORDS
            if p not in (Posture.OTHER, Posture.NONWEAR) and (str(p) in detects or p is Posture.SITTING)
        )
        bed = "not measured" if d.in_bed_s is None else _minutes(d.in_bed_s)
        under, mid, over = d.sitting_bouts
        parts = [f"awake {awake}", f"in bed {bed}", f"not worn {_minutes(d.seconds_of(str(Posture.NONWEAR)))}"]
        if d.seconds_of("gap"):
            parts.append(f"no data {_minutes(d.seconds_of('gap'))}")
        if str(Posture.SITTING) in detects:
            parts += [f"sitting bouts <30 min {under}, 30-60 min {mid}, >60 min {over}", f"breaks {d.breaks}"]
            parts.append(f"alerts {d.alerts}")
        lines.append(f"{name}: " + "; ".join(parts))
    return lines


#: Suffixes ``--json-dir`` drops from a recording's name (before ``.gz``) to name its result.
_RECORDING_SUFFIXES = (".csv", ".cwa", ".bin", ".gt3x")


def _same_source(existing: Path, recording: Path) -> bool:
    """Whether the JSON file ``existing`` holds a result of ``recording``: its ``"source"`` names the same file.

    ``"source"`` is the path as it was given; it is resolved from the current folder. A file
    that is not a sitless result (unreadable, not JSON, no ``"source"``) is never taken for one.
    """
    try:
        source = json.loads(existing.read_text(encoding="utf-8")).get("source")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False
    return isinstance(source, str) and Path(source).resolve() == recording.resolve()


def _json_dir_target(folder: Path, recording: Path, taken: set[Path]) -> Path:
    """Where ``--json-dir`` writes the result of ``recording``: ``<stem>.json``, else ``<stem>-2.json``, ...

    A name is free when this run has not written it (``taken``) and no file holds it, or
    the file holding it is an earlier result of the same recording (``_same_source``).

    >>> folder = Path("/nonexistent/out")  # an empty folder: nothing on disk to keep
    >>> taken = set()
    >>> [_json_dir_target(folder, Path(p), taken).name for p in ("a/day.csv", "b/day.csv", "c/week.csv.gz")]
    ['day.json', 'day-2.json', 'week.json']
    """
    stem = recording.name.removesuffix(".gz")
    stem = Path(stem).stem if Path(stem).suffix.lower() in _RECORDING_SUFFIXES else stem
    n = 1
    while True:
        target = folder / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
        if target not in taken and (not target.exists() or _same_source(target, recording)):
            taken.add(target)
            return target
        n += 1


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Run ``sitless analyze``; return 0 when every file was analysed, else 1."""
    try:
        policy, slouch = alert_policy(args), slouch_policy(args)
        if args.calibrate_at is not None and not args.calibrate_at >= 0:
            raise ValueError(f"--calibrate-at must be >= 0 seconds, got {args.calibrate_at}")
    except ValueError as err:
        print(f"sitless analyze: {err}", file=sys.stderr)
        return 2
    try:
        tz = None if args.tz is None else zoneinfo.ZoneInfo(args.tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        print(f"sitless analyze: --tz: unknown time zone {args.tz!r} ({err})", file=sys.stderr)
        return 2
    settings = AnalysisSettings(placement=Placement(args.placement), policy=policy, slouch=slouch)
    if args.exercise is not None:
        try:
            followed(args.exercise, settings.placement)
        except ValueError as err:
            print(f"sitless analyze: --exercise: {err}", file=sys.stderr)
            return 2
    paths: list[Path] = args.recordings
    if args.json is not None and len(paths) > 1:
        print("sitless analyze: --json takes one recording; use --json-dir for several", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"sitless analyze: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return 2
    options = _Options(
        settings,
        args.chunk_rows,
        args.calibrate_at,
        tz,
        args.exercise,
        None if args.units is None else AccUnit(args.units),
        None if args.time_unit is None else TimeUnit(args.time_unit),
    )
    progress = _Progress(len(paths), enabled=not args.quiet and sys.stderr.isatty())
    status = 0
    taken: set[Path] = set()
    try:
        for k, (path, (result, clock, error)) in enumerate(
            zip(paths, _outcomes(paths, options, args.jobs, progress), strict=True)
        ):
            progress.clear()  # the results and errors go on lines of their own
            if result is None:
                print(f"sitless analyze: {error}", file=sys.stderr)
                status = 1
            else:
                _report(args, path, result, clock, tz=tz, taken=taken)
            progress.done(k + 1)
    finally:
        progress.clear()
    return status


def _outcomes(paths: list[Path], options: _Options, jobs: int, progress: _Progress) -> Iterator[_Outcome]:
    """Each file's outcome in the order given: one at a time, or ``jobs`` processes at once."""
    if jobs == 1 or len(paths) == 1:
        for k, path in enumerate(paths):
            yield _analyse(path, options, progress.reading(k, path))
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=context) as pool:
        yield from pool.map(_analyse, paths, [options] * len(paths))


@dataclass(frozen=True, slots=True)
class _Options:
    """What every file of one ``sitless analyze`` run is analysed with (sent to the worker processes)."""

    settings: AnalysisSettings
    chunk_rows: int
    calibrate_at_s: float | None
    tz: dt.tzinfo | None
    exercise: str | None
    acc_unit: AccUnit | None
    time_unit: TimeUnit | None


#: One file's result (or ``None`` and the error message) and what reading it found.
_Outcome = tuple[AnalysisResult | None, RecordingClock, str | None]


def _analyse(path: Path, options: _Options, on_chunk: Callable[[float], None] | None = None) -> _Outcome:
    """Analyse one file; a file that cannot be analysed gives its one-line error instead."""
    clock = RecordingClock()
    try:
        result = analyze_file(
            path,
            options.settings,
            chunk_rows=options.chunk_rows,
            calibrate_at_s=options.calibrate_at_s,
            tz=options.tz,
            exercise=options.exercise,
            clock=clock,
            acc_unit=options.acc_unit,
            time_unit=options.time_unit,
            on_chunk=on_chunk,
        )
    except RecordingError as err:
        return None, clock, str(err)
    return result, clock, None


class _Progress:
    """One progress line on stderr, redrawn in place: files done, and the recording read of the current one.

    Silent unless ``enabled`` (stderr is a terminal and ``--quiet`` was not given), so
    that logs and pipes get only the results and the errors.
    """

    _WIDTH = 24

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self._done = 0
        self._shown = False

    def reading(self, index: int, path: Path) -> Callable[[float], None] | None:
        """The ``on_chunk`` callback of the ``index``-th file, or None when silent."""
        if not self.enabled:
            return None

        def show(read_s: float) -> None:
            self._draw(f"{path.name}: {read_s / 3600:.1f} h read")

        return show

    def done(self, count: int) -> None:
        """``count`` files are done."""
        self._done = count
        if self.enabled:
            self._draw("")

    def clear(self) -> None:
        """Take the line away (before the last results, or at the end)."""
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._shown = False

    def _draw(self, detail: str) -> None:
        filled = self._WIDTH * self._done // max(1, self.total)
        bar = "#" * filled + "-" * (self._WIDTH - filled)
        sys.stderr.write(f"\r\033[K[{bar}] {self._done}/{self.total} files  {detail}")
        sys.stderr.flush()
        self._shown = True


def _report(
    args: argparse.Namespace,
    path: Path,
    result: AnalysisResult,
    clock: RecordingClock,
    *,
    tz: dt.tzinfo | None,
    taken: set[Path],
) -> None:
    """Say what was assumed and dropped on stderr, then write the JSON or print the summary."""
    for line in (_assumed_line(path, clock), _dropped_line(path, clock)):
        if line is not None:
            print(line, file=sys.stderr)
    data = {
        "source": str(path),
        **_start(clock, tz),
        "assumed": clock.assumed,
        "dropped_rows": clock.dropped_rows,
        **result.to_json(),
    }
    if args.json is not None:
        _write_json(args.json, data)
    elif args.json_dir is not None:
        target = _json_dir_target(args.json_dir, path, taken)
        _write_json(target, data)
        print(f"{path}: result in {target}")
    else:
        print(_summary_text(path, result))
