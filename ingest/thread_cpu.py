"""CPU seconds of a thread's work, read from Linux's ``/proc`` (proc(5)).

:class:`ThreadCpu` measures the CPU time of one kind of work done in turn by several
threads (the MQTT client's network thread, started and stopped with each connection);
:func:`stat_cpu_s` reads the user plus system time of a process or a thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

__all__ = ["ThreadCpu", "stat_cpu_s"]


class ThreadCpu:
    """The CPU seconds of one thread's work, summed over the threads that did it in turn.

    The MQTT client's network thread is started with each connection (paho's
    ``loop_start``) and ends with its ``loop_stop``. The thread notes itself
    (:meth:`enter`, from a callback it runs); before a thread is stopped, :meth:`retire`
    banks its time; the same work done in another thread is added (:meth:`add`). Read
    from ``/proc/self/task`` (Linux, as the process's own ``process_cpu_seconds``);
    elsewhere only what is added counts.

    >>> cpu = ThreadCpu()
    >>> cpu.enter()
    >>> cpu.seconds() >= 0.0
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tid: int | None = None
        self._banked_s = 0.0  # of the threads before
        self._last_s = 0.0  # of the current thread, as last read

    def enter(self) -> None:
        """Measure the calling thread from now on; a thread measured before has ended (its time as last read)."""
        tid = threading.get_native_id()
        if tid == self._tid:  # as on every message: nothing to change (only this thread sets it to itself)
            return
        with self._lock:
            if tid != self._tid:
                self._banked_s += self._last_s
                self._tid, self._last_s = tid, 0.0

    def retire(self) -> None:
        """Bank the measured thread's time, before it is stopped."""
        with self._lock:
            self._read()
            self._banked_s += self._last_s
            self._tid, self._last_s = None, 0.0

    def add(self, seconds: float) -> None:
        """Count the CPU seconds of such work done in another thread."""
        with self._lock:
            self._banked_s += seconds

    def seconds(self) -> float:
        """CPU seconds of the threads measured so far, and of the work added."""
        with self._lock:
            self._read()
            return self._banked_s + self._last_s

    def _read(self) -> None:
        if self._tid is None:
            return
        with contextlib.suppress(OSError):  # not Linux, or the thread ended: its time as last read
            self._last_s = stat_cpu_s(Path(f"/proc/self/task/{self._tid}/stat"))


def stat_cpu_s(path: Path) -> float:
    """User plus system CPU seconds in a Linux ``/proc`` stat file, a process's or a thread's (proc(5)).

    Raises:
        OSError: No such file (not Linux, or the process or thread has ended).
    """
    fields = path.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold anything
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
