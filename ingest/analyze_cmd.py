"""``sitless analyze``: batch analysis of recording files (DESIGN.md, "Batch analysis CLI").

Each CSV is streamed in chunks through ``analysis.ResultBuilder`` (the live analyser
fed chunk by chunk), so long recordings stay small in memory. A file that cannot be
read, or whose samples are too few or too short to judge (one row, every row at one
time, less data than a posture needs: ``AnalysisResult.problem``), gets a one-line
error naming it and no result; the others are still analysed and the exit status is 1.
So does a file that meets a bug in sitless, its error named as one.

What reading assumed about a CSV's units (m/s², Unix milliseconds: ``ingest.recording``)
and the rows it dropped for missing or non-finite values are said on stderr, one line
each, and kept in the JSON with the input's path and the recording's absolute start.
``--json-dir`` never writes two inputs' results, or this run's and another input's
earlier one, to one file (:mod:`ingest.analyze_output`).

The summary on stdout says "not measured" for what the placement cannot report
(``analysis.posture.capabilities``; slouch only on the chest and upper back), where
a number would read as a measured 0.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import logging
import multiprocessing
import sys
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from analysis import AnalysisResult, AnalysisSettings, Placement
from analysis.sets import followed
from ingest.analyze_output import report
from ingest.analyze_recording import analyze_file
from ingest.errors import RecordingError
from ingest.policy_args import add_policy_arguments, alert_policy, float_option, slouch_policy
from ingest.recording import DEFAULT_CHUNK_ROWS, AccUnit, RecordingClock, TimeUnit

__all__ = ["analyze_file", "register", "run"]

log = logging.getLogger(__name__)


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
                report(args, path, result, clock, tz=tz, taken=taken)
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
    """Analyse one file; a file that cannot be analysed gives its one-line error instead.

    Any other error is a bug, but still one file's: it is said in one line too (its
    traceback is logged at debug level, ``sitless -vv``), and the run goes on with exit status 1.
    """
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
    except Exception as err:  # a reader's bug in one file must not cost the files after it their results
        log.debug("analysing %s failed", path, exc_info=True)
        bug = f"unexpected {type(err).__name__} ({err!s:.200}): a bug in sitless, please report it"
        return None, clock, f"{path}: {bug}"
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
