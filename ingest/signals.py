"""Stopping on SIGINT and SIGTERM without taking a lock in the signal handler.

A Python signal handler runs in the main thread between two of its bytecodes, wherever
that thread is: inside ``threading.Event.wait`` or ``set`` too, with the event's lock
held. A handler that set that event (``Event.set`` takes the lock) then waited for the
lock for ever: ``sitless demo`` hung so on a SIGTERM, its main thread inside
``stop.wait(0.5)``, and so could every service whose loop waits on its stop event. The
handler here only notes the signal (``list.append`` takes no lock); a thread of its own
sees it within :data:`POLL_S` and asks the program to stop, as any other thread may.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

__all__ = ["POLL_S", "stop_on_signals"]

#: How often the relay thread looks for a signal noted, s.
POLL_S = 0.05


@contextlib.contextmanager
def stop_on_signals(
    stop: Callable[[], None], signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM)
) -> Iterator[None]:
    """Call ``stop`` once, from a thread of its own, after the first of ``signals``; the old handlers come back on exit.

    Outside the main thread, where no signal handler can be set, it does nothing.

    Args:
        stop: Asks the program to stop (thread-safe: an ``Event.set``, a service's ``stop``).
        signals: The signals that stop it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    heard: list[int] = []
    done = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        heard.append(signum)

    def relay() -> None:
        while not done.wait(POLL_S):
            if heard:
                stop()
                return

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    threading.Thread(target=relay, name="signal-relay", daemon=True).start()
    try:
        yield
    finally:
        done.set()
        for sig, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(sig, handler)
