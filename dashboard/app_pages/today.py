"""Today: time in each posture, the posture timeline, sitting bouts and breaks, and the alerts.

"Today" is the local calendar day of the wearable's latest sample (its own clock).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analysis import THORAX, SlouchPolicy
from dashboard import data, display
from dashboard.settings import current_settings, selected_device

REFRESH_S = 5

settings = current_settings()

st.title("Today")


def colour_scale() -> alt.Scale:
    """The posture colours shared by both charts."""
    return alt.Scale(domain=list(display.POSTURE_COLOURS), range=list(display.POSTURE_COLOURS.values()))


def posture_chart(per_posture: pd.DataFrame) -> alt.Chart:
    """Horizontal bars: minutes in each posture."""
    frame = per_posture.assign(label=per_posture["posture"].map(display.posture_label))
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("minutes:Q", title="Minutes"),
            y=alt.Y("label:N", title=None, sort=list(frame["label"])),
            color=alt.Color("posture:N", scale=colour_scale(), legend=None),
            tooltip=[alt.Tooltip("label:N", title="Posture"), alt.Tooltip("minutes:Q", format=".0f")],
        )
        .properties(height=200)
    )
    return chart


def timeline_chart(bouts: pd.DataFrame) -> alt.Chart:
    """One bar per posture bout along the day's clock."""
    frame = bouts.assign(label=bouts["posture"].map(display.posture_label))
    order = [display.posture_label(p) for p in data.POSTURES]
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("start:T", title=None, axis=alt.Axis(format="%H:%M")),
            x2="end:T",
            y=alt.Y("label:N", title=None, sort=order),
            color=alt.Color("posture:N", scale=colour_scale(), legend=None),
            tooltip=[
                alt.Tooltip("label:N", title="Posture"),
                alt.Tooltip("start:T", format="%H:%M", title="From"),
                alt.Tooltip("end:T", format="%H:%M", title="To"),
                alt.Tooltip("minutes:Q", format=".0f", title="Minutes"),
            ],
        )
        .properties(height=220)
    )
    return chart


def alerts_table(alerts: pd.DataFrame) -> None:
    """Alerts raised today, each with the suggested stretch and the response."""
    names = [(display.stretch_howto(s) or (s, ""))[0] for s in alerts["stretch_id"]]
    table = pd.DataFrame(
        {
            "Time": alerts["time"].dt.strftime("%H:%M"),
            "Sitting for": [display.minutes_text(m * 60.0) for m in alerts["sat_min"]],
            "Reminder": ["first" if r == 0 else f"repeat {r}" for r in alerts["repeat"]],
            "Suggested": names,
            "Response": alerts["response"],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")


@st.fragment(run_every=REFRESH_S)
def day() -> None:
    """The whole page, redrawn every few seconds while the day goes on."""
    device_id = selected_device()
    if device_id is None:
        st.info("No wearable has sent data yet: run `sitless demo` to try sitless with a simulated wearer.")
        return
    summary = data.summary_today(settings.store_url, device_id)
    bouts = data.bouts_today(settings.store_url, device_id)
    if bouts.empty:
        st.info(f"Nothing analysed yet today for `{device_id}`.", icon=":material/hourglass_top:")
        return

    status = data.live_status(settings.store_url, device_id) or {}
    slouch = data.text(status.get("placement")) in THORAX  # only a chest or upper-back sensor measures it
    slouch_deg = data.number(status.get("slouch_deg")) or SlouchPolicy().slouch_deg
    sat, bouts_col, breaks_col, longest_col, alerts_col, *slouch_col = st.columns(6 if slouch else 5)
    sat.metric("Sitting today", display.minutes_text(summary.sitting_s))
    bouts_col.metric("Sitting bouts", summary.sitting_bouts)
    breaks_col.metric("Breaks", summary.breaks)
    longest_col.metric("Longest sitting bout", display.minutes_text(summary.longest_sitting_s))
    alerts_col.metric("Break reminders", summary.alerts)
    for col in slouch_col:
        col.metric(
            "Slouching today",
            display.minutes_text(summary.slouch_s),
            help=f"Time the upper body leant {slouch_deg:.0f}° or more from its upright.",
        )

    left, right = st.columns([1, 2])
    with left:
        st.subheader("Time per posture")
        st.altair_chart(posture_chart(data.posture_today(settings.store_url, device_id)), width="stretch")
    with right:
        st.subheader("Timeline")
        st.altair_chart(timeline_chart(bouts), width="stretch")

    st.subheader("Break reminders")
    alerts = data.alerts_today(settings.store_url, device_id)
    if alerts.empty:
        st.caption("No break reminders today.")
    else:
        alerts_table(alerts)


day()
