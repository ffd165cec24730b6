"""The break prompt, on every page: an open sit-too-long alert asks the wearer to stand up.

``dashboard/app.py`` calls :func:`break_prompt` once, before the page it shows, so the
prompt appears on every page. It is a fragment that reads the worker's live status
(:func:`dashboard.data.live_status`) every :data:`REFRESH_S` seconds, without reloading
the page. The Now page, whose live tiles show the same status, draws it with
:func:`show` inside its own live fragment instead, so that the prompt and the tiles
change together. While the status holds an open alert (``open_alert``), the prompt shows:

- a message that grows more insistent with the alert's ``repeat``
  (:func:`dashboard.display.break_prompt_wording`), and the suggested stretch;
- the answers *Done*, *Snooze 10 min*, *In a meeting (1 h)* and *Dismiss*, sent to the
  worker as user actions (:func:`ingest.actions.send_action`);
- the browser tab's title and icon changed, back to normal once the alert is answered.
  ``st.set_page_config`` "can be called multiple times in a script run to dynamically
  change the page configuration" (Streamlit API reference, st.set_page_config,
  https://docs.streamlit.io/develop/api-reference/configuration/st.set_page_config),
  a fragment's run included; the alert icon is drawn here, so it needs no download;
- with :func:`notify_toggle` on, once per alert (keyed on its wearable and ``t_s``), a
  short chime and a desktop notification through the browser's Notification API, from a
  script that ``st.html(..., unsafe_allow_javascript=True)`` runs in the page itself, not
  in an iframe (Streamlit API reference, st.html).

The worker closes the alert itself when the sitting bout ends (a real break, taken
without pressing anything): the prompt then goes away on the next refresh. *Done*
pressed while the sensor still sees sitting is logged, and the prompt says so gently
until the wearer stands up or the next reminder comes.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import struct
import wave
import zlib
from typing import Any, Literal

import numpy as np
import streamlit as st
from numpy.typing import NDArray

from analysis import UserAction
from dashboard import data, display
from dashboard.settings import current_settings, selected_device
from ingest.actions import send_action
from ingest.errors import StoreError, TopicError

__all__ = [
    "ANSWERED_KEY",
    "NOTIFY_KEY",
    "REFRESH_S",
    "SEEN_KEY",
    "STILL_SITTING",
    "alert_favicon",
    "break_prompt",
    "chime_wav",
    "notify_toggle",
    "show",
]

REFRESH_S = 2
DEFAULT_MAX_SITTING_S = 1800.0
#: Session state: the wearer wants a chime and a desktop notification for each new alert.
NOTIFY_KEY = "notify"
#: Session state: ``(device_id, t_s)`` of the last alert this browser session has seen.
SEEN_KEY = "prompt_seen_alert"
#: Session state: the answer given here, ``{"device_id", "t_s", "action", "sitting_since_s"}``, until the
#: worker applies it. Keyed on the wearable as well as ``t_s``: two wearables may raise alerts at the same instant.
ANSWERED_KEY = "prompt_answered"
_ASK_PERMISSION_KEY = "prompt_ask_permission"
_TOAST_KEY = "prompt_toast"
_FAILED_KEY = "prompt_failed"

NORMAL_TITLE = "sitless"
NORMAL_ICON = ":material/chair:"
STILL_SITTING = "Logged. The sensor still sees you sitting: stand up for a minute to take the break."

_ANSWERS: dict[UserAction, str] = {
    UserAction.DONE: "Break logged. Well done!",
    UserAction.SNOOZE: "Snoozed: the reminder comes back in 10 minutes.",
    UserAction.MEETING: "In a meeting: no break reminders for an hour.",
    UserAction.DISMISS: "Reminder dismissed: the next one comes in 10 minutes if you stay seated.",
}
_BUTTONS: tuple[tuple[UserAction, str, str, Literal["primary", "secondary"]], ...] = (
    (UserAction.DONE, "Done", ":material/check:", "primary"),
    (UserAction.SNOOZE, "Snooze 10 min", ":material/snooze:", "secondary"),
    (UserAction.MEETING, "In a meeting (1 h)", ":material/groups:", "secondary"),
    (UserAction.DISMISS, "Dismiss", ":material/close:", "secondary"),
)
# The most insistent prompt (level 2) has a thick border in the overdue colour.
_STYLE = f"""<style>
.st-key-break_prompt_2 {{ border: 3px solid {display.OVERDUE_COLOUR} !important; }}
</style>"""


def chime_wav(rate_hz: int = 8000) -> bytes:
    """A short, soft two-note chime (880 Hz then 660 Hz, 0.18 s each) as a mono 16-bit WAV file.

    Args:
        rate_hz: Sample rate, Hz.

    Returns:
        The WAV file's bytes (about 6 kB at 8 kHz).

    >>> chime_wav()[:4], len(chime_wav()) > 5000
    (b'RIFF', True)
    """
    note_s = 0.18
    t = np.arange(round(note_s * rate_hz), dtype=np.float64) / rate_hz
    envelope = np.sin(np.pi * t / note_s) ** 2  # rises and falls smoothly: no click at either end
    notes = [np.sin(2 * np.pi * f_hz * t) * envelope for f_hz in (880.0, 660.0)]
    samples = (np.concatenate(notes) * 0.4 * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate_hz)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@functools.cache
def alert_favicon(size_px: int = 32) -> bytes:
    """The tab icon while an alert is open: a white "!" on an orange disc, drawn here so it needs no download.

    Returns:
        A PNG image, ``size_px`` square, with a transparent background.

    >>> alert_favicon()[1:4]
    b'PNG'
    """
    centre = (size_px - 1) / 2.0
    y, x = np.mgrid[0:size_px, 0:size_px].astype(np.float64)
    r = np.hypot(x - centre, y - centre)
    image = np.zeros((size_px, size_px, 4), dtype=np.uint8)
    disc = r <= size_px / 2.0 - 0.5
    image[disc] = (*_rgb(display.OVERDUE_COLOUR), 255)
    bar = np.abs(x - centre) <= size_px * 0.07
    stem = bar & (y >= size_px * 0.2) & (y <= size_px * 0.6)
    dot = (np.hypot(x - centre, y - size_px * 0.76) <= size_px * 0.08) & disc
    image[stem | dot] = (255, 255, 255, 255)
    return _png(image)


def _png(rgba: NDArray[np.uint8]) -> bytes:
    """An RGBA image, shape ``(h, w, 4)``, as a PNG file (PNG specification, ISO/IEC 15948:2004)."""
    height, width = rgba.shape[:2]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + rgba[i].tobytes() for i in range(height))  # filter type 0 on each row
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _rgb(colour: str) -> tuple[int, int, int]:
    """``"#e4572e"`` as ``(228, 87, 46)``."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _ask_permission() -> None:
    """The toggle changed: ask the browser for notifications on the next run if it was switched on."""
    st.session_state[_ASK_PERMISSION_KEY] = bool(st.session_state.get(NOTIFY_KEY))


def notify_toggle() -> None:
    """The sidebar toggle for the chime and desktop notification; switching it on asks the browser's permission."""
    st.toggle(
        "Notify me (sound and desktop notification)",
        key=NOTIFY_KEY,
        on_change=_ask_permission,
        help="A short chime and a desktop notification when a break reminder comes, once per reminder.",
    )
    if st.session_state.pop(_ASK_PERMISSION_KEY, False):
        st.html(
            "<script>if ('Notification' in window && Notification.permission === 'default') "
            "{ Notification.requestPermission(); }</script>",
            unsafe_allow_javascript=True,
        )


def _notify(device_id: str, alert_t_s: float, body: str) -> None:
    """Play the chime and show a desktop notification (if the browser allows it) for one alert."""
    tag = f"sitless-{device_id}-{alert_t_s:.0f}"
    sound = "data:audio/wav;base64," + base64.b64encode(chime_wav()).decode()
    st.html(
        f"""<script>
(() => {{
  new Audio({json.dumps(sound)}).play().catch(() => {{}});
  if ("Notification" in window && Notification.permission === "granted") {{
    new Notification({json.dumps(display.ALERT_TITLE)}, {{body: {json.dumps(body)}, tag: {json.dumps(tag)}}});
  }}
}})();
</script>""",
        unsafe_allow_javascript=True,
    )


def _on_answer(device_id: str, action: UserAction, alert_t_s: float, sitting_since_s: float | None) -> None:
    """A button of the prompt was pressed: send the answer, and remember it so the prompt goes at once.

    Runs as the button's callback, before the fragment redraws, so that the redrawn
    fragment no longer shows the answered alert although the worker has not yet saved
    its next status. ``sitting_since_s`` is the running sitting bout's start when the
    wearer answered while seated, else None.
    """
    try:
        send_action(current_settings().broker, device_id, str(action))
    except (ConnectionError, TopicError) as err:
        st.session_state[_FAILED_KEY] = f"Could not reach the sitless hub: {err}"
        return
    st.session_state[ANSWERED_KEY] = {
        "device_id": device_id,
        "t_s": alert_t_s,
        "action": str(action),
        "sitting_since_s": sitting_since_s,
    }
    still_sitting = action is UserAction.DONE and sitting_since_s is not None
    st.session_state[_TOAST_KEY] = STILL_SITTING if still_sitting else _ANSWERS[action]


def _prompt(device_id: str, status: dict[str, Any], alert: dict[str, Any]) -> None:
    """The prompt itself: the message at its level, the stretch and the four answers."""
    alert_t_s = float(alert["t_s"])
    since_alert_s = data.number(alert.get("sitting_since_s")) or alert_t_s
    sitting_s = data.number(status.get("sitting_s")) or alert_t_s - since_alert_s
    max_sitting_s = data.number(status.get("max_sitting_s")) or DEFAULT_MAX_SITTING_S
    wording = display.break_prompt_wording(int(data.number(alert.get("repeat")) or 0), sitting_s, max_sitting_s)
    since_s = data.number(status.get("sitting_since_s")) if status.get("posture") == "sitting" else None
    with st.container(border=True, key=f"break_prompt_{wording.level}"):
        if wording.level == 0:
            st.warning(wording.text, icon=":material/directions_walk:")
        else:
            st.error(wording.text, icon=":material/warning:" if wording.level >= 2 else ":material/directions_walk:")
        howto = display.stretch_howto(alert.get("stretch_id"))
        if howto is not None:
            name, text = howto
            st.markdown(f"**Suggested exercise: {name}**  \n{text}")
        if failed := st.session_state.pop(_FAILED_KEY, None):
            st.error(failed, icon=":material/cloud_off:")
        buttons = st.columns([1, 1.3, 1.3, 1, 1])  # "Snooze 10 min" whole at 1280 px
        for column, (action, label, icon, kind) in zip(buttons, _BUTTONS, strict=False):
            column.button(
                label,
                type=kind,
                icon=icon,
                key=f"alert_{action}",
                width="stretch",
                on_click=_on_answer,
                args=(device_id, action, alert_t_s, since_s),
            )


def _answered_here(device_id: str) -> dict[str, Any] | None:
    """The answer given here to an alert of this wearable, until the worker applies it; None without one."""
    answered = st.session_state.get(ANSWERED_KEY)
    return answered if isinstance(answered, dict) and answered.get("device_id") == device_id else None


def _still_sitting(device_id: str, status: dict[str, Any]) -> bool:
    """Done was pressed here while this wearable sat, and the same sitting bout still runs."""
    answered = _answered_here(device_id)
    return (
        answered is not None
        and answered.get("action") == str(UserAction.DONE)
        and answered.get("sitting_since_s") is not None
        and answered.get("sitting_since_s") == status.get("sitting_since_s")
    )


@st.fragment(run_every=REFRESH_S)
def break_prompt() -> None:
    """The break prompt for the wearable picked in the sidebar, redrawn every :data:`REFRESH_S` seconds.

    A page whose own live part shows the same status (the Now page) draws the prompt
    there instead, with :func:`show`: two fragments refresh on timers of their own, so
    the prompt would trail that page's tiles by up to a refresh.
    """
    device_id = selected_device()
    status: dict[str, Any] | None = None
    if device_id is not None:
        try:
            status = data.live_status(current_settings().store_url, device_id)
        except StoreError:
            status = None  # the page says what is wrong with the store
    show(device_id, status)


def show(device_id: str | None, status: dict[str, Any] | None) -> None:
    """Draw the break prompt for ``status``, the live status of ``device_id`` (None: none read).

    Without an open alert it draws nothing but the note that the sensor still sees the
    wearer sitting after *Done*, and puts the tab's title and icon back.
    """
    if (message := st.session_state.pop(_TOAST_KEY, None)) is not None:
        st.toast(message, icon=":material/check_circle:")
    alert = data.open_alert(status)
    answered = None if device_id is None else _answered_here(device_id)
    if alert is not None and answered is not None and answered.get("t_s") == float(alert["t_s"]):
        alert = None  # answered here; the worker has not saved its next status yet
    if device_id is None or status is None or alert is None:
        st.set_page_config(page_title=NORMAL_TITLE, page_icon=NORMAL_ICON)
        if device_id is not None and status is not None and _still_sitting(device_id, status):
            st.info(STILL_SITTING, icon=":material/chair:")
        return
    if answered is not None:
        st.session_state.pop(ANSWERED_KEY)  # a newer alert of this wearable: the answer is applied
    st.set_page_config(page_title=display.ALERT_TITLE, page_icon=alert_favicon())
    st.html(_STYLE)
    _prompt(device_id, status, alert)
    alert_t_s = float(alert["t_s"])
    if st.session_state.get(SEEN_KEY) != (device_id, alert_t_s):
        st.session_state[SEEN_KEY] = (device_id, alert_t_s)
        if st.session_state.get(NOTIFY_KEY):
            sat = display.minutes_text(data.number(status.get("sitting_s")) or 0.0)
            _notify(device_id, alert_t_s, f"You have been sitting for {sat}. Stand up and stretch.")
