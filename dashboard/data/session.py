"""A guided exercise session, for the Session page: today's plan to follow, and each set as the worker counts it.

:func:`session_plan` gives the stretches and strengthening exercises of the plan due on
the wearable's latest day (:func:`~dashboard.data.progress.plan_progress`);
:func:`guided_start` when the worker began following an exercise, and
:func:`guided_set` the repetitions and holds it has stored since, per side
(``analysis.guided``). These two are cached for a second
(:data:`~dashboard.data.base.LIVE_TTL_S`), so that the page can follow the set live.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from analysis.guided import GuidedProgress, guided_progress
from analysis.holds import HoldEnded, HoldStarted
from analysis.programme import Category, Dose, exercise_by_id
from analysis.reps import RepCounted
from dashboard.data.base import LIVE_TTL_S, parsed, read_only, store_exists
from dashboard.data.live import latest_day
from dashboard.data.progress import plan_progress
from ingest.store import EventRow

__all__ = ["SessionItem", "guided_set", "guided_start", "session_plan"]


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
    if not store_exists(store_url):
        return None
    with read_only(store_url) as store:
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
    if store_exists(store_url):
        with read_only(store_url) as store:
            rows = store.events(
                device_id,
                since_s=since_s,
                until_s=float("inf") if until_s is None else until_s,
                kinds=_GUIDED_KINDS,
            )
    events = parsed((r for r in rows if r.body.get("exercise") == exercise), _guided_event)
    return guided_progress(
        events,
        per_side=per_side,
        since_s=since_s,
        until_s=float("inf") if until_s is None else until_s,
        switch_s=switch_s,
    )
