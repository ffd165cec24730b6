"""What the dashboard's reads share: the store opened read-only, cache times, local days and stored events.

The cache times say how long a read is kept: :data:`LIVE_TTL_S` for the live tiles,
:data:`TODAY_TTL_S` for a day's tables, :data:`PROGRESS_TTL_S` for the weeks. A failed
read is not cached, but a store that could not be opened is remembered for
:data:`UNREACHABLE_S` (:func:`store_exists`, :func:`read_only`). A day is a local
calendar day of the server (:func:`day_bounds`, :func:`local_tz`) in *device* time, and
"today" for a wearable is the day of its latest analysed sample (:mod:`dashboard.data`).
A stored event whose body does not parse is left out (:func:`parsed`), as the reports do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import pandas as pd
import streamlit as st

from analysis.programme import exercise_by_id
from analysis.today import ClippedBout, RunningBout, StoredBout, clipped_bouts
from dashboard import display
from ingest.codec import epoch_time
from ingest.errors import StoreError
from ingest.store import EventRow, Store

__all__ = [
    "LIVE_TTL_S",
    "LOOKBACK_S",
    "PROGRESS_TTL_S",
    "RESPONSES",
    "TODAY_TTL_S",
    "UNREACHABLE_S",
    "At",
    "Day",
    "Span",
    "StoredAlert",
    "day_bounds",
    "day_bouts",
    "exercise_name",
    "local_times",
    "local_tz",
    "parsed",
    "read_only",
    "running_bout",
    "store_exists",
    "stored_action",
    "stored_bout",
]

# Live tiles refresh every 1-2 s; a cache this short keeps them fresh and the store idle.
LIVE_TTL_S = 1
TODAY_TTL_S = 2
# Weeks of adherence, sitting and breaks change slowly: read them at most this often.
PROGRESS_TTL_S = 30
#: Seconds a store that could not be opened is remembered: the page switches and live
#: fragments of that time fail at once with its error. Each waited out the connect
#: timeout again against a PostgreSQL server that takes connections but never answers
#: (``ingest.store.base.READ_CONNECT_TIMEOUT_S``).
UNREACHABLE_S = 5.0
# Closed bouts are stored under their start time: look this far before midnight for a
# bout that began yesterday and ran into today.
LOOKBACK_S = 24 * 3600.0

#: How the pages name the answer to an alert (``analysis.today.responses``).
RESPONSES = {
    "done": "Done",
    "done_still_sitting": "Done, still sitting",
    "snooze": "Snoozed",
    "meeting": "In a meeting",
    "dismiss": "Dismissed",
    "break": "Break taken",
    "open": "Open",
    "ignored": "No response",
}

_T = TypeVar("_T")
_S = TypeVar("_S")


def parsed(items: Iterable[_S], parse: Callable[[_S], _T]) -> list[_T]:
    """Each item parsed; one that does not parse (KeyError, ValueError, TypeError) is left out, as the reports do.

    >>> parsed([{"t_s": 5}, {"start_s": 6}, {"t_s": "soon"}, {"t_s": 1.7e12}], lambda b: epoch_time(b["t_s"]))
    [5.0]
    """
    out = []
    for item in items:
        try:
            out.append(parse(item))
        except (KeyError, ValueError, TypeError):
            continue
    return out


@dataclass(frozen=True, slots=True)
class Day:
    """One device's live status with the bounds of its current day and the events in it."""

    status: dict[str, Any]
    start_s: float
    now_s: float
    events: list[EventRow]

    def parsed(self, kind: str, parse: Callable[[dict[str, Any]], _T]) -> list[_T]:
        """The bodies of the events of one kind, parsed; those that do not parse are left out."""
        return parsed((e.body for e in self.events if e.kind == kind), parse)

    def spans(self, kind: str) -> list[Span]:
        """The ``(start_s, end_s)`` of the events of one kind (bouts, breaks, in-bed windows)."""
        return self.parsed(kind, lambda b: Span(epoch_time(b["start_s"]), epoch_time(b["end_s"])))

    def instants(self, kind: str) -> list[At]:
        """The ``t_s`` of the events of one kind."""
        return self.parsed(kind, lambda b: At(epoch_time(b["t_s"])))


class Span(NamedTuple):
    """A stored event's span, epoch seconds."""

    start_s: float
    end_s: float


class At(NamedTuple):
    """A stored event's time, epoch seconds."""

    t_s: float


class StoredAlert(NamedTuple):
    """A stored sit-too-long alert (``alert`` event)."""

    t_s: float
    sitting_since_s: float
    repeat: int
    stretch_id: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> StoredAlert:
        """The alert of an event body.

        Raises:
            KeyError, ValueError, TypeError: The body does not parse.
        """
        t_s = epoch_time(body["t_s"])
        since_s = body.get("sitting_since_s")
        return cls(
            t_s,
            t_s if since_s is None else epoch_time(since_s),
            int(body.get("repeat") or 0),
            str(body.get("stretch_id") or ""),
        )


def stored_action(body: dict[str, Any]) -> tuple[float, str]:
    """A stored ``action`` event as ``(t_s, action)``."""
    return epoch_time(body["t_s"]), str(body["action"])


def stored_bout(body: dict[str, Any]) -> StoredBout:
    """A stored ``posture_bout`` event."""
    return StoredBout(
        str(body["posture"]), epoch_time(body["start_s"]), epoch_time(body["end_s"]), float(body.get("slouch_s") or 0.0)
    )


def running_bout(status: dict[str, Any]) -> RunningBout:
    """The posture bout running in a live status.

    Raises:
        KeyError: No bout runs.
    """
    if status.get("posture") is None:
        raise KeyError("posture")
    return RunningBout(
        str(status["posture"]), epoch_time(status["posture_since_s"]), float(status.get("posture_slouch_s") or 0.0)
    )


def day_bouts(day: Day, *, live: bool = True) -> list[ClippedBout]:
    """The day's posture bouts, clipped to it, the running one of the live status last (``analysis.today``).

    With ``live`` False, the stored bouts alone (a day without a live status).
    """
    running = parsed([day.status], running_bout) if live else []
    closed = day.parsed("posture_bout", stored_bout)
    return clipped_bouts(closed, next(iter(running), None), start_s=day.start_s, now_s=day.now_s)


@st.cache_resource(show_spinner=False)
def _unreachable() -> dict[str, tuple[float, str]]:
    """The stores that could not be opened lately, for every session: ``{store_url: (until, error)}``.

    ``until`` is ``time.monotonic()`` seconds.
    """
    return {}


@contextlib.contextmanager
def _opening(store_url: str) -> Iterator[None]:
    """Around opening the store: its StoreError is remembered for :data:`UNREACHABLE_S`, and raised at once till then.

    Raises:
        StoreError: The store cannot be opened, or could not be a moment ago.
    """
    remembered = _unreachable()
    until, error = remembered.get(store_url, (0.0, ""))
    if time.monotonic() < until:
        raise StoreError(error)
    try:
        yield
    except StoreError as err:
        remembered[store_url] = (time.monotonic() + UNREACHABLE_S, str(err))
        raise


def store_exists(store_url: str) -> bool:
    """Whether the store is there to read (``Store.exists``).

    Raises:
        StoreError: The PostgreSQL server cannot be reached, or could not be a moment ago.
    """
    with _opening(store_url):
        return Store.exists(store_url)


@contextlib.contextmanager
def read_only(store_url: str) -> Iterator[Store]:
    """The store, opened read-only for one read and closed after it.

    Raises:
        StoreError: The store cannot be opened, or could not be a moment ago.
    """
    with _opening(store_url):
        store = Store(store_url, read_only=True)
    try:
        yield store
    finally:
        store.close()


def day_bounds(day: dt.date) -> tuple[float, float] | None:
    """A local calendar day as ``(midnight, next midnight)`` epoch seconds.

    Args:
        day: The date, in the server's local time zone.

    Returns:
        Start and end of the day (23 or 25 hours long on a daylight-saving change); None
        for a day no wearable's clock reaches (:func:`dashboard.display.local_datetime`).

    >>> day_bounds(dt.date(1, 1, 1)) is None
    True
    """
    # Naive local datetimes, made aware at the end, get each midnight's own UTC offset.
    midnight = datetime.combine(day, dt.time())
    try:
        start_s, end_s = midnight.astimezone().timestamp(), (midnight + timedelta(days=1)).astimezone().timestamp()
    except (ValueError, OverflowError):  # year 1 or 9999: no UTC offset, or no next day
        return None
    return None if display.local_datetime(end_s - 1.0) is None else (start_s, end_s)


def local_tz() -> dt.tzinfo:
    """The server's local time zone, as the dashboard's days use it."""
    return datetime.now().astimezone().tzinfo or UTC


def local_times(t_s: Sequence[float]) -> pd.Series:
    """Epoch seconds as naive local wall-clock datetimes (each with its own DST offset).

    Charts read naive datetimes as local time, which is what the wearer's clock shows. A
    time no wearable sends (:func:`dashboard.display.local_datetime`) is NaT.
    """
    return pd.Series([display.local_datetime(t) for t in t_s], dtype="datetime64[us]")


def exercise_name(exercise_id: object) -> str:
    """The programme's name of an exercise; the id itself for one the programme does not hold."""
    try:
        return exercise_by_id(str(exercise_id)).name
    except KeyError:
        return str(exercise_id)
