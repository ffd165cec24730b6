"""Today for a wearable, for the Today page: time in each posture, the posture timeline, the day's totals and alerts.

"Today" is the local calendar day of the wearable's latest analysed sample
(:mod:`dashboard.data.base`); before the worker's first analysis it holds nothing.
Bouts are clipped to the day, the one running in the live status last
(``analysis.today``). Every read is cached for two seconds
(:data:`~dashboard.data.base.TODAY_TTL_S`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from analysis import Posture
from analysis.today import DaySoFar, day_so_far, responses
from dashboard import display
from dashboard.data.base import (
    LOOKBACK_S,
    RESPONSES,
    TODAY_TTL_S,
    Day,
    StoredAlert,
    day_bounds,
    day_bouts,
    local_times,
    read_only,
    stored_action,
)
from dashboard.data.fields import number
from dashboard.data.live import live_status, open_alert_t_s

__all__ = ["POSTURES", "alerts_today", "bouts_today", "posture_today", "summary_today"]

POSTURES = tuple(str(p) for p in Posture)


def _load_day(store_url: str, device_id: str, kinds: Sequence[str]) -> Day | None:
    """The device's current day and its events of some kinds (from the look-back on)."""
    status = live_status(store_url, device_id)
    now_s = None if status is None else number(status.get("t_s"))
    now = None if now_s is None else display.local_datetime(now_s)
    bounds = None if now is None else day_bounds(now.date())
    if status is None or now_s is None or bounds is None:
        return None  # no analysis yet, or a time no day holds
    start_s, _ = bounds
    with read_only(store_url) as store:
        events = store.events(device_id, since_s=start_s - LOOKBACK_S, until_s=now_s + 1.0, kinds=kinds)
    return Day(status, start_s, now_s, events)


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
        for bout in day_bouts(day):
            key = bout.posture if bout.posture in seconds else "other"
            seconds[key] += bout.end_s - bout.start_s
    frame = pd.DataFrame({"posture": list(seconds), "seconds": list(seconds.values())})
    frame["minutes"] = frame["seconds"] / 60.0
    return frame


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
    rows = [] if day is None else day_bouts(day)
    return pd.DataFrame(
        {
            "posture": pd.Series([r.posture for r in rows], dtype="object"),
            "start": local_times([r.start_s for r in rows]),
            "end": local_times([r.end_s for r in rows]),
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
    sitting = number(day.status.get("sitting_since_s")) is not None
    running = (number(day.status.get("sitting_s")) or 0.0) if sitting else None
    return day_so_far(
        day_bouts(day),
        day.spans("sitting_bout"),
        day.spans("break"),
        day.instants("alert"),
        running_sitting_s=running,
        start_s=day.start_s,
    )


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
    alerts = [] if day is None else [a for a in day.parsed("alert", StoredAlert.parse) if a.t_s >= day.start_s]
    answered: list[str] = []
    if day is not None:
        actions = day.parsed("action", stored_action)
        answered = responses(alerts, actions, day.spans("break"), open_t_s=open_alert_t_s(day.status))
    return pd.DataFrame(
        {
            "time": local_times([a.t_s for a in alerts]),
            "sat_min": pd.Series([(a.t_s - a.sitting_since_s) / 60.0 for a in alerts], dtype="float64"),
            "repeat": pd.Series([a.repeat for a in alerts], dtype="int64"),
            "stretch_id": pd.Series([a.stretch_id for a in alerts], dtype="object"),
            "response": pd.Series([RESPONSES[r] for r in answered], dtype="object"),
        }
    )
