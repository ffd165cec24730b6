"""Day: one day's postures on a ribbon along the clock, its reminders and exercise, and its totals.

The day is a local calendar day picked with the date input, the wearable's latest day
first. Bouts, alerts and exercise come from :func:`dashboard.data.day_view`; the totals
are the day's ``analysis.days.DaySummary``. The in-bed windows the worker found
(``analysis.nights``, each at the local noon after the night) are a band of their own
above the postures; the day's sitting and lying are then waking time.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analysis.days import DaySummary
from dashboard import data, display
from dashboard.settings import current_settings, selected_device

st.title("Day")


#: The ribbon's rows, top to bottom.
ROWS = ("In bed", "Posture", "Reminders", "Exercise")


def ribbon(view: data.DayView) -> alt.LayerChart:
    """Posture bouts as one band over the day's clock, in bed above, reminders as ticks and exercise as bars below."""
    # The worn span, widened to whole hours, reads better than 24 h of mostly nothing.
    first = max(view.bouts["start"].min().floor("h"), pd.Timestamp(view.start))
    last = min(view.bouts["end"].max().ceil("h"), pd.Timestamp(view.end))
    clock = alt.Scale(domain=[first.isoformat(), last.isoformat()])
    axis = alt.Axis(format="%H:%M", title="Time of day", labelAngle=0, tickCount=6, grid=True)
    bouts = view.bouts.assign(label=view.bouts["posture"].map(display.posture_label), row="Posture")
    postures = list(display.POSTURE_COLOURS)
    band = (
        alt.Chart(bouts)
        .mark_bar(height={"band": 0.9})
        .encode(
            x=alt.X("start:T", scale=clock, axis=axis),
            x2="end:T",
            y=alt.Y("row:N", title=None, sort=list(ROWS)),
            color=alt.Color(
                "posture:N",
                title="Posture",
                scale=alt.Scale(domain=postures, range=list(display.POSTURE_COLOURS.values())),
                legend=alt.Legend(orient="bottom", labelExpr=_label_expr(), columns=3),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="Posture"),
                alt.Tooltip("start:T", format="%H:%M", title="From"),
                alt.Tooltip("end:T", format="%H:%M", title="To"),
                alt.Tooltip("minutes:Q", format=".0f", title="Minutes"),
            ],
        )
    )
    layers: list[alt.Chart] = [band]
    if not view.in_bed.empty:
        beds = view.in_bed.assign(row="In bed")
        layers.insert(
            0,
            alt.Chart(beds)
            .mark_bar(color="#2c3e6b", height={"band": 0.6})
            .encode(
                x=alt.X("start:T", scale=clock),
                x2="end:T",
                y=alt.Y("row:N", title=None, sort=list(ROWS)),
                tooltip=[
                    alt.Tooltip("start:T", format="%H:%M", title="In bed from"),
                    alt.Tooltip("end:T", format="%H:%M", title="Up at"),
                ],
            ),
        )
    if not view.alerts.empty:
        alerts = view.alerts.assign(row="Reminders")
        layers.append(
            alt.Chart(alerts)
            .mark_tick(color="#c0392b", thickness=2, size=22)
            .encode(
                x=alt.X("time:T", scale=clock),
                y=alt.Y("row:N"),
                tooltip=[
                    alt.Tooltip("time:T", format="%H:%M", title="Reminder"),
                    alt.Tooltip("response:N", title="Answer"),
                ],
            )
        )
    if not view.exercises.empty:
        exercises = view.exercises.assign(row="Exercise")
        layers.append(
            alt.Chart(exercises)
            .mark_bar(color="#1a7a4c", height={"band": 0.6}, minBandSize=3)
            .encode(
                x=alt.X("start:T", scale=clock),
                x2="end:T",
                y=alt.Y("row:N"),
                tooltip=[
                    alt.Tooltip("exercise:N", title="Exercise"),
                    alt.Tooltip("what:N", title="What"),
                    alt.Tooltip("start:T", format="%H:%M", title="At"),
                ],
            )
        )
    return alt.LayerChart(layer=layers, height=34 * len(layers), autosize=display.FIT_WIDTH)


def _label_expr() -> str:
    """A Vega expression that names each posture key as the wearer reads it."""
    cases = " : ".join(f"datum.label == '{key}' ? '{display.posture_label(key)}'" for key in display.POSTURE_COLOURS)
    return f"{cases} : datum.label"


def totals(summary: DaySummary | None) -> None:
    """The day's time per posture, breaks and reminders."""
    figures = {
        "Sitting": display.minutes_text(0.0 if summary is None else summary.seconds_of("sitting")),
        "Standing": display.minutes_text(0.0 if summary is None else summary.seconds_of("standing")),
        "Walking": display.minutes_text(0.0 if summary is None else summary.seconds_of("walking")),
        "Lying": display.minutes_text(0.0 if summary is None else summary.seconds_of("lying")),
        "In bed": "not measured"
        if summary is None or summary.in_bed_s is None
        else display.minutes_text(summary.in_bed_s),
        "Not worn": display.minutes_text(0.0 if summary is None else summary.seconds_of("nonwear")),
        "Breaks": str(0 if summary is None else summary.breaks),
        "Reminders": str(0 if summary is None else summary.alerts),
    }
    items = list(figures.items())
    for row in (items[:4], items[4:]):  # row by row, so a phone lists them in order
        for column, (label, value) in zip(st.columns(4), row, strict=False):
            column.metric(label, value)


def reminders_table(alerts: pd.DataFrame) -> None:
    """The day's reminders and how each was answered."""
    table = pd.DataFrame(
        {
            "Time": alerts["time"].dt.strftime("%H:%M"),
            "Reminder": ["first" if r == 0 else f"repeat {r}" for r in alerts["repeat"]],
            "Answer": alerts["response"],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")


def day() -> None:
    """The whole page for the selected wearable and day."""
    device = selected_device()
    latest = None if device is None else data.latest_day(current_settings().store_url, device)
    if device is None or latest is None:
        st.info(display.NO_DATA_YET, icon=":material/hourglass_top:")
        return
    chosen = st.date_input("Day", value=latest, max_value=latest, format="YYYY-MM-DD", key="day_shown")
    view = data.day_view(current_settings().store_url, device, chosen)
    if view.bouts.empty:
        st.info(f"No data for `{device}` on {chosen:%A %d %B %Y}.", icon=":material/event_busy:")
        return
    st.caption(f"`{device}`, {chosen:%A %d %B %Y}")
    st.altair_chart(ribbon(view), width="stretch")
    st.caption(
        "Dark blue bar: in bed (found the noon after each night). Red ticks: break reminders. "
        "Green bars: exercise sets and holds. Hover for details."
    )
    totals(view.summary)
    if not view.alerts.empty:
        st.subheader("Break reminders")
        reminders_table(view.alerts)
    if not view.exercises.empty:
        st.subheader("Exercise")
        st.dataframe(
            view.exercises.assign(
                start=view.exercises["start"].dt.strftime("%H:%M"), end=view.exercises["end"].dt.strftime("%H:%M")
            ).rename(columns={"exercise": "Exercise", "what": "What", "start": "From", "end": "To"}),
            hide_index=True,
            width="stretch",
        )


day()
