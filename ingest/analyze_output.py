"""Where ``sitless analyze`` puts one recording's result: stderr notes, then a JSON file or the summary.

``report`` says on stderr what reading assumed about the file's units and the rows it
dropped, then writes the JSON (with the input's path and the recording's absolute start)
to ``--json`` or a file of ``--json-dir``, named so that no two inputs share one, or
prints the summary (:mod:`ingest.analyze_summary`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from analysis import AnalysisResult
from ingest.analyze_recording import days_tz
from ingest.analyze_summary import summary_text
from ingest.errors import PayloadError
from ingest.outfile import write_file
from ingest.payload_fields import load_json
from ingest.recording import RecordingClock

__all__ = ["report"]


def _start(clock: RecordingClock, tz: dt.tzinfo | None) -> dict[str, Any]:
    """The recording's absolute start for the JSON: Unix time and ISO-8601 with its UTC offset, or nulls.

    >>> _start(RecordingClock(1764000000.25, 3600.0), None)
    {'start_unix_s': 1764000000.25, 'start_iso': '2025-11-24T17:00:00.250+01:00'}
    >>> _start(RecordingClock(), None)
    {'start_unix_s': None, 'start_iso': None}
    """
    if clock.start_epoch_s is None:
        return {"start_unix_s": None, "start_iso": None}
    start = dt.datetime.fromtimestamp(clock.start_epoch_s, days_tz(tz, clock))
    return {"start_unix_s": clock.start_epoch_s, "start_iso": start.isoformat(timespec="milliseconds")}


_ASSUMED_WORDS = {
    ("units", "m/s2"): "acceleration in m/s2 (divided by 9.80665; --units g to override)",
    ("time", "epoch_ms"): "times in Unix milliseconds (--time-unit s to override)",
    ("time", "relative_ms"): "times in milliseconds from the start (--time-unit s to override)",
}


def _assumed_line(path: Path, clock: RecordingClock) -> str | None:
    """The stderr line saying what was assumed about a file's units, or ``None`` when nothing was.

    >>> _assumed_line(Path("d.csv"), RecordingClock(assumed={"units": "m/s2"}))
    'sitless analyze: d.csv: assumed acceleration in m/s2 (divided by 9.80665; --units g to override)'
    """
    if not clock.assumed:
        return None
    return f"sitless analyze: {path}: assumed " + " and ".join(_ASSUMED_WORDS[kv] for kv in clock.assumed.items())


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


#: Suffixes ``--json-dir`` drops from a recording's name (before ``.gz``) to name its result.
_RECORDING_SUFFIXES = (".csv", ".cwa", ".bin", ".gt3x")


def _same_source(existing: Path, recording: Path) -> bool:
    """Whether the JSON file ``existing`` holds a result of ``recording``: its ``"source"`` names the same file.

    ``"source"`` is the path as it was given; it is resolved from the current folder. A file
    that is not a sitless result (unreadable, not JSON or nested too deeply, no ``"source"``) is
    never taken for one.
    """
    try:
        body = load_json(existing.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, PayloadError):
        return False
    source = body.get("source") if isinstance(body, dict) else None
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
    text = (json.dumps(data, indent=1) + "\n").encode("utf-8")
    write_file(path, lambda f: f.write(text), replace=True)


def report(
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
        print(summary_text(path, result))
