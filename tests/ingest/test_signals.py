"""Stopping on a signal without taking a lock in its handler (``ingest.signals``)."""

from __future__ import annotations

import signal
import threading

from ingest.signals import stop_on_signals

WAIT_S = 30.0  # only ends a test that would otherwise hang


def test_a_signal_while_the_main_thread_holds_the_stop_events_lock_still_stops() -> None:
    """The main thread inside ``stop.wait()`` holds the event's lock for a few bytecodes; a
    signal handled then that called ``stop.set()`` waited for that lock for ever (``sitless
    demo`` hung so on a SIGTERM). Now the handler only notes it, and a thread sets the event."""
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(stop.set):
        with stop._cond:  # type: ignore[attr-defined]  # as inside Event.wait
            signal.raise_signal(signal.SIGTERM)
        assert stop.wait(WAIT_S)
    assert signal.getsignal(signal.SIGTERM) is before


def test_stop_is_asked_once_however_many_signals_come() -> None:
    calls: list[int] = []
    asked = threading.Event()

    def stop() -> None:
        calls.append(1)
        asked.set()

    with stop_on_signals(stop, (signal.SIGUSR1,)):
        signal.raise_signal(signal.SIGUSR1)
        signal.raise_signal(signal.SIGUSR1)
        assert asked.wait(WAIT_S)
    assert calls == [1]


def test_outside_the_main_thread_it_sets_no_handler() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    seen: list[object] = []

    def elsewhere() -> None:
        with stop_on_signals(lambda: None, (signal.SIGUSR1,)):
            seen.append(signal.getsignal(signal.SIGUSR1))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(WAIT_S)
    assert seen == [before]
