"""Running a command as a child process and measuring it: wall time, CPU time, peak RSS."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ChildRun", "median_run", "run_child"]


@dataclass(frozen=True, slots=True)
class ChildRun:
    """What one child process cost.

    Attributes:
        wall_s: Wall-clock time from start to exit, seconds.
        cpu_s: User plus system CPU time of the child, seconds.
        peak_rss_mb: The child's own peak resident set size, MiB.
    """

    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def run_child(argv: Sequence[str], cwd: Path | None = None) -> ChildRun:
    """Run ``argv`` to completion and measure it.

    The child's resources come from ``os.wait4`` on its own pid, so the peak RSS is the
    child's alone (``RUSAGE_CHILDREN`` would give the largest child seen so far).

    Args:
        argv: The command; its stdout and stderr are discarded unless it fails.
        cwd: Folder to run it in (default: this process's).

    Returns:
        The measurements.

    Raises:
        RuntimeError: The command exited with a non-zero status (its stderr is included).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read()  # read before wait4 so a chatty child cannot block on a full pipe
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    # Linux reports ru_maxrss in KiB.
    return ChildRun(wall_s=wall_s, cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mb=usage.ru_maxrss / 1024)


def median_run(runs: Sequence[ChildRun]) -> ChildRun:
    """The median of each measure over several runs (they need not come from one run)."""
    if not runs:
        raise ValueError("no runs")
    return ChildRun(
        wall_s=statistics.median(r.wall_s for r in runs),
        cpu_s=statistics.median(r.cpu_s for r in runs),
        peak_rss_mb=statistics.median(r.peak_rss_mb for r in runs),
    )
