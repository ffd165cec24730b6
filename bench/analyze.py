"""``sitless analyze`` on long recordings against the bare parse of the same CSV.

Both run as child processes on the same cached file (read once beforehand so the page
cache serves both), alternately, ``repeat`` times; the median of each measure is kept.
The overhead ``(analyze - parse) / parse`` is what the analysis adds to reading.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.data import OUT_DIR, recording
from bench.proc import ChildRun, median_run, run_child

__all__ = ["AnalyzeResult", "bench_analyze", "sitless_command"]

#: The repository root: ``python -m bench.parse`` must find the ``bench`` package from there.
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class AnalyzeResult:
    """Medians of ``sitless analyze`` and of the bare parse on one recording.

    Attributes:
        days: Days of 50 Hz data in the file.
        samples: Samples the analysis read.
        file_mb: File size, MiB.
        repeat: Runs of each command.
        parse: Median bare parse (``python -m bench.parse FILE``).
        analyze: Median ``sitless analyze FILE --placement thigh --json OUT``.
        startup_parse: Median of the parse child with no file (interpreter and imports).
        startup_analyze: Median of ``sitless analyze --help`` (interpreter and imports).
    """

    days: int
    samples: int
    file_mb: float
    repeat: int
    parse: ChildRun
    analyze: ChildRun
    startup_parse: ChildRun
    startup_analyze: ChildRun

    @property
    def overhead_wall(self) -> float:
        """Wall time the analysis adds, as a fraction of the bare parse."""
        return (self.analyze.wall_s - self.parse.wall_s) / self.parse.wall_s

    @property
    def overhead_cpu(self) -> float:
        """CPU time the analysis adds, as a fraction of the bare parse."""
        return (self.analyze.cpu_s - self.parse.cpu_s) / self.parse.cpu_s


def sitless_command() -> list[str]:
    """The ``sitless`` entry point of this interpreter's environment."""
    script = Path(sys.executable).parent / "sitless"
    if script.exists():
        return [str(script)]
    found = shutil.which("sitless")
    return [found] if found else [sys.executable, "-m", "ingest.cli"]


def _warm(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def bench_analyze(days: int, repeat: int = 3, seed: int = 1) -> AnalyzeResult:
    """Measure ``sitless analyze`` and the bare parse on ``days`` days of 50 Hz data.

    Args:
        days: Days in the recording (generated and cached on first use).
        repeat: Runs of each command (> 0); medians are reported.
        seed: Seed of the recording's first day.

    Returns:
        The medians.
    """
    if repeat <= 0:
        raise ValueError(f"repeat must be > 0, got {repeat}")
    path = recording(days, seed)
    out = OUT_DIR / f"{path.stem}.json"
    parse_cmd = [sys.executable, "-m", "bench.parse"]
    analyze_cmd = [*sitless_command(), "analyze"]
    startup_parse = median_run([run_child(parse_cmd, _ROOT) for _ in range(repeat)])
    startup_analyze = median_run([run_child([*analyze_cmd, "--help"]) for _ in range(repeat)])
    _warm(path)
    parses: list[ChildRun] = []
    analyses: list[ChildRun] = []
    for _ in range(repeat):
        parses.append(run_child([*parse_cmd, str(path)], _ROOT))
        analyses.append(run_child([*analyze_cmd, str(path), "--placement", "thigh", "--json", str(out)]))
    samples = int(json.loads(out.read_text(encoding="utf-8"))["recording"]["samples"])
    return AnalyzeResult(
        days=days,
        samples=samples,
        file_mb=path.stat().st_size / 2**20,
        repeat=repeat,
        parse=median_run(parses),
        analyze=median_run(analyses),
        startup_parse=startup_parse,
        startup_analyze=startup_analyze,
    )
