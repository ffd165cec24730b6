"""Progress: the weeks of the plan kept, sitting and breaks, reminders answered, and the report.

Every figure is the progress report's (``analysis.report.Report``, through
:mod:`dashboard.data`); the download is the page ``sitless report --html`` writes for
the same weeks. Charts stretch to the page's width, so they read on a phone too.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, display
from dashboard.settings import current_settings, selected_device

#: The periods offered, in weeks.
PERIODS_WEEKS = (4, 12)
_DARK_LEVELS = ("Half or more", "All done")

st.title("Progress")


def calendar_chart(days: pd.DataFrame) -> alt.LayerChart:
    """Day cells, one column per calendar week, each with its ``done/due`` and a shade by level."""
    levels = list(display.ADHERENCE_LEVELS)
    weeks = list(dict.fromkeys(days["week"]))
    base = alt.Chart(days).encode(
        x=alt.X("week:O", title="Week starting", sort=weeks, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("weekday:O", title=None, sort=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
        tooltip=[
            alt.Tooltip("date:T", title="Day", format="%a %d %b"),
            alt.Tooltip("level:N", title="Plan"),
            alt.Tooltip("done:Q", title="Items done"),
            alt.Tooltip("due:Q", title="Items due"),
        ],
    )
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color(
            "level:O",
            title="Plan kept",
            sort=levels,
            scale=alt.Scale(domain=levels, range=list(display.ADHERENCE_LEVELS.values())),
            legend=alt.Legend(orient="bottom", columns=3, symbolType="square", symbolSize=160),
        )
    )
    text = base.mark_text(fontSize=9).encode(
        text="text:N",
        color=alt.condition(
            alt.FieldOneOfPredicate("level", list(_DARK_LEVELS)), alt.value("white"), alt.value("black")
        ),
    )
    return alt.LayerChart(layer=[cells, text], height=7 * 22, autosize=display.FIT_WIDTH)


def weekly_bars(weeks: pd.DataFrame, field: str, title: str, fmt: str) -> alt.Chart:
    """One bar per week of the report, with its value in the tooltip."""
    chart: alt.Chart = (
        alt.Chart(weeks)
        .mark_bar(color=display.POSTURE_COLOURS["sitting"])
        .encode(
            x=alt.X("label:O", title="Week", sort=list(weeks["label"]), axis=alt.Axis(labelAngle=-45)),
            y=alt.Y(f"{field}:Q", title=title),
            tooltip=[alt.Tooltip("label:O", title="Week"), alt.Tooltip(f"{field}:Q", title=title, format=fmt)],
        )
        .properties(height=150, autosize=display.FIT_WIDTH)
    )
    return chart


def plan_chart(weeks: pd.DataFrame) -> alt.Chart:
    """Items prescribed and done per plan week, side by side."""
    chart: alt.Chart = (
        alt.Chart(weeks)
        .transform_fold(["prescribed", "done"], as_=["measure", "items"])
        .transform_calculate(what="datum.measure == 'done' ? 'Done' : 'Prescribed'")
        .mark_bar()
        .encode(
            x=alt.X("week:O", title="Plan week", sort=list(weeks["week"]), axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("what:N", sort=["Prescribed", "Done"]),
            y=alt.Y("items:Q", title="Items"),
            color=alt.Color(
                "what:N",
                title=None,
                sort=["Prescribed", "Done"],
                scale=alt.Scale(domain=["Prescribed", "Done"], range=["#b2babb", "#1a7a4c"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("label:O", title="Plan week"),
                alt.Tooltip("what:N", title="Items"),
                alt.Tooltip("items:Q", title="Count"),
                alt.Tooltip("kept:Q", title="Plan kept", format=".0%"),
            ],
        )
        .properties(height=150, autosize=display.FIT_WIDTH)
    )
    return chart


def answers_chart(answers: pd.DataFrame) -> alt.LayerChart:
    """How many reminders were answered each way, with the count at each bar."""
    base = alt.Chart(answers).encode(
        y=alt.Y("label:N", title=None, sort=list(answers["label"])),
        x=alt.X("count:Q", title="Reminders"),
        tooltip=[alt.Tooltip("label:N", title="Answer"), alt.Tooltip("count:Q", title="Reminders")],
    )
    bars = base.mark_bar(color="#2e86de")
    labels = base.mark_text(align="left", dx=3).encode(text="count:Q")
    return alt.LayerChart(layer=[bars, labels], height=5 * 26, autosize=display.FIT_WIDTH)


def rate_text(value: float | None) -> str:
    """Breaks per sitting hour, one decimal, or "-" without sitting."""
    return "-" if value is None else f"{value:.1f}"


def progress() -> None:
    """The whole page for the selected wearable and period."""
    device = selected_device()
    if device is None:
        st.info(display.NO_DATA_YET, icon=":material/hourglass_top:")
        return
    store_url = current_settings().store_url
    weeks = st.radio(
        "Period",
        PERIODS_WEEKS,
        index=len(PERIODS_WEEKS) - 1,
        format_func=lambda n: f"{n} weeks",
        horizontal=True,
        key="progress_weeks",
    )
    report = data.plan_progress(store_url, device, weeks)
    if report is None or not report.days:
        st.info(display.NO_DATA_YET, icon=":material/hourglass_top:")
        return
    summary = data.progress_summary(report)
    plan = report.adherence

    st.caption(f"`{device}`, {report.start:%d %b %Y} to {report.end:%d %b %Y}")
    html = data.report_html(store_url, device, weeks) or ""
    st.download_button(
        "Download report",
        data=html,
        file_name=f"sitless-report-{device}-{report.end.isoformat()}.html",
        mime="text/html",
        icon=":material/download:",
        help="The same page as `sitless report --html`, for a physiotherapist or occupational-health nurse.",
    )

    kept, streak, longest = st.columns(3)
    sitting, rate, answered = st.columns(3)
    kept.metric("Plan kept", "-" if summary.plan_kept is None else f"{summary.plan_kept:.0%}")
    streak.metric("Current streak", f"{0 if plan is None else plan.current_streak_days} days")
    longest.metric("Longest streak", f"{0 if plan is None else plan.longest_streak_days} days")
    sitting.metric(
        "Sitting per day",
        "-" if summary.sitting_per_day_s is None else display.minutes_text(summary.sitting_per_day_s),
        help=f"Average over the {summary.days_with_data} days the sensor was worn.",
    )
    rate.metric("Breaks per sitting hour", rate_text(summary.breaks_per_sitting_hour))
    answered.metric("Reminders answered", f"{summary.reminders_answered} of {summary.reminders}")

    st.subheader("Exercise plan, day by day")
    st.caption("Each cell: items done / items due that day; “-”: nothing due.")
    st.altair_chart(calendar_chart(data.adherence_calendar(report)), width="stretch")

    st.subheader("Sitting and breaks per week")
    weekly = data.weekly_activity(report)
    left, middle, right = st.columns(3)
    left.altair_chart(weekly_bars(weekly, "sitting_h", "Sitting (h)", ".1f"), width="stretch")
    middle.altair_chart(weekly_bars(weekly, "longest_min", "Longest bout (min)", ".0f"), width="stretch")
    right.altair_chart(weekly_bars(weekly, "breaks_per_h", "Breaks per sitting hour", ".1f"), width="stretch")

    plan_col, answers_col = st.columns(2)
    with plan_col:
        st.subheader("Exercises done against prescribed")
        plan_weeks = data.plan_weeks(report)
        if plan_weeks.empty:
            st.caption("The plan does not cover these weeks.")
        else:
            st.altair_chart(plan_chart(plan_weeks), width="stretch")
    with answers_col:
        st.subheader("How reminders were answered")
        if summary.reminders == 0:
            st.caption("No reminders in these weeks.")
        else:
            st.altair_chart(answers_chart(data.reminder_answers(report)), width="stretch")

    table = data.exercise_table(report)
    if not table.empty:
        st.subheader("Each exercise of the plan")
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "Held (min)": st.column_config.NumberColumn(format="%.1f"),
                "Walked (min)": st.column_config.NumberColumn(format="%.0f"),
            },
        )


progress()
