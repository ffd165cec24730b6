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
import json
import sys
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
from ingest.errors import RecordingError
from ingest.policy_args import add_policy_arguments, alert_policy, float_option, slouch_policy
from ingest.recording import DEFAULT_CHUNK_ROWS, read_ahead, read_chunks

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
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def analyze_file(
    path: Path,
    settings: AnalysisSettings,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    calibrate_at_s: float | None = None,
) -> AnalysisResult:
    """Analyse one CSV recording chunk by chunk.

    Args:
        path: The CSV file.
        settings: The analysis settings.
        chunk_rows: Rows per chunk.
        calibrate_at_s: The wearer stood still and upright from this time (s from the
            first sample) for ``PostureTuning.calibration_s``; ``None``: no calibration.

    Returns:
        The result, times relative to the first sample.

    Raises:
        RecordingError: The file cannot be read, has no usable samples, or too few or
            too short to judge (the message names the file and says why).
    """
    builder = ResultBuilder(settings)
    pending = calibrate_at_s
    for t_s, acc_g in read_ahead(read_chunks(path, chunk_rows=chunk_rows)):
        i = 0
        if pending is not None and t_s.size and t_s[-1] >= pending:
            # Split the chunk at the calibration time, as the live worker would see it.
            i = int(np.searchsorted(t_s, pending))
            builder.feed(t_s[:i], acc_g[:i])
            builder.act(UserAction.CALIBRATE, pending)
            pending = None
        builder.feed(t_s[i:], acc_g[i:])
    if pending is not None:
        builder.act(UserAction.CALIBRATE, pending)
    result = builder.finish()
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
    else:
        sitting = "sitting bouts, breaks and alerts not measured"
    slouch = _minutes(result.slouch_s) if result.slouch_measured else "not measured"
    return (
        f"{path}: {result.samples} samples, {_minutes(result.duration_s)} at {result.rate_hz:.1f} Hz{gaps}\n"
        f"  {postures}\n"
        f"  {sitting}, slouching {slouch}\n"
        f"  this placement reports: {', '.join(result.detects)}"
    )


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
    settings = AnalysisSettings(placement=Placement(args.placement), policy=policy, slouch=slouch)
    paths: list[Path] = args.recordings
    if args.json is not None and len(paths) > 1:
        print("sitless analyze: --json takes one recording; use --json-dir for several", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            result = analyze_file(path, settings, chunk_rows=args.chunk_rows, calibrate_at_s=args.calibrate_at)
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
