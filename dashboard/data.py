"""What the dashboard shows, read from the store: live status and today's postures, bouts and alerts.

Every function takes the store URL (and a device id) and returns plain values or
DataFrames, cached for a second or two so that the pages and their live fragments
can ask again and again without hitting the database each time. Pages hold no SQL
and no arithmetic over events: it is all here, on top of :class:`ingest.store.Store`.

Times in the store are Unix epoch seconds of *device* time. A simulated wearable may
play its day faster than the wall clock, so "now" for a device is the time of its
latest analysed sample (``status["t_s"]``), never the server's clock, and "today" is
the local calendar day of that time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from analysis import Posture
from analysis.report import Report
from analysis.today import ClippedBout, DaySoFar, RunningBout, StoredBout, clipped_bouts, day_so_far, responses
from ingest.progress import load_report
from ingest.store import EventRow, Store, parse_store_url

__all__ = [
    "POSTURES",
    "alerts_today",
    "bouts_today",
    "day_bounds",
    "device_info",
    "devices",
    "live_status",
    "plan_progress",
    "posture_today",
    "summary_today",
]

log = logging.getLogger(__name__)

POSTURES = tuple(str(p) for p in Posture)
# Live tiles refresh every 1-2 s; a cache this short keeps them fresh and the store idle.
LIVE_TTL_S = 1
TODAY_TTL_S = 2
# Weeks of adherence, sitting and breaks change slowly: read them at most this often.
PROGRESS_TTL_S = 30
# Closed bouts are stored under their start time: look this far before midnight for a
# bout that began yesterday and ran into today.
_LOOKBACK_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class _Day:
    """One device's live status with the bounds of its current day and the events in it."""

    status: dict[str, Any]
    start_s: float
    now_s: float
    events: list[EventRow]

    def bodies(self, kind: str) -> list[dict[str, Any]]:
        return [e.body for e in self.events if e.kind == kind]

    def spans(self, kind: str) -> list[_Span]:
        return [_Span(float(b["start_s"]), float(b["end_s"])) for b in self.bodies(kind)]

    def instants(self, kind: str) -> list[_At]:
        return [_At(float(b["t_s"])) for b in self.bodies(kind)]


class _Span(NamedTuple):
    start_s: float
    end_s: float


class _At(NamedTuple):
    t_s: float


@contextlib.contextmanager
def _store(store_url: str) -> Iterator[Store]:
    store = Store(store_url, read_only=True)
    try:
        yield store
    finally:
        store.close()


def day_bounds(t_s: float) -> tuple[float, float]:
    """The local calendar day holding a time, as ``(midnight, next midnight)`` epoch seconds.

    Args:
        t_s: Unix epoch seconds.

    Returns:
        Start and end of the day in the server's local time zone (23 or 25 hours long on
        a daylight-saving change).
    """
    # Naive local datetimes, made aware at the end, get each midnight's own UTC offset.
    midnight = datetime.fromtimestamp(t_s).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone().timestamp(), (midnight + timedelta(days=1)).astimezone().timestamp()


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def devices(store_url: str) -> dict[str, dict[str, Any]]:
    """Every wearable the store knows, with the status it last published.

    Args:
        store_url: ``sqlite:///PATH``.

    Returns:
        ``{device_id: status}``, sorted by id; empty when the store file does not exist yet.
        A status has ``online``, ``battery_pct``, ``rate_hz``, ``placement``, ``firmware``
        and ``t_s`` when the device has published one, else it is empty.

    Raises:
        StoreError: The store cannot be read.
    """
    if not parse_store_url(store_url).exists():
        return {}
    with _store(store_url) as store:
        return store.devices()


def device_info(store_url: str, device_id: str) -> dict[str, Any]:
    """The status a wearable last published (online, battery, rate), or ``{}``.

    Raises:
        StoreError: The store cannot be read.
    """
    return devices(store_url).get(device_id, {})


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def live_status(store_url: str, device_id: str) -> dict[str, Any] | None:
    """The analysis worker's live status for a device, or None before its first analysis.

    The keys are those the worker saves: ``t_s``, ``posture``, ``posture_since_s``,
    ``sitting_since_s``, ``sitting_s``, ``open_alert``, ``snoozed_until_s``,
    ``meeting_until_s``, ``reference_ready``, ``calibrated``, ``worn``, ``detects``,
    ``slouch_s``, ``posture_slouch_s`` (``analysis.LiveStatus``), and the worker's
    ``max_sitting_s``, ``slouch_deg``, ``working_hours``, ``utc_offset_h`` and ``placement``.

    Raises:
        StoreError: The store cannot be read.
    """
    if not parse_store_url(store_url).exists():
        return None
    with _store(store_url) as store:
        state = store.load_state(device_id)
    return None if state is None else state.status


def _load_day(store_url: str, device_id: str, kinds: Sequence[str]) -> _Day | None:
    """The device's current day and its events of some kinds (from the look-back on)."""
    status = live_status(store_url, device_id)
    if status is None or status.get("t_s") is None:
        return None
    now_s = float(status["t_s"])
    start_s, _ = day_bounds(now_s)
    with _store(store_url) as store:
        events = store.events(device_id, since_s=start_s - _LOOKBACK_S, until_s=now_s + 1.0, kinds=kinds)
    return _Day(status, start_s, now_s, events)


def _bouts(day: _Day) -> list[ClippedBout]:
    """Today's posture bouts, clipped to the day, the running one last (``analysis.today``)."""
    closed = [
        StoredBout(str(b["posture"]), float(b["start_s"]), float(b["end_s"]), float(b.get("slouch_s") or 0.0))
        for b in day.bodies("posture_bout")
    ]
    posture, since_s = day.status.get("posture"), day.status.get("posture_since_s")
    running = None
    if posture is not None and since_s is not None:
        running = RunningBout(str(posture), float(since_s), float(day.status.get("posture_slouch_s") or 0.0))
    return clipped_bouts(closed, running, start_s=day.start_s, now_s=day.now_s)


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def posture_today(store_url: str, device_id: str) -> pd.DataFrame:
    """Time spent in each posture today.

    Args:
        store_url: ``sqlite:///PATH``.
        device_id: The wearable.

    Returns:
        One row per posture in :data:`POSTURES` order, columns ``posture`` (str),
        ``seconds`` and ``minutes`` (float); all zero before the first analysis.

    Raises:
        StoreError: The store cannot be read.
    """
    seconds = dict.fromkeys(POSTURES, 0.0)
    day = _load_day(store_url, device_id, ["posture_bout"])
    if day is not None:
        for bout in _bouts(day):
            key = bout.posture if bout.posture in seconds else "other"
            seconds[key] += bout.end_s - bout.start_s
    frame = pd.DataFrame({"posture": list(seconds), "seconds": list(seconds.values())})
    frame["minutes"] = frame["seconds"] / 60.0
    return frame


def _local_times(t_s: Sequence[float]) -> pd.Series:
    """Epoch seconds as naive local wall-clock datetimes (each with its own DST offset).

    Charts read naive datetimes as local time, which is what the wearer's clock shows.
    """
    return pd.Series([datetime.fromtimestamp(t) for t in t_s], dtype="datetime64[us]")


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def bouts_today(store_url: str, device_id: str) -> pd.DataFrame:
    """Today's posture timeline: one row per bout, the running one last.

    Returns:
        Columns ``posture`` (str), ``start`` and ``end`` (naive local datetimes), ``minutes``
        (float) and ``running`` (bool); no rows before the first analysis.

    Raises:
        StoreError: The store cannot be read.
    """
    day = _load_day(store_url, device_id, ["posture_bout"])
    rows = [] if day is None else _bouts(day)
    return pd.DataFrame(
        {
            "posture": pd.Series([r.posture for r in rows], dtype="object"),
            "start": _local_times([r.start_s for r in rows]),
            "end": _local_times([r.end_s for r in rows]),
            "minutes": pd.Series([(r.end_s - r.start_s) / 60.0 for r in rows], dtype="float64"),
            "running": pd.Series([r.running for r in rows], dtype="bool"),
        }
    )


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def summary_today(store_url: str, device_id: str) -> DaySoFar:
    """Sitting time and bouts, breaks, alerts and slouch time today (``analysis.today.day_so_far``).

    Raises:
        StoreError: The store cannot be read.
    """
    day = _load_day(store_url, device_id, ["posture_bout", "sitting_bout", "break", "alert"])
    if day is None:
        return DaySoFar()
    running = float(day.status.get("sitting_s") or 0.0) if day.status.get("sitting_since_s") is not None else None
    return day_so_far(
        _bouts(day),
        day.spans("sitting_bout"),
        day.spans("break"),
        day.instants("alert"),
        running_sitting_s=running,
        start_s=day.start_s,
    )


_RESPONSES = {
    "done": "Done",
    "snooze": "Snoozed",
    "meeting": "In a meeting",
    "break": "Break taken",
    "open": "Open",
    "ignored": "No response",
}


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def alerts_today(store_url: str, device_id: str) -> pd.DataFrame:
    """Sit-too-long alerts raised today and how the wearer answered each (``analysis.today.responses``).

    An alert is answered by the first *Done*, *Snooze* or *In a meeting* within 10
    minutes, else by a break taken in that time ("Break taken"); "Open" while it still
    waits, else "No response".

    Returns:
        Columns ``time`` (naive local datetime), ``sat_min`` (minutes sitting when it was
        raised), ``repeat`` (int), ``stretch_id`` (str) and ``response`` (str); one row
        per alert, oldest first.

    Raises:
        StoreError: The store cannot be read.
    """
    day = _load_day(store_url, device_id, ["alert", "action", "break"])
    alerts = [] if day is None else [a for a in day.bodies("alert") if float(a["t_s"]) >= day.start_s]
    answered: list[str] = []
    if day is not None:
        open_alert = day.status.get("open_alert")
        open_t_s = float(open_alert["t_s"]) if open_alert and open_alert.get("t_s") is not None else None
        actions = [(float(a["t_s"]), str(a["action"])) for a in day.bodies("action")]
        answered = responses([_At(float(a["t_s"])) for a in alerts], actions, day.spans("break"), open_t_s=open_t_s)
    return pd.DataFrame(
        {
            "time": _local_times([float(a["t_s"]) for a in alerts]),
            "sat_min": pd.Series(
                [(float(a["t_s"]) - float(a.get("sitting_since_s", a["t_s"]))) / 60.0 for a in alerts],
                dtype="float64",
            ),
            "repeat": pd.Series([int(a.get("repeat", 0)) for a in alerts], dtype="int64"),
            "stretch_id": pd.Series([str(a.get("stretch_id") or "") for a in alerts], dtype="object"),
            "response": pd.Series([_RESPONSES[r] for r in answered], dtype="object"),
        }
    )


@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
def plan_progress(store_url: str, device_id: str, weeks: int = 12) -> Report | None:
    """The wearable's last ``weeks`` weeks (``analysis.report``), up to its "today"; None before any data.

    The plan is the default one from the first day with data. Days are local to the server.

    Raises:
        StoreError: The store cannot be read.
    """
    status = live_status(store_url, device_id)
    if status is None or status.get("t_s") is None:
        return None
    tz = datetime.now().astimezone().tzinfo or UTC
    today = datetime.fromtimestamp(float(status["t_s"]), tz).date()
    return load_report(store_url, device_id, end=today, weeks=weeks, tz=tz)
