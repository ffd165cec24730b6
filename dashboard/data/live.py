"""A wearable's live status as the analysis worker saves it, its open alert, and its latest day.

"Now" for a device is the time of its latest analysed sample (``status["t_s"]``), or,
for a store filled with events alone, of the status the wearable last published; never
the server's clock (:mod:`dashboard.data`). The live status is cached for a second
(:data:`~dashboard.data.base.LIVE_TTL_S`), so that the live tiles and the break prompt
can read it on every refresh.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import streamlit as st

from dashboard import display
from dashboard.data.base import LIVE_TTL_S, local_tz, read_only, store_exists
from dashboard.data.fields import number
from dashboard.data.wearer import device_info

__all__ = ["last_seen_s", "latest_day", "live_status", "open_alert", "open_alert_t_s"]


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
    if not store_exists(store_url):
        return None
    with read_only(store_url) as store:
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
    return alert if isinstance(alert, dict) and number(alert.get("t_s")) is not None else None


def open_alert_t_s(status: dict[str, Any]) -> float | None:
    """The ``t_s`` of the status's open alert, None without one."""
    alert = open_alert(status)
    return None if alert is None else float(alert["t_s"])


def last_seen_s(store_url: str, device_id: str) -> float | None:
    """Time of the wearable's latest analysed sample: the worker's live status, else its published status.

    A store filled with events alone (an import, ``bench.office_weeks``) has no live
    status; the time in the wearable's status then stands for "now".

    Raises:
        StoreError: The store cannot be read.
    """
    status = live_status(store_url, device_id)
    t_s = None if status is None else number(status.get("t_s"))
    return number(device_info(store_url, device_id).get("t_s")) if t_s is None else t_s


def latest_day(store_url: str, device_id: str) -> dt.date | None:
    """The local calendar day of the wearable's latest data ("today" for it); None before any.

    A latest time no wearable sends (a clock counting milliseconds) places no day: None.

    Raises:
        StoreError: The store cannot be read.
    """
    now_s = last_seen_s(store_url, device_id)
    now = None if now_s is None else display.local_datetime(now_s, local_tz())
    return None if now is None else now.date()
