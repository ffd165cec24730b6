"""``sitless analyze``: batch analysis of recording files (DESIGN.md, "Batch analysis CLI").

Each CSV is streamed in chunks through ``analysis.ResultBuilder`` (the live analyser
fed chunk by chunk), so long recordings stay small in memory. A file that cannot be
read, or whose samples are too few or too short to judge (one row, every row at one
time, less data than a posture needs: ``AnalysisResult.problem``), gets a one-line
error naming it and no result; the others are still analysed and the exit status is 1.

The summary on stdout says "not measured" for what the placement cannot report
(``analysis.posture.capabilities``; slouch only on the chest and upper back), where
a number would read as a measured 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import zoneinfo
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
from ingest.recording import DEFAULT_CHUNK_ROWS, RecordingClock, read_ahead, read_chunks

__all__ = ["analyze_file", "register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``analyze`` subcommand to the ``sitless`` parser."""
    parser = sub.add_parser(
        "analyze",
        help="analyse recording files (postures, sitting bouts, alerts)",
        description="Analyse CSV recordings with columns t (s or ISO-8601), ax, ay, az (g).",
    )
    parser.add_argument("recordings", nargs="+", type=Path, metavar="RECORDING", help="CSV file(s)")
    parser.add_argument(
        "--placement", required=True, choices=[str(p) for p in Placement], help="where the sensor was worn"
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", type=Path, metavar="OUT", help="write one file's result as JSON")
    out.add_argument("--json-dir", type=Path, metavar="DIR", help="write DIR/<stem>.json for each input")
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

    Returns:
        The result, times relative to the first sample.

    Raises:
        RecordingError: The file cannot be read, has no usable samples, or too few or
            too short to judge (the message names the file and says why).
    """
    builder = ResultBuilder(settings, exercise)
    pending = calibrate_at_s
    clock = RecordingClock()
    for t_s, acc_g, gyro_dps in read_ahead(read_chunks(path, chunk_rows=chunk_rows, clock=clock)):
        i = 0
        if pending is not None and t_s.size and t_s[-1] >= pending:
            # Split the chunk at the calibration time, as the live worker would see it.
            i = int(np.searchsorted(t_s, pending))
            builder.feed(t_s[:i], acc_g[:i], None if gyro_dps is None else gyro_dps[:i])
            builder.act(UserAction.CALIBRATE, pending)
            pending = None
        builder.feed(t_s[i:], acc_g[i:], None if gyro_dps is None else gyro_dps[i:])
    if pending is not None:
        builder.act(UserAction.CALIBRATE, pending)
    if tz is None:
        offset = clock.utc_offset_s
        tz = dt.UTC if offset is None else dt.timezone(dt.timedelta(seconds=offset))
    result = builder.finish(epoch_s=clock.start_epoch_s, tz=tz)
    if result.problem is not None:
        raise RecordingError(f"{path}: {result.problem}")
    return result


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
    status = 0
    for path in paths:
        try:
            result = analyze_file(
                path,
                settings,
                chunk_rows=args.chunk_rows,
                calibrate_at_s=args.calibrate_at,
                tz=tz,
                exercise=args.exercise,
            )
        except RecordingError as err:
            print(f"sitless analyze: {err}", file=sys.stderr)
            status = 1
            continue
        if args.json is not None:
            _write_json(args.json, result.to_json())
        elif args.json_dir is not None:
            _write_json(args.json_dir / f"{path.stem}.json", result.to_json())
        else:
            print(_summary_text(path, result))
    return status
