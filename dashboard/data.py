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
from ingest.progress import load_report
from ingest.store import EventRow, Store, parse_store_url

__all__ = [
    "POSTURES",
    "DaySummary",
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
class DaySummary:
    """Sitting at a glance for one device on one day.

    Attributes:
        sitting_s: Time spent sitting today, seconds (the running bout included).
        sitting_bouts: Sitting bouts that ended today or are still running.
        breaks: Breaks (at least a minute of standing or walking) that ended today.
        longest_sitting_s: Length of the longest of those sitting bouts, seconds.
        alerts: Sit-too-long alerts raised today, repeats included.
        slouch_s: Time slouching today, seconds (chest and upper back; 0 elsewhere).
    """

    sitting_s: float = 0.0
    sitting_bouts: int = 0
    breaks: int = 0
    longest_sitting_s: float = 0.0
    alerts: int = 0
    slouch_s: float = 0.0


@dataclass(frozen=True, slots=True)
class _Day:
    """One device's live status with the bounds of its current day and the events in it."""

    status: dict[str, Any]
    start_s: float
    now_s: float
    events: list[EventRow]

    def bodies(self, kind: str) -> list[dict[str, Any]]:
        return [e.body for e in self.events if e.kind == kind]


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


def _overlap_s(start_s: float, end_s: float, lo_s: float, hi_s: float) -> float:
    """Length of ``[start_s, end_s)`` inside ``[lo_s, hi_s)``, seconds."""
    return max(0.0, min(end_s, hi_s) - max(start_s, lo_s))


class _Bout(NamedTuple):
    """A posture bout clipped to the day; ``slouch_s`` is its slouch time in that part."""

    posture: str
    start_s: float
    end_s: float
    running: bool
    slouch_s: float


def _clipped(posture: str, start_s: float, end_s: float, slouch_s: float, day: _Day, *, running: bool) -> _Bout | None:
    """The part of a bout inside the day so far, its slouch time shared out pro rata; None if none."""
    inside_s = _overlap_s(start_s, end_s, day.start_s, day.now_s)
    if inside_s <= 0:
        return None
    share = inside_s / (end_s - start_s)
    return _Bout(posture, max(start_s, day.start_s), min(end_s, day.now_s), running, slouch_s * share)


def _bouts(day: _Day) -> list[_Bout]:
    """Today's posture bouts, clipped to the day, the running one last.

    Closed bouts come from ``posture_bout`` events; the running one from the live status.
    A closed bout that starts at or after the running one's start is a duplicate of it.
    """
    running_since_s = day.status.get("posture_since_s")
    cut_s = day.now_s if running_since_s is None else float(running_since_s)
    out: list[_Bout] = []
    for body in day.bodies("posture_bout"):
        start_s, end_s = float(body["start_s"]), min(float(body["end_s"]), cut_s)
        slouch_s = float(body.get("slouch_s") or 0.0)
        if (bout := _clipped(str(body["posture"]), start_s, end_s, slouch_s, day, running=False)) is not None:
            out.append(bout)
    posture = day.status.get("posture")
    if posture is not None and running_since_s is not None:
        slouch_s = float(day.status.get("posture_slouch_s") or 0.0)
        if (bout := _clipped(str(posture), float(running_since_s), day.now_s, slouch_s, day, running=True)) is not None:
            out.append(bout)
    return out


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
def summary_today(store_url: str, device_id: str) -> DaySummary:
    """Sitting time and bouts, breaks, alerts and slouch time today.

    Raises:
        StoreError: The store cannot be read.
    """
    day = _load_day(store_url, device_id, ["posture_bout", "sitting_bout", "break", "alert"])
    if day is None:
        return DaySummary()
    bouts = _bouts(day)
    sitting_s = sum(b.end_s - b.start_s for b in bouts if b.posture == "sitting")
    closed = [b for b in day.bodies("sitting_bout") if float(b["end_s"]) > day.start_s]
    lengths = [float(b["end_s"]) - float(b["start_s"]) for b in closed]
    if day.status.get("sitting_since_s") is not None:
        lengths.append(float(day.status.get("sitting_s") or 0.0))
    breaks = sum(1 for b in day.bodies("break") if float(b["end_s"]) > day.start_s)
    alerts = sum(1 for a in day.bodies("alert") if float(a["t_s"]) >= day.start_s)
    return DaySummary(
        sitting_s=sitting_s,
        sitting_bouts=len(lengths),
        breaks=breaks,
        longest_sitting_s=max(lengths, default=0.0),
        alerts=alerts,
        slouch_s=sum(b.slouch_s for b in bouts),
    )


_RESPONSES = {"done": "Done", "snooze": "Snoozed", "meeting": "In a meeting"}


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def alerts_today(store_url: str, device_id: str) -> pd.DataFrame:
    """Sit-too-long alerts raised today and what the wearer did about each.

    The response to an alert is the first user action between it and the next alert:
    "Done", "Snoozed", "In a meeting"; "Open" if the alert is still waiting, and
    "No response" if it was repeated or closed by a break without one.

    Returns:
        Columns ``time`` (naive local datetime), ``sat_min`` (minutes sitting when it was
        raised), ``repeat`` (int), ``stretch_id`` (str) and ``response`` (str); one row
        per alert, oldest first.

    Raises:
        StoreError: The store cannot be read.
    """
    day = _load_day(store_url, device_id, ["alert", "action"])
    alerts = [] if day is None else [a for a in day.bodies("alert") if float(a["t_s"]) >= day.start_s]
    actions = [] if day is None else day.bodies("action")
    open_alert = None if day is None else day.status.get("open_alert")
    open_t_s = None if not open_alert else open_alert.get("t_s")
    responses: list[str] = []
    for i, alert in enumerate(alerts):
        t_s = float(alert["t_s"])
        next_t_s = float(alerts[i + 1]["t_s"]) if i + 1 < len(alerts) else float("inf")
        taken = [str(a["action"]) for a in actions if t_s <= float(a["t_s"]) < next_t_s and a["action"] in _RESPONSES]
        if taken:
            responses.append(_RESPONSES[taken[0]])
        elif open_t_s is not None and float(open_t_s) == t_s:
            responses.append("Open")
        else:
            responses.append("No response")
    return pd.DataFrame(
        {
            "time": _local_times([float(a["t_s"]) for a in alerts]),
            "sat_min": pd.Series(
                [(float(a["t_s"]) - float(a.get("sitting_since_s", a["t_s"]))) / 60.0 for a in alerts],
                dtype="float64",
            ),
            "repeat": pd.Series([int(a.get("repeat", 0)) for a in alerts], dtype="int64"),
            "stretch_id": pd.Series([str(a.get("stretch_id") or "") for a in alerts], dtype="object"),
            "response": pd.Series(responses, dtype="object"),
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
