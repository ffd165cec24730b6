"""The wearable's plan and weeks, for the Progress and Programme pages: the 12-week report and its tables.

:func:`plan_progress` reads the report of the last weeks up to the wearable's latest
day (``analysis.report``, through ``ingest.progress``), and :func:`report_html` the page
``sitless report --html`` writes for the same weeks; both are cached for 30 s
(:data:`~dashboard.data.base.PROGRESS_TTL_S`), as weeks of data change slowly. The
other functions turn a report into the frames the Progress page charts: the adherence
calendar, the weeks' sitting and breaks, the plan weeks, the exercises and the answers
to the reminders.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime

import pandas as pd
import streamlit as st

from analysis.report import Report, Summary, exercise_totals, summarize
from dashboard import display
from dashboard.data.base import PROGRESS_TTL_S, RESPONSES, exercise_name, local_tz
from dashboard.data.live import latest_day
from ingest.progress import load_report
from ingest.report_html import render_html

__all__ = [
    "ANSWER_LABELS",
    "adherence_calendar",
    "exercise_table",
    "plan_progress",
    "plan_weeks",
    "progress_summary",
    "reminder_answers",
    "report_html",
    "weekly_activity",
]


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
    return load_report(store_url, device_id, end=today, weeks=weeks, tz=local_tz())


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
            "Exercise": pd.Series([exercise_name(t.exercise_id) for t in totals], dtype="object"),
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
    "done": RESPONSES["done"],
    "snooze": RESPONSES["snooze"],
    "meeting": RESPONSES["meeting"],
    "break": RESPONSES["break"],
    "ignored": RESPONSES["ignored"],
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
