"""What each process of a fleet run costs: CPU seconds and resident memory, from ``/proc``.

``Meter`` reads the CPU time and memory of running services from a start mark, ``reap``
takes a finished child's over its whole life (``os.wait4``), and ``child_pid`` finds the
mosquitto that ``ingest.broker.BrokerProcess`` starts; each cost is a ``ProcCost``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.metrics import stat_cpu_s

__all__ = ["Meter", "ProcCost", "child_pid", "reap"]


@dataclass(frozen=True, slots=True)
class ProcCost:
    """What one process cost over the measured window.

    Attributes:
        name: Which process (``worker-1``, ``recorder``, ``fleet``, ``mosquitto``).
        cpu_s: User plus system CPU seconds over the window.
        cpu_share: ``cpu_s`` over the window's wall seconds (1.0 is one core).
        peak_rss_mib: Peak resident memory, MiB.
        start_rss_mib: Resident memory at the start of the window, MiB (None for the
            fleet, measured over its whole life).
    """

    name: str
    cpu_s: float
    cpu_share: float
    peak_rss_mib: float
    start_rss_mib: float | None


def _cpu_s(pid: int) -> float:
    return stat_cpu_s(Path(f"/proc/{pid}/stat"))


def _status_kib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return float("nan")


def child_pid(name: str) -> int | None:
    """The pid of this process's child named ``name`` (mosquitto, which BrokerProcess starts)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            if comm == name and text.rsplit(")", 1)[1].split()[1] == me:
                return int(stat.parent.name)
    return None


class Meter:
    """CPU and memory of a few processes from a start mark."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._cpu0: dict[str, float] = {}
        self._rss0: dict[str, float] = {}
        self._t0 = 0.0

    def mark(self) -> None:
        self._t0 = time.monotonic()
        for name, pid in self._pids.items():
            self._cpu0[name] = _cpu_s(pid)
            self._rss0[name] = _status_kib(pid, "VmRSS") / 1024

    def read(self) -> tuple[float, list[ProcCost]]:
        window_s = time.monotonic() - self._t0
        costs = []
        for name, pid in self._pids.items():
            cpu_s = _cpu_s(pid) - self._cpu0[name]
            costs.append(ProcCost(name, cpu_s, cpu_s / window_s, _status_kib(pid, "VmHWM") / 1024, self._rss0[name]))
        return window_s, costs


def reap(proc: subprocess.Popen[bytes], wall_s: float) -> ProcCost:
    """Wait for a child and take its whole life's CPU time and peak memory (``os.wait4``)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu_s = usage.ru_utime + usage.ru_stime
    return ProcCost("fleet", cpu_s, cpu_s / wall_s, usage.ru_maxrss / 1024, None)
