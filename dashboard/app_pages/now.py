"""Now: the wearer's posture this minute, the sitting clock, the sensor, and quiet times.

The live part is a fragment that redraws itself every :data:`REFRESH_S` seconds from the
store, without reloading the page. The break prompt for an open sit-too-long alert
(:mod:`dashboard.prompt`), above every page, is drawn here inside that live part, from the
same status as the tiles, so that it comes and goes with them.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from analysis import next_working_time
from dashboard import data, display, prompt
from dashboard.settings import current_settings, live_device
from ingest.actions import CALIBRATION_S, send_action
from ingest.errors import TopicError

REFRESH_S = 2
DEFAULT_MAX_SITTING_S = 1800.0

settings = current_settings()

st.title("Now")


def send(device_id: str, action: str, confirmation: str) -> None:
    """Send a user action to the worker; confirm with a toast or explain the failure."""
    try:
        send_action(settings.broker, device_id, action)
    except (ConnectionError, TopicError) as err:
        st.error(f"Could not reach the sitless hub: {err}", icon=":material/cloud_off:")
    else:
        st.toast(confirmation, icon=":material/check_circle:")


def no_wearable() -> None:
    """What to do when no wearable has sent anything yet."""
    st.info(
        "No wearable has sent data yet. Clip on a sensor and start the gateway, or try sitless with a "
        "simulated wearer: run `sitless demo` in a terminal. This page updates by itself.",
        icon=":material/sensors_off:",
    )


def sitting_bar(sitting_s: float, max_sitting_s: float) -> None:
    """The sitting bout against the limit: blue on the way, the overdue colour past it."""
    progress = display.sitting_progress(sitting_s, max_sitting_s)
    if not progress.overdue:
        st.progress(progress.fraction, text=progress.text)
        return
    st.html(display.OVERDUE_BAR_STYLE)
    with st.container(key="sitting_overdue"):
        st.progress(1.0, text=f":red[**{progress.text}**]")


def tiles(status: dict[str, Any], sensor: dict[str, Any], now_s: float) -> None:
    """Posture, sitting bout, sensor and battery tiles, and the progress to the threshold."""
    sitting_since_s = data.number(status.get("sitting_since_s"))
    sitting = sitting_since_s is not None
    sitting_s = (data.number(status.get("sitting_s")) or 0.0) if sitting else 0.0
    max_sitting_s = data.number(status.get("max_sitting_s")) or DEFAULT_MAX_SITTING_S

    posture_col, sitting_col, sensor_col, battery_col = st.columns(4)
    with posture_col:
        st.metric("Posture", display.posture_label(data.text(status.get("posture"))))
        since_s = data.number(status.get("posture_since_s"))
        if since_s is not None:
            st.caption(f"since {display.clock(since_s)}")
    with sitting_col:
        st.metric("Sitting for", display.minutes_text(sitting_s) if sitting else "Not sitting")
        if sitting_since_s is not None:
            st.caption(f"since {display.clock(sitting_since_s)}")
    with sensor_col:
        online = sensor.get("online")
        st.metric("Sensor", "Unknown" if online is None else ("Online" if online else "Offline"))
        placement = data.text(sensor.get("placement")) or data.text(status.get("placement"))
        if placement:
            st.caption(f"worn on the {placement.replace('_', ' ')}")
    with battery_col:
        battery = data.number(sensor.get("battery_pct"))
        st.metric("Battery", "—" if battery is None else f"{battery:.0f} %")
        if rate_hz := data.number(sensor.get("rate_hz")):
            st.caption(f"{rate_hz:.0f} Hz")

    if sitting:
        sitting_bar(sitting_s, max_sitting_s)
    else:
        limit = display.minutes_text(max_sitting_s)
        st.progress(0.0, text=f"Not sitting. A break is due after {limit} of sitting.")
    latest = display.clock(now_s, seconds=True)
    st.caption(f"Latest sample {latest} (device time). Updates every {REFRESH_S} s.")


def sensing_notes(status: dict[str, Any], sensor: dict[str, Any]) -> None:
    """What the sensor can and cannot tell right now: not worn, wrist-only, still learning."""
    placement = (data.text(sensor.get("placement")) or data.text(status.get("placement")) or "").replace("_", " ")
    detects = status.get("detects") if isinstance(status.get("detects"), list) else []
    if status.get("worn") is False:
        st.info(
            "The sensor is not being worn: it has lain still like an object on a desk. Sitting time and "
            "break reminders pause until it is clipped on again.",
            icon=":material/do_not_touch:",
        )
    elif detects and "sitting" not in detects:
        st.info(
            f"Worn on the {placement}, the sensor tells activity from inactivity but not sitting from "
            "standing, so there are no sitting reminders. Wear it on the thigh, hip or back for those.",
            icon=":material/watch:",
        )
    elif not status.get("reference_ready", True) and not status.get("calibrated"):
        st.info(
            "The sensor is still learning your upright posture: walk a few steps, or calibrate below, so "
            "it can tell sitting from standing.",
            icon=":material/directions_walk:",
        )


def calibration(device_id: str, status: dict[str, Any]) -> None:
    """The calibration button: the wearer stands still and upright for a few seconds."""
    with st.expander("Calibrate the sensor", icon=":material/straighten:"):
        st.markdown(
            f"Clip the sensor on, stand upright and still, press the button and keep still for "
            f"{CALIBRATION_S} seconds. sitless then measures your postures from this upright. Without "
            "calibration it learns your upright from the way you walk."
        )
        if status.get("calibrated"):
            st.caption("This sensor has been calibrated.")
        if st.button("Calibrate now", icon=":material/straighten:", key="calibrate"):
            send(device_id, "calibrate", f"Calibrating: stand upright and still for {CALIBRATION_S} seconds.")


def working_hours_note(status: dict[str, Any], now_s: float) -> None:
    """Outside the hours with reminders (working hours, quiet hours), say when reminders begin again."""
    policy = data.status_policy(status)
    if policy is None:
        return
    resume_s = next_working_time(now_s, policy)
    if resume_s > now_s:
        until = "until you set hours in Settings" if math.isinf(resume_s) else f"until {display.clock(resume_s)}"
        st.info(f"Outside your reminder hours: no break reminders {until}.", icon=":material/bedtime:")


def quiet_times(device_id: str, status: dict[str, Any], now_s: float) -> None:
    """Snooze and meeting state, with the button to start or end a meeting."""
    working_hours_note(status, now_s)
    snoozed_until_s = data.number(status.get("snoozed_until_s"))
    meeting_until_s = data.number(status.get("meeting_until_s"))
    if snoozed_until_s is not None and snoozed_until_s > now_s:
        st.info(f"Reminders snoozed until {display.clock(snoozed_until_s)}.", icon=":material/snooze:")
    if meeting_until_s is not None and meeting_until_s > now_s:
        st.info(
            f"In a meeting until {display.clock(meeting_until_s)}: no break reminders until then.",
            icon=":material/groups:",
        )
        if st.button("Meeting over", icon=":material/event_available:", key="meeting_end"):
            send(device_id, "meeting_end", "Meeting over: break reminders are back on.")
    elif data.open_alert(status) is None and st.button(  # an open prompt offers its own "In a meeting (1 h)"
        "In a meeting", icon=":material/groups:", key="meeting", help="Pause break reminders"
    ):
        send(device_id, "meeting", "Break reminders paused for the meeting.")


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    """The live part of the page, redrawn every few seconds."""
    device_id = live_device(settings.store_url)
    if device_id is None:
        prompt.show(None, None)
        no_wearable()
        return
    status = data.live_status(settings.store_url, device_id)
    prompt.show(device_id, status)  # here, not in a fragment of its own: it changes with the tiles
    sensor = data.device_info(settings.store_url, device_id)
    if sensor.get("online") is False:
        st.warning("The wearable is offline: this is its last known state.", icon=":material/sensors_off:")
    now_s = None if status is None else data.number(status.get("t_s"))
    if status is None or now_s is None:
        st.info(
            f"`{device_id}` is connected but no posture has been analysed yet. Is `sitless worker` running?",
            icon=":material/hourglass_top:",
        )
        return
    sensing_notes(status, sensor)
    tiles(status, sensor, now_s)
    quiet_times(device_id, status, now_s)
    calibration(device_id, status)


live()
