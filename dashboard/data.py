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
import datetime as dt
import io
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import pandas as pd
import streamlit as st

from analysis import AlertPolicy, Posture
from analysis.days import DaySummary, day_summaries
from analysis.guided import GuidedProgress, guided_progress
from analysis.holds import HoldEnded, HoldStarted
from analysis.inbed import NightWindow
from analysis.programme import Category, Dose, exercise_by_id
from analysis.report import Report, Summary, exercise_totals, summarize
from analysis.reps import RepCounted
from analysis.today import ClippedBout, DaySoFar, RunningBout, StoredBout, clipped_bouts, day_so_far, responses
from dashboard import display
from ingest.codec import epoch_time
from ingest.errors import PayloadError
from ingest.export import event_line, write_export
from ingest.payloads import WearerSettings
from ingest.progress import load_report
from ingest.report_html import render_html
from ingest.store import EventRow, Store

__all__ = [
    "ANSWER_LABELS",
    "EXPORT_MAX_SAMPLES",
    "POSTURES",
    "DayView",
    "SessionItem",
    "adherence_calendar",
    "alerts_today",
    "bouts_today",
    "day_bounds",
    "day_view",
    "delete_wearer",
    "device_info",
    "devices",
    "events_export",
    "exercise_table",
    "full_export",
    "guided_set",
    "guided_start",
    "latest_day",
    "live_status",
    "open_alert",
    "plan_progress",
    "plan_weeks",
    "posture_today",
    "progress_summary",
    "reminder_answers",
    "report_html",
    "session_plan",
    "status_policy",
    "stored_size",
    "summary_today",
    "wearer_settings",
    "weekly_activity",
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

_T = TypeVar("_T")
_S = TypeVar("_S")


def _parsed(items: Iterable[_S], parse: Callable[[_S], _T]) -> list[_T]:
    """Each item parsed; one that does not parse (KeyError, ValueError, TypeError) is left out, as the reports do.

    >>> _parsed([{"t_s": 5}, {"start_s": 6}, {"t_s": "soon"}, {"t_s": 1.7e12}], lambda b: epoch_time(b["t_s"]))
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
class _Day:
    """One device's live status with the bounds of its current day and the events in it."""

    status: dict[str, Any]
    start_s: float
    now_s: float
    events: list[EventRow]

    def parsed(self, kind: str, parse: Callable[[dict[str, Any]], _T]) -> list[_T]:
        """The bodies of the events of one kind, parsed; those that do not parse are left out."""
        return _parsed((e.body for e in self.events if e.kind == kind), parse)

    def spans(self, kind: str) -> list[_Span]:
        return self.parsed(kind, lambda b: _Span(epoch_time(b["start_s"]), epoch_time(b["end_s"])))

    def instants(self, kind: str) -> list[_At]:
        return self.parsed(kind, lambda b: _At(epoch_time(b["t_s"])))


class _Span(NamedTuple):
    start_s: float
    end_s: float


class _At(NamedTuple):
    t_s: float


class _Alert(NamedTuple):
    """A stored sit-too-long alert (``alert`` event)."""

    t_s: float
    sitting_since_s: float
    repeat: int
    stretch_id: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> _Alert:
        t_s = epoch_time(body["t_s"])
        since_s = body.get("sitting_since_s")
        return cls(
            t_s,
            t_s if since_s is None else epoch_time(since_s),
            int(body.get("repeat") or 0),
            str(body.get("stretch_id") or ""),
        )


def _action(body: dict[str, Any]) -> tuple[float, str]:
    """A stored ``action`` event as ``(t_s, action)``."""
    return epoch_time(body["t_s"]), str(body["action"])


def _stored_bout(body: dict[str, Any]) -> StoredBout:
    """A stored ``posture_bout`` event."""
    return StoredBout(
        str(body["posture"]), epoch_time(body["start_s"]), epoch_time(body["end_s"]), float(body.get("slouch_s") or 0.0)
    )


def _running_bout(status: dict[str, Any]) -> RunningBout:
    """The posture bout running in a live status.

    Raises:
        KeyError: No bout runs.
    """
    if status.get("posture") is None:
        raise KeyError("posture")
    return RunningBout(
        str(status["posture"]), epoch_time(status["posture_since_s"]), float(status.get("posture_slouch_s") or 0.0)
    )


@contextlib.contextmanager
def _store(store_url: str) -> Iterator[Store]:
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


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def devices(store_url: str) -> dict[str, dict[str, Any]]:
    """Every wearable the store knows, with the status it last published.

    Args:
        store_url: The store, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.

    Returns:
        ``{device_id: status}``, sorted by id; empty when the store file does not exist yet.
        A status has ``online``, ``battery_pct``, ``rate_hz``, ``placement``, ``firmware``
        and ``t_s`` when the device has published one, else it is empty.

    Raises:
        StoreError: The store cannot be read.
    """
    if not Store.exists(store_url):
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
def wearer_settings(store_url: str, device_id: str) -> WearerSettings | None:
    """The settings the wearer chose last, as the worker stored them; None before any (or unreadable).

    Raises:
        StoreError: The store cannot be read.
    """
    if not Store.exists(store_url):
        return None
    with _store(store_url) as store:
        body = store.wearer_settings(device_id)
    try:
        return None if body is None else WearerSettings.from_dict(body)
    except PayloadError:
        log.warning("%s: stored settings not readable; showing the defaults", device_id)
        return None


def status_policy(status: dict[str, Any]) -> AlertPolicy | None:
    """The reminder hours in force, from the worker's live status; None when it reports none to honour.

    >>> status_policy({"weekly_hours": [[9, 17]] * 5 + [None, None], "quiet_hours": [[12, 13]]}).quiet_hours
    ((12.0, 13.0),)
    >>> status_policy({"max_sitting_s": 1800.0}) is None
    True
    """
    hours, weekly, quiet = status.get("working_hours"), status.get("weekly_hours"), status.get("quiet_hours") or []
    if not hours and weekly is None and not quiet:
        return None
    try:
        return AlertPolicy(
            working_hours=None if not hours else (float(hours[0]), float(hours[1])),
            weekly_hours=None
            if weekly is None
            else tuple(None if h is None else (float(h[0]), float(h[1])) for h in weekly),
            quiet_hours=tuple((float(a), float(b)) for a, b in quiet),
            utc_offset_h=float(status.get("utc_offset_h") or 0.0),
        )
    except (TypeError, ValueError, IndexError):
        return None


def events_export(store_url: str, device_id: str) -> bytes:
    """Every stored event of a wearable as JSON Lines, oldest first.

    Each line is the event's JSON object with its ``kind`` and the time it is stored
    under, ``t_s`` (a bout's start).

    Raises:
        StoreError: The store cannot be read.
    """
    if not Store.exists(store_url):
        return b""
    with _store(store_url) as store:
        rows = store.events(device_id)
    return "".join(map(event_line, rows)).encode()


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def live_status(store_url: str, device_id: str) -> dict[str, Any] | None:
    """The analysis worker's live status for a device, or None before its first analysis.

    The keys are those the worker saves: ``t_s``, ``posture``, ``posture_since_s``,
    ``sitting_since_s``, ``sitting_s``, ``open_alert``, ``snoozed_until_s``,
    ``meeting_until_s``, ``reference_ready``, ``calibrated``, ``worn``, ``detects``,
    ``slouch_s``, ``posture_slouch_s``, ``in_bed_hours`` (``analysis.LiveStatus``), and the worker's
    ``max_sitting_s``, ``slouch_deg``, ``working_hours``, ``weekly_hours``,
    ``quiet_hours``, ``utc_offset_h`` and ``placement`` (the wearer's settings in force).
    A NaN or infinite number is left out, as if the worker had not saved it.

    Raises:
        StoreError: The store cannot be read.
    """
    if not Store.exists(store_url):
        return None
    with _store(store_url) as store:
        saved = store.load_status(device_id)
    return None if saved is None else _finite(saved[0])


def _finite(status: dict[str, Any]) -> dict[str, Any]:
    """A status without its non-finite numbers: left out of a dict (at any depth), None in a list.

    >>> _finite({"t_s": float("nan"), "open_alert": {"t_s": float("inf")}, "weekly_hours": [[9, float("nan")]]})
    {'open_alert': {}, 'weekly_hours': [[9, None]]}
    """

    def bad(value: Any) -> bool:
        return isinstance(value, float) and not math.isfinite(value)

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not bad(v)}
        if isinstance(value, list):
            return [None if bad(v) else clean(v) for v in value]
        return value

    cleaned: dict[str, Any] = clean(status)
    return cleaned


def open_alert(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The open sit-too-long alert of a live status; None without one.

    An alert is open only when it is a dict with a finite numeric ``t_s`` (its key for
    the answers); anything else the store holds there is no alert.

    >>> open_alert({"open_alert": {"t_s": 5.0, "repeat": 1}})
    {'t_s': 5.0, 'repeat': 1}
    >>> [open_alert({"open_alert": a}) for a in (None, "yes", {"stretch_id": "squat"}, {"t_s": "soon"})]
    [None, None, None, None]
    """
    alert = (status or {}).get("open_alert")
    if not isinstance(alert, dict):
        return None
    t_s = alert.get("t_s")
    if isinstance(t_s, bool) or not isinstance(t_s, int | float) or not math.isfinite(t_s):
        return None
    return alert


def _open_t_s(status: dict[str, Any]) -> float | None:
    """The ``t_s`` of the status's open alert, None without one."""
    alert = open_alert(status)
    return None if alert is None else float(alert["t_s"])


def _load_day(store_url: str, device_id: str, kinds: Sequence[str]) -> _Day | None:
    """The device's current day and its events of some kinds (from the look-back on)."""
    status = live_status(store_url, device_id)
    now = None if status is None or status.get("t_s") is None else display.local_datetime(float(status["t_s"]))
    bounds = None if now is None else day_bounds(now.date())
    if status is None or bounds is None:
        return None  # no analysis yet, or a time no day holds
    now_s, (start_s, _) = float(status["t_s"]), bounds
    with _store(store_url) as store:
        events = store.events(device_id, since_s=start_s - _LOOKBACK_S, until_s=now_s + 1.0, kinds=kinds)
    return _Day(status, start_s, now_s, events)


def _bouts(day: _Day, *, live: bool = True) -> list[ClippedBout]:
    """The day's posture bouts, clipped to it, the running one of the live status last (``analysis.today``).

    With ``live`` False, the stored bouts alone (a day without a live status).
    """
    running = _parsed([day.status], _running_bout) if live else []
    closed = day.parsed("posture_bout", _stored_bout)
    return clipped_bouts(closed, next(iter(running), None), start_s=day.start_s, now_s=day.now_s)


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def posture_today(store_url: str, device_id: str) -> pd.DataFrame:
    """Time spent in each posture today.

    Args:
        store_url: The store, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.
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

    Charts read naive datetimes as local time, which is what the wearer's clock shows. A
    time no wearable sends (:func:`dashboard.display.local_datetime`) is NaT.
    """
    return pd.Series([display.local_datetime(t) for t in t_s], dtype="datetime64[us]")


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
    "done_still_sitting": "Done, still sitting",
    "snooze": "Snoozed",
    "meeting": "In a meeting",
    "dismiss": "Dismissed",
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
    alerts = [] if day is None else [a for a in day.parsed("alert", _Alert.parse) if a.t_s >= day.start_s]
    answered: list[str] = []
    if day is not None:
        actions = day.parsed("action", _action)
        answered = responses(alerts, actions, day.spans("break"), open_t_s=_open_t_s(day.status))
    return pd.DataFrame(
        {
            "time": _local_times([a.t_s for a in alerts]),
            "sat_min": pd.Series([(a.t_s - a.sitting_since_s) / 60.0 for a in alerts], dtype="float64"),
            "repeat": pd.Series([a.repeat for a in alerts], dtype="int64"),
            "stretch_id": pd.Series([a.stretch_id for a in alerts], dtype="object"),
            "response": pd.Series([_RESPONSES[r] for r in answered], dtype="object"),
        }
    )


# --- Progress and Day pages -------------------------------------------------------------


def _local_tz() -> dt.tzinfo:
    """The server's local time zone, as the dashboard's days use it."""
    return datetime.now().astimezone().tzinfo or UTC


def _last_seen_s(store_url: str, device_id: str) -> float | None:
    """Time of the wearable's latest analysed sample: the worker's live status, else its published status.

    A store filled with events alone (an import, ``bench.office_weeks``) has no live
    status; the time in the wearable's status then stands for "now".
    """
    status = live_status(store_url, device_id)
    if status is not None and status.get("t_s") is not None:
        return float(status["t_s"])
    published = device_info(store_url, device_id).get("t_s")
    return None if published is None else float(published)


def latest_day(store_url: str, device_id: str) -> dt.date | None:
    """The local calendar day of the wearable's latest data ("today" for it); None before any.

    A latest time no wearable sends (a clock counting milliseconds) places no day: None.

    Raises:
        StoreError: The store cannot be read.
    """
    now_s = _last_seen_s(store_url, device_id)
    now = None if now_s is None else display.local_datetime(now_s, _local_tz())
    return None if now is None else now.date()


@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
def plan_progress(store_url: str, device_id: str, weeks: int = 12) -> Report | None:
    """The wearable's last ``weeks`` weeks (``analysis.report``) up to its latest day; None before any data.

    "Today" is the day of the wearable's latest analysed sample, or of its published
    status when no worker has analysed it live (events imported or generated). The plan
    is the default one from the first day with data; days are local to the server.

    Raises:
        StoreError: The store cannot be read.
    """
    today = latest_day(store_url, device_id)
    if today is None:
        return None
    return load_report(store_url, device_id, end=today, weeks=weeks, tz=_local_tz())


@st.cache_data(ttl=PROGRESS_TTL_S, show_spinner=False)
def report_html(store_url: str, device_id: str, weeks: int = 12) -> str | None:
    """The HTML report of ``sitless report --html`` for the same weeks (``ingest.report_html``).

    Raises:
        StoreError: The store cannot be read.
    """
    report = plan_progress(store_url, device_id, weeks)
    return None if report is None else render_html(report, device_id)


def adherence_calendar(report: Report) -> pd.DataFrame:
    """One row per day of the report: how much of the plan was kept, for a calendar.

    Returns:
        Columns ``date`` (naive datetime, midnight), ``week`` (the Monday of its calendar
        week, "24 Nov"), ``weekday`` ("Mon" ... "Sun"), ``level`` (a label of
        :data:`dashboard.display.ADHERENCE_LEVELS`), ``text`` (``"done/due"``, "-" when
        nothing was due, "" outside the plan), ``done`` and ``due`` (int) and ``kept``
        (share of the plan that day, float, NaN when nothing was due).
    """
    plan = {} if report.adherence is None else {d.day: d for d in report.adherence.days}
    rows = []
    for k in range((report.end - report.start).days + 1):
        day = report.start + dt.timedelta(days=k)
        kept = plan.get(day)
        rows.append(
            {
                "date": datetime.combine(day, dt.time()),
                "week": f"{day - dt.timedelta(days=day.weekday()):%d %b}",
                "weekday": day.strftime("%a"),
                "level": display.adherence_level(None if kept is None else kept.fraction, in_plan=kept is not None),
                "text": "" if kept is None else (f"{kept.done}/{kept.prescribed}" if kept.prescribed else "-"),
                "done": 0 if kept is None else kept.done,
                "due": 0 if kept is None else kept.prescribed,
                "kept": float("nan") if kept is None or kept.fraction is None else kept.fraction,
            }
        )
    return pd.DataFrame(rows)


def weekly_activity(report: Report) -> pd.DataFrame:
    """The report's weeks: sitting, the longest bout and breaks per hour of sitting.

    Returns:
        One row per week, oldest first: ``end`` (naive datetime of its last day),
        ``label`` ("to 29 Nov"), ``sitting_h`` (hours of waking sitting), ``longest_min``
        (the longest sitting bout, minutes), ``breaks`` (int), ``breaks_per_h`` (breaks per
        sitting hour, NaN without sitting) and ``alerts`` (int).
    """
    weeks = report.weeks
    return pd.DataFrame(
        {
            "end": pd.Series([datetime.combine(w.end, dt.time()) for w in weeks], dtype="datetime64[us]"),
            "label": pd.Series([f"to {w.end:%d %b}" for w in weeks], dtype="object"),
            "sitting_h": pd.Series([w.sitting_s / 3600.0 for w in weeks], dtype="float64"),
            "longest_min": pd.Series([w.longest_sitting_s / 60.0 for w in weeks], dtype="float64"),
            "breaks": pd.Series([w.breaks for w in weeks], dtype="int64"),
            "breaks_per_h": pd.Series(
                [float("nan") if w.breaks_per_sitting_hour is None else w.breaks_per_sitting_hour for w in weeks],
                dtype="float64",
            ),
            "alerts": pd.Series([w.alerts for w in weeks], dtype="int64"),
        }
    )


def plan_weeks(report: Report) -> pd.DataFrame:
    """Exercises done against prescribed, per plan week (``analysis.adherence``).

    Returns:
        One row per plan week within the report: ``week`` (int, 1 for the plan's first),
        ``label`` ("Week 3"), ``start`` and ``end`` (naive datetimes), ``prescribed`` and
        ``done`` (items due and items whose dose was met, int) and ``kept`` (share of the
        plan kept, NaN when nothing was due).
    """
    weeks = () if report.adherence is None else report.adherence.weeks
    return pd.DataFrame(
        {
            "week": pd.Series([w.week for w in weeks], dtype="int64"),
            "label": pd.Series([f"Week {w.week}" for w in weeks], dtype="object"),
            "start": pd.Series([datetime.combine(w.start, dt.time()) for w in weeks], dtype="datetime64[us]"),
            "end": pd.Series([datetime.combine(w.end, dt.time()) for w in weeks], dtype="datetime64[us]"),
            "prescribed": pd.Series([w.prescribed for w in weeks], dtype="int64"),
            "done": pd.Series([w.done for w in weeks], dtype="int64"),
            "kept": pd.Series([float("nan") if w.fraction is None else w.fraction for w in weeks], dtype="float64"),
        }
    )


def exercise_table(report: Report) -> pd.DataFrame:
    """Per exercise of the plan over the report: days due and done, and amounts (``exercise_totals``).

    Returns:
        Columns ``Exercise`` (name), ``Days due``, ``Days done``, ``Repetitions`` (int),
        ``Held (min)`` and ``Walked (min)`` (float), in the order first due.
    """
    totals = exercise_totals(report)
    return pd.DataFrame(
        {
            "Exercise": pd.Series([_exercise_name(t.exercise_id) for t in totals], dtype="object"),
            "Days due": pd.Series([t.due_days for t in totals], dtype="int64"),
            "Days done": pd.Series([t.done_days for t in totals], dtype="int64"),
            "Repetitions": pd.Series([t.reps for t in totals], dtype="int64"),
            "Held (min)": pd.Series([t.held_s / 60.0 for t in totals], dtype="float64"),
            "Walked (min)": pd.Series([t.duration_s / 60.0 for t in totals], dtype="float64"),
        }
    )


def progress_summary(report: Report) -> Summary:
    """The report's headline figures (``analysis.report.summarize``)."""
    return summarize(report)


#: How the Progress page names the report's answers (``Report.answer_counts``), in order.
ANSWER_LABELS = {
    "done": _RESPONSES["done"],
    "snooze": _RESPONSES["snooze"],
    "meeting": _RESPONSES["meeting"],
    "break": _RESPONSES["break"],
    "ignored": _RESPONSES["ignored"],
}


def reminder_answers(report: Report) -> pd.DataFrame:
    """How the report's reminders were answered (``Report.answer_counts``).

    Returns:
        One row per answer in :data:`ANSWER_LABELS` order: ``answer`` (key), ``label`` and
        ``count`` (int).
    """
    counts = report.answer_counts()
    return pd.DataFrame(
        {
            "answer": list(ANSWER_LABELS),
            "label": list(ANSWER_LABELS.values()),
            "count": pd.Series([counts[k] for k in ANSWER_LABELS], dtype="int64"),
        }
    )


@dataclass(frozen=True, slots=True)
class DayView:
    """One local calendar day of a wearable, for the Day page.

    Attributes:
        day: The date.
        start: Local midnight starting it (naive local datetime).
        end: The next midnight.
        bouts: Posture bouts clipped to the day (the running one last): columns
            ``posture`` (str), ``start`` and ``end`` (naive local datetimes), ``minutes``
            (float) and ``running`` (bool).
        alerts: Sit-too-long alerts: ``time`` (naive local datetime), ``repeat`` (int) and
            ``response`` (str, as on the Today page).
        exercises: Exercise sets, holds and exercises found: ``exercise`` (name), ``what``
            (``"10 reps"``, ``"hold"``, ``"found"``), ``start`` and ``end``.
        summary: The day's totals (``analysis.days.day_summaries``), None without data.
        in_bed: The in-bed windows the worker found (``analysis.nights``) clipped to the
            day: ``start`` and ``end`` (naive local datetimes).
    """

    day: dt.date
    start: datetime
    end: datetime
    bouts: pd.DataFrame
    alerts: pd.DataFrame
    exercises: pd.DataFrame
    summary: DaySummary | None
    in_bed: pd.DataFrame


_DAY_KINDS = (
    "posture_bout",
    "sitting_bout",
    "break",
    "alert",
    "action",
    "exercise",
    "hold",
    "exercise_found",
    "in_bed",
)
_EXERCISE_KINDS = {"exercise": "set", "hold": "hold", "exercise_found": "found"}


def _exercise_name(exercise_id: object) -> str:
    try:
        return exercise_by_id(str(exercise_id)).name
    except KeyError:
        return str(exercise_id)


def _exercise_row(row: EventRow) -> tuple[str, str, float, float]:
    """An exercise event as ``(exercise name, what, start_s, end_s)`` (``DayView.exercises``)."""
    what = f"{int(row.body.get('reps') or 0)} reps" if row.kind == "exercise" else _EXERCISE_KINDS[row.kind]
    start_s, end_s = epoch_time(row.body["start_s"]), epoch_time(row.body["end_s"])
    return _exercise_name(row.body.get("exercise")), what, start_s, end_s


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def day_view(store_url: str, device_id: str, day: dt.date) -> DayView:
    """A wearable's posture bouts, alerts and exercise on one local calendar day, and the day's totals.

    The running bout of the live status counts up to the wearable's latest sample; a
    day after that has nothing. Bouts are clipped to the day (``analysis.today``), and
    the totals are that day's ``analysis.days.DaySummary``. The worker finds each night's
    in-bed window at the next local noon (``analysis.nights``): until then, and on a day
    no night touches, in-bed time is absent ("not measured"), not zero. A day no
    wearable's clock reaches (:func:`day_bounds`) has nothing.

    Raises:
        StoreError: The store cannot be read.
    """
    bounds = day_bounds(day)
    if bounds is None:
        return _day_view(day)
    start_s, end_s = bounds
    status = live_status(store_url, device_id) or {}
    seen_s = _last_seen_s(store_url, device_id)
    now_s = end_s if seen_s is None else max(start_s, min(end_s, seen_s))
    events: list[EventRow] = []
    if Store.exists(store_url):
        with _store(store_url) as store:
            events = store.events(device_id, since_s=start_s - _LOOKBACK_S, until_s=now_s, kinds=_DAY_KINDS)
    today = _Day(status, start_s, now_s, events)
    bouts = _bouts(today, live=status.get("t_s") is not None)
    sitting, breaks = today.spans("sitting_bout"), today.spans("break")
    alerts = [a for a in today.parsed("alert", _Alert.parse) if start_s <= a.t_s < now_s]
    answered = responses(alerts, today.parsed("action", _action), breaks, open_t_s=_open_t_s(status))
    beds = [_Span(max(s, start_s), min(e, end_s)) for s, e in today.spans("in_bed") if e > start_s and s < end_s]
    nights = [NightWindow.of_bed(s, e) for s, e in beds]
    summaries = day_summaries(bouts, sitting, breaks, alerts, nights=nights, epoch_s=0.0, tz=_local_tz())
    summary = next((s for s in summaries if s.date == day.isoformat()), None)
    exercise = _parsed((e for e in events if e.kind in _EXERCISE_KINDS and start_s <= e.t_s < end_s), _exercise_row)
    return _day_view(day, bouts=bouts, alerts=alerts, answered=answered, exercises=exercise, summary=summary, beds=beds)


def _day_view(
    day: dt.date,
    *,
    bouts: Sequence[ClippedBout] = (),
    alerts: Sequence[_Alert] = (),
    answered: Sequence[str] = (),
    exercises: Sequence[tuple[str, str, float, float]] = (),
    summary: DaySummary | None = None,
    beds: Sequence[_Span] = (),
) -> DayView:
    """The Day page's frames of one day's bouts, alerts (with their answers), exercise rows and in-bed spans."""
    return DayView(
        day=day,
        start=datetime.combine(day, dt.time()),
        end=datetime.combine(day + timedelta(days=1), dt.time()) if day < dt.date.max else datetime.max,
        bouts=pd.DataFrame(
            {
                "posture": pd.Series([b.posture for b in bouts], dtype="object"),
                "start": _local_times([b.start_s for b in bouts]),
                "end": _local_times([b.end_s for b in bouts]),
                "minutes": pd.Series([b.duration_s / 60.0 for b in bouts], dtype="float64"),
                "running": pd.Series([b.running for b in bouts], dtype="bool"),
            }
        ),
        alerts=pd.DataFrame(
            {
                "time": _local_times([a.t_s for a in alerts]),
                "repeat": pd.Series([a.repeat for a in alerts], dtype="int64"),
                "response": pd.Series([_RESPONSES[r] for r in answered], dtype="object"),
            }
        ),
        exercises=pd.DataFrame(
            {
                "exercise": pd.Series([r[0] for r in exercises], dtype="object"),
                "what": pd.Series([r[1] for r in exercises], dtype="object"),
                "start": _local_times([r[2] for r in exercises]),
                "end": _local_times([r[3] for r in exercises]),
            }
        ),
        summary=summary,
        in_bed=pd.DataFrame({"start": _local_times([s for s, _ in beds]), "end": _local_times([e for _, e in beds])}),
    )


#: Most samples the Settings page puts in a ZIP for the browser: the archive is built in
#: the dashboard's memory, at about 9 bytes a sample of a simulated office day
#: (``python -m bench.export``; docs/performance.md), so 28 h at 50 Hz make some 45 MB.
#: Past it the page gives the ``sitless export`` command, which writes to a file as it reads.
EXPORT_MAX_SAMPLES = 5_000_000


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def stored_size(store_url: str, device_id: str) -> tuple[int, int]:
    """How much of a wearable's stream the store holds: ``(packets, samples)``.

    Raises:
        StoreError: The store cannot be read.
    """
    if not Store.exists(store_url):
        return 0, 0
    with _store(store_url) as store:
        return store.stored_size(device_id)


def full_export(store_url: str, device_id: str) -> bytes:
    """Everything the store holds about a wearable as one ZIP archive (:mod:`ingest.export`).

    Raises:
        StoreError: The store cannot be read.
    """
    buffer = io.BytesIO()
    with _store(store_url) as store:
        write_export(store, device_id, buffer)
    return buffer.getvalue()


def delete_wearer(store_url: str, device_id: str) -> int:
    """Delete everything the store holds about a wearable (``Store.delete_device``); the rows deleted.

    The one write the dashboard makes to the store, asked for on the Settings page.
    Every cached read is cleared, so that the pages show the deletion at once.

    Raises:
        StoreError: The store cannot be written.
    """
    with Store(store_url) as store:
        deleted = store.delete_device(device_id)
    st.cache_data.clear()
    return deleted


# --- Session page -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionItem:
    """One exercise of today's plan, for a guided session.

    Attributes:
        exercise_id: The programme exercise.
        dose: The dose asked for (the default plan's: the programme dose).
        done: Its dose was already met today (``analysis.adherence``).
    """

    exercise_id: str
    dose: Dose
    done: bool


def session_plan(store_url: str, device_id: str) -> tuple[SessionItem, ...]:
    """The stretches and strengthening exercises of the plan due on the wearable's latest day, in plan order.

    The aerobic items (the daily walk) are left out: they are no guided set, and the
    day's walks count by themselves. The plan is the default one (:func:`plan_progress`).

    Returns:
        The items; none before any data, or when the plan has nothing due that day.

    Raises:
        StoreError: The store cannot be read.
    """
    report = plan_progress(store_url, device_id)
    today = latest_day(store_url, device_id)
    if report is None or report.adherence is None or not report.adherence.days:
        return ()
    day = report.adherence.days[-1]
    if day.day != today:
        return ()
    items = [(exercise_by_id(i.exercise_id), i.done) for i in day.items]
    return tuple(SessionItem(e.id, e.dose, done) for e, done in items if e.category != Category.AEROBIC)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def guided_start(store_url: str, device_id: str, exercise: str, action_id: str | None = None) -> float | None:
    """When the worker began following a guided exercise (its ``exercise_started`` event), device time.

    Args:
        store_url: The store, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.
        device_id: The wearable.
        exercise: The programme exercise id.
        action_id: The id of the ``exercise_start`` action that asked for it (its events
            carry it); None for the latest start of that exercise.

    Returns:
        The start's ``t_s``, epoch seconds; None before the worker has confirmed it.

    Raises:
        StoreError: The store cannot be read.
    """
    if not Store.exists(store_url):
        return None
    with _store(store_url) as store:
        rows = store.events(device_id, kinds=["exercise_started"])
    starts = [
        e.t_s
        for e in rows
        if e.body.get("exercise") == exercise and (action_id is None or e.body.get("id") == action_id)
    ]
    return max(starts, default=None)


_HOLD_KEYS = ("start_s", "end_s", "exercise", "side", "target_s", "broken", "bounces", "hold")
_GUIDED_KINDS = ("rep", "hold_started", "hold")


def _guided_event(row: EventRow) -> RepCounted | HoldStarted | HoldEnded:
    """A stored ``rep``, ``hold_started`` or ``hold`` event as its analysis value.

    Raises:
        KeyError, ValueError, TypeError: The row does not parse.
    """
    kind, body = row.kind, row.body
    if kind == "rep":
        return RepCounted(
            float(body["t_s"]), float(body["start_s"]), str(body["exercise"]), int(body["rep"]), body.get("side")
        )
    if kind == "hold_started":
        return HoldStarted(float(body["t_s"]), str(body["exercise"]), body.get("side"), float(body["target_s"]))
    return HoldEnded(*(body[k] for k in _HOLD_KEYS))


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def guided_set(
    store_url: str,
    device_id: str,
    exercise: str,
    *,
    per_side: bool,
    since_s: float,
    until_s: float | None = None,
    switch_s: float | None = None,
) -> GuidedProgress:
    """One set of a guided exercise so far: repetitions and holds per side, the hold under way.

    The worker's stored ``rep``, ``hold_started`` and ``hold`` events of the exercise,
    counted by :func:`analysis.guided.guided_progress` (sides, and what counts: there).

    Args:
        store_url: The store, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.
        device_id: The wearable.
        exercise: The programme exercise id.
        per_side: The dose is per side.
        since_s: Start of the set (device time, epoch seconds).
        until_s: End of the set; None while it runs.
        switch_s: When the wearer was told to change to the second side; None before.

    Raises:
        StoreError: The store cannot be read.
    """
    rows: list[EventRow] = []
    if Store.exists(store_url):
        with _store(store_url) as store:
            rows = store.events(
                device_id,
                since_s=since_s,
                until_s=float("inf") if until_s is None else until_s,
                kinds=_GUIDED_KINDS,
            )
    events = _parsed((r for r in rows if r.body.get("exercise") == exercise), _guided_event)
    return guided_progress(
        events,
        per_side=per_side,
        since_s=since_s,
        until_s=float("inf") if until_s is None else until_s,
        switch_s=switch_s,
    )
