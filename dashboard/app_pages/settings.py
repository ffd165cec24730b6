"""Settings: the wearer's reminder limit and hours, the slouch nudge, calibration, devices and data.

The reminder settings go to the analysis worker over MQTT (``ingest.actions.send_settings``,
retained), which stores them and follows them from the next sample on: no restart. The
form shows what the store holds, so it reads back what the worker took in.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from analysis.settings import WEEKDAYS, Placement
from dashboard import data, display
from dashboard.settings import current_settings, selected_device
from ingest.actions import CALIBRATION_S, send_action, send_settings
from ingest.errors import PayloadError, StoreError, TopicError
from ingest.payloads import WearerSettings

#: Hours a new week starts from when the wearer turns working hours on.
DEFAULT_HOURS = (9.0, 17.5)
#: Quiet spans the form offers at least; it shows as many as the settings hold (up to
#: ``WearerSettings.MAX_QUIET``), so that saving drops none unseen.
QUIET_ROWS = 2
SENT_KEY = "settings_sent"

settings = current_settings()
st.title("Settings")


def reminder_form(
    device_id: str, chosen: WearerSettings, reported: str | None, in_bed: tuple[float, float] | None = None
) -> None:
    """Where the sensor is worn, the reminder limit and hours, quiet hours and the slouch nudge; Save sends them.

    ``in_bed`` is the wearer's usual in-bed hours the analysis learned (``LiveStatus.in_bed_hours``), if any.
    """
    with st.form("reminders", border=True):
        st.subheader("The sensor")
        as_reported = f"As the sensor says ({display.placement_label(reported)})" if reported else "As the sensor says"
        options: list[Placement | None] = [None, *Placement]
        placement = st.selectbox(
            "Where you wear it",
            options,
            index=options.index(chosen.placement),
            format_func=lambda p: as_reported if p is None else display.placement_label(str(p)),
            key="placement",
            help="Changing it starts the analysis afresh: the running sitting bout closes.",
        )
        st.subheader("Break reminders")
        limit = st.number_input(
            "Remind me after sitting for (minutes)",
            min_value=5,
            max_value=240,
            value=round(chosen.max_sitting_min),
            step=5,
            help="Sitting this long without a break of a minute or more brings a reminder.",
        )
        by_day = st.toggle("Only in my working hours", value=chosen.weekly_hours is not None, key="by_day")
        st.caption("Days left unticked have no reminders. Working hours apply when the toggle above is on.")
        week = chosen.weekly_hours or (DEFAULT_HOURS,) * 5 + (None, None)
        days: list[tuple[float, float] | None] = []
        for day, hours in zip(WEEKDAYS, week, strict=True):
            tick, start_col, end_col = st.columns([2, 1, 1], vertical_alignment="center")
            on = tick.checkbox(day.capitalize(), value=hours is not None, key=f"day_{day}")
            start, end = hours or DEFAULT_HOURS
            begin = start_col.time_input(
                f"{day.capitalize()}: from", display.time_of_day(start), key=f"from_{day}", step=900
            )
            finish = end_col.time_input(
                f"{day.capitalize()}: to", display.time_of_day(end, end=True), key=f"to_{day}", step=900
            )
            days.append((display.hours_of_day(begin), display.hours_of_day(finish, end=True)) if on else None)
        st.markdown("**Quiet hours** (every day, e.g. lunch)")
        quiet: list[tuple[float, float]] = []
        for i in range(min(max(QUIET_ROWS, len(chosen.quiet_hours)), WearerSettings.MAX_QUIET)):
            tick, start_col, end_col = st.columns([2, 1, 1], vertical_alignment="center")
            given = chosen.quiet_hours[i] if i < len(chosen.quiet_hours) else None
            on = tick.checkbox(f"Quiet span {i + 1}", value=given is not None, key=f"quiet_{i}")
            start, end = given or (12.0, 13.0)
            begin = start_col.time_input(
                f"Quiet {i + 1}: from", display.time_of_day(start), key=f"quiet_from_{i}", step=900
            )
            finish = end_col.time_input(
                f"Quiet {i + 1}: to", display.time_of_day(end, end=True), key=f"quiet_to_{i}", step=900
            )
            if on:
                quiet.append((display.hours_of_day(begin), display.hours_of_day(finish, end=True)))
        st.caption(
            "No reminders in bed either: sitless learns your usual in-bed hours from your nights "
            + (
                f"(so far {display.time_of_day(in_bed[0]):%H:%M} to {display.time_of_day(in_bed[1] % 24):%H:%M})."
                if in_bed is not None
                else "(from the first night it sees; until then a thigh sensor holds reminders while you lie still)."
            )
        )
        st.subheader("Slouch nudge")
        st.caption("Chest and upper-back sensors only: a nudge when you lean forward for 2 minutes.")
        nudge = st.toggle("Nudge me when I slouch", value=chosen.slouch_nudge, key="nudge")
        slouch_deg = st.slider("Leaning forward by more than (degrees)", 5, 60, round(chosen.slouch_deg), key="deg")
        if not st.form_submit_button("Save", icon=":material/save:", type="primary"):
            return
    try:
        wanted = WearerSettings(
            max_sitting_min=float(limit),
            weekly_hours=tuple(days) if by_day else None,
            quiet_hours=tuple(quiet),
            slouch_nudge=nudge,
            slouch_deg=float(slouch_deg),
            placement=placement,
        )
    except PayloadError as err:
        st.error(f"Not saved: {err}", icon=":material/error:")
        return
    try:
        send_settings(settings.broker, device_id, wanted)
    except (ConnectionError, TopicError) as err:
        st.error(f"Could not reach the sitless hub: {err}", icon=":material/cloud_off:")
        return
    st.session_state[SENT_KEY] = (device_id, wanted)
    st.toast("Settings sent: the worker follows them from now on.", icon=":material/check_circle:")


@st.fragment(run_every=2)
def in_force(device_id: str) -> None:
    """Whether the worker has taken in what was last sent from here (it stores what it follows)."""
    sent = st.session_state.get(SENT_KEY)
    if sent is None or sent[0] != device_id:
        return
    if data.wearer_settings(settings.store_url, device_id) == sent[1]:
        st.success("Saved and in force.", icon=":material/check_circle:")
    else:
        st.info("Sent; waiting for the analysis worker to take them in.", icon=":material/hourglass_top:")


def calibration(device_id: str, status: dict[str, Any]) -> None:
    """A short calibration wizard: the upright reference from a still stand."""
    with st.container(border=True):
        st.subheader("Calibrate the sensor")
        st.markdown(
            "1. Wear the sensor where and how you will wear it every day.\n"
            "2. Stand up straight, arms relaxed, feet apart, looking ahead.\n"
            f"3. Press **Calibrate** and keep still for {CALIBRATION_S} seconds."
        )
        st.caption(
            "Without a calibration sitless learns your upright from your first walk; calibrating "
            "makes the first minutes right and helps when the sensor sits at an angle."
        )
        if status.get("calibrated"):
            st.success("This sensor has been calibrated.", icon=":material/straighten:")
        if st.button("Calibrate", icon=":material/straighten:", key="settings_calibrate"):
            try:
                send_action(settings.broker, device_id, "calibrate")
            except (ConnectionError, TopicError) as err:
                st.error(f"Could not reach the sitless hub: {err}", icon=":material/cloud_off:")
            else:
                st.info(f"Calibrating: stand upright and still for {CALIBRATION_S} seconds.", icon=":material/timer:")


def devices() -> None:
    """Every wearable the store knows, with its link, battery and last word."""
    st.subheader("Devices")
    rows = []
    for device_id, s in data.devices(settings.store_url).items():
        last = data.number(s.get("t_s"))
        online = s.get("online")
        rows.append(
            {
                "device": device_id,
                "link": "-" if online is None else ("online" if online else "offline"),
                "battery %": data.number(s.get("battery_pct")),
                "rate (Hz)": data.number(s.get("rate_hz")),
                "placement": data.text(s.get("placement")) or "-",
                "signal (dBm)": data.number(s.get("rssi_dbm")),
                "last seen": "-" if last is None else display.clock(last),
                "firmware": data.text(s.get("firmware")) or "-",
            }
        )
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(
        "The placement is set where the sensor is started: `sitless sim --placement`, or "
        "`sitless gateway --device ADDRESS,placement=thigh`."
    )


def your_data(device_id: str) -> None:
    """Export a wearable's data (everything, or its events), or delete everything stored about it."""
    st.subheader("Your data")
    st.caption(f"Everything sitless knows stays on this computer, in the store `{settings.store_url}`.")
    packets, samples = data.stored_size(settings.store_url, device_id)
    fits = samples <= data.EXPORT_MAX_SAMPLES
    if not fits:
        st.info(
            f"{samples:,} samples are stored ({packets:,} packets): too many to build here. Export everything "
            f"from a terminal:\n\n`sitless export --store {settings.store_url} --device {device_id}`",
            icon=":material/terminal:",
        )
    with st.container(horizontal=True):
        if fits:
            st.download_button(
                "Export everything (ZIP)",
                data=lambda: data.full_export(settings.store_url, device_id),  # built when clicked
                file_name=f"sitless-{device_id}.zip",
                mime="application/zip",
                icon=":material/folder_zip:",
                help="The samples as CSV (t, ax, ay, az: `sitless analyze` reads them again), the events, "
                "the settings and the live status.",
                key="export_all",
            )
        st.download_button(
            "Export events (JSON Lines)",
            data=data.events_export(settings.store_url, device_id),
            file_name=f"sitless-{device_id}-events.jsonl",
            mime="application/jsonl",
            icon=":material/download:",
            key="export_events",
        )
    with st.expander("Delete this wearable's data"):
        st.warning(
            "This deletes every stored packet, event, setting and status of "
            f"**{device_id}**, and the status and settings the MQTT broker keeps for it. It cannot be "
            "undone. If the sensor is still streaming, new data "
            "is stored again from now on: stop the sensor first to keep nothing.",
            icon=":material/delete_forever:",
        )
        typed = st.text_input(f"Type {device_id} to confirm", key="delete_confirm")
        store_alone = st.checkbox(
            "From the store alone",
            key="delete_store_alone",
            help="Leave the broker's retained status and settings (as `sitless delete --no-broker`): "
            "for a broker that is gone for good.",
        )
        if st.button("Delete", icon=":material/delete:", disabled=typed != device_id, key="delete"):
            _delete(device_id, store_alone=store_alone)


def _delete(device_id: str, *, store_alone: bool) -> None:
    """Delete as `sitless delete` does: a broker out of reach deletes nothing, unless asked for the store alone."""
    try:
        deleted = data.delete_wearer(settings.store_url, device_id, None if store_alone else settings.broker)
    except (ConnectionError, TopicError) as err:
        st.error(
            f"Nothing deleted: {err}. Tick *From the store alone* to delete the stored data and leave "
            "the broker's retained status and settings.",
            icon=":material/error:",
        )
        return
    except StoreError as err:
        done = "" if store_alone else " (the broker's retained status and settings are deleted)"
        st.error(f"Nothing deleted from the store{done}: {err}", icon=":material/error:")
        return
    st.session_state.pop(SENT_KEY, None)
    where = "" if store_alone else ", and its status and settings from the broker"
    st.success(f"Deleted {deleted} stored rows of {device_id}{where}.", icon=":material/check_circle:")


device = selected_device()
if device is None:
    st.info(
        "No wearable yet: start the simulator (`sitless demo`) or connect a sensor, and its settings appear here.",
        icon=":material/sensors_off:",
    )
    devices()
    st.stop()
chosen = data.wearer_settings(settings.store_url, device) or WearerSettings()
reminder_form(
    device,
    chosen,
    data.text(data.device_info(settings.store_url, device).get("placement")),
    data.number_pair((data.live_status(settings.store_url, device) or {}).get("in_bed_hours")),
)
in_force(device)
calibration(device, data.live_status(settings.store_url, device) or {})
devices()
your_data(device)
