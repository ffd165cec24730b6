"""One local calendar day of a wearable, for the Day page: its bouts, alerts, exercise, in-bed time and totals.

Any day can be picked, not only the wearable's latest: the day's stored events are read
between its local midnights (:func:`~dashboard.data.base.day_bounds`), the running bout of
the live status counts up to the wearable's latest sample, and the totals are those of
``analysis.days.day_summaries``. The view is cached for two seconds
(:data:`~dashboard.data.base.TODAY_TTL_S`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from analysis.days import DaySummary, day_summaries
from analysis.inbed import NightWindow
from analysis.today import ClippedBout, responses
from dashboard.data.base import (
    LOOKBACK_S,
    RESPONSES,
    TODAY_TTL_S,
    Day,
    Span,
    StoredAlert,
    day_bounds,
    day_bouts,
    exercise_name,
    local_times,
    local_tz,
    parsed,
    read_only,
    store_exists,
    stored_action,
)
from dashboard.data.fields import number
from dashboard.data.live import last_seen_s, live_status, open_alert_t_s
from ingest.codec import epoch_time
from ingest.store import EventRow

__all__ = ["DayView", "day_view"]


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


def _exercise_row(row: EventRow) -> tuple[str, str, float, float]:
    """An exercise event as ``(exercise name, what, start_s, end_s)`` (``DayView.exercises``)."""
    what = f"{int(row.body.get('reps') or 0)} reps" if row.kind == "exercise" else _EXERCISE_KINDS[row.kind]
    start_s, end_s = epoch_time(row.body["start_s"]), epoch_time(row.body["end_s"])
    return exercise_name(row.body.get("exercise")), what, start_s, end_s


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def day_view(store_url: str, device_id: str, day: dt.date) -> DayView:
    """A wearable's posture bouts, alerts and exercise on one local calendar day, and the day's totals.

    The running bout of the live status counts up to the wearable's latest sample; a
    day after that has nothing. Bouts are clipped to the day (``analysis.today``), and
    the totals are that day's ``analysis.days.DaySummary``. The worker finds each night's
    in-bed window at the next local noon (``analysis.nights``): until then, and on a day
    no night touches, in-bed time is absent ("not measured"), not zero. A day no
    wearable's clock reaches (:func:`~dashboard.data.base.day_bounds`) has nothing.

    Raises:
        StoreError: The store cannot be read.
    """
    bounds = day_bounds(day)
    if bounds is None:
        return _day_view(day)
    start_s, end_s = bounds
    status = live_status(store_url, device_id) or {}
    seen_s = last_seen_s(store_url, device_id)
    now_s = end_s if seen_s is None else max(start_s, min(end_s, seen_s))
    events: list[EventRow] = []
    if store_exists(store_url):
        with read_only(store_url) as store:
            events = store.events(device_id, since_s=start_s - LOOKBACK_S, until_s=now_s, kinds=_DAY_KINDS)
    today = Day(status, start_s, now_s, events)
    bouts = day_bouts(today, live=number(status.get("t_s")) is not None)
    sitting, breaks = today.spans("sitting_bout"), today.spans("break")
    alerts = [a for a in today.parsed("alert", StoredAlert.parse) if start_s <= a.t_s < now_s]
    answered = responses(alerts, today.parsed("action", stored_action), breaks, open_t_s=open_alert_t_s(status))
    beds = [Span(max(s, start_s), min(e, end_s)) for s, e in today.spans("in_bed") if e > start_s and s < end_s]
    nights = [NightWindow.of_bed(s, e) for s, e in beds]
    summaries = day_summaries(bouts, sitting, breaks, alerts, nights=nights, epoch_s=0.0, tz=local_tz())
    summary = next((s for s in summaries if s.date == day.isoformat()), None)
    exercise = parsed((e for e in events if e.kind in _EXERCISE_KINDS and start_s <= e.t_s < end_s), _exercise_row)
    return _day_view(day, bouts=bouts, alerts=alerts, answered=answered, exercises=exercise, summary=summary, beds=beds)


def _day_view(
    day: dt.date,
    *,
    bouts: Sequence[ClippedBout] = (),
    alerts: Sequence[StoredAlert] = (),
    answered: Sequence[str] = (),
    exercises: Sequence[tuple[str, str, float, float]] = (),
    summary: DaySummary | None = None,
    beds: Sequence[Span] = (),
) -> DayView:
    """The Day page's frames of one day's bouts, alerts (with their answers), exercise rows and in-bed spans."""
    return DayView(
        day=day,
        start=datetime.combine(day, dt.time()),
        end=datetime.combine(day + timedelta(days=1), dt.time()) if day < dt.date.max else datetime.max,
        bouts=pd.DataFrame(
            {
                "posture": pd.Series([b.posture for b in bouts], dtype="object"),
                "start": local_times([b.start_s for b in bouts]),
                "end": local_times([b.end_s for b in bouts]),
                "minutes": pd.Series([b.duration_s / 60.0 for b in bouts], dtype="float64"),
                "running": pd.Series([b.running for b in bouts], dtype="bool"),
            }
        ),
        alerts=pd.DataFrame(
            {
                "time": local_times([a.t_s for a in alerts]),
                "repeat": pd.Series([a.repeat for a in alerts], dtype="int64"),
                "response": pd.Series([RESPONSES[r] for r in answered], dtype="object"),
            }
        ),
        exercises=pd.DataFrame(
            {
                "exercise": pd.Series([r[0] for r in exercises], dtype="object"),
                "what": pd.Series([r[1] for r in exercises], dtype="object"),
                "start": local_times([r[2] for r in exercises]),
                "end": local_times([r[3] for r in exercises]),
            }
        ),
        summary=summary,
        in_bed=pd.DataFrame({"start": local_times([s for s, _ in beds]), "end": local_times([e for _, e in beds])}),
    )
