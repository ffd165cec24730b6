"""The Now page: posture, the sitting clock, the sensor, and the break prompt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import display
from ingest.mqtt import BrokerAddress
from ingest.store import Store
from tests.dashboard.office_morning import at

OPEN_ALERT = {
    "t_s": at(10, 33),
    "alert": "sit_too_long",
    "sitting_since_s": at(10, 3),
    "repeat": 0,
    "stretch_id": "squat",
}


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def texts(app: AppTest) -> str:
    """Every message, markdown and caption on the page, joined."""
    parts = [
        e.value for kind in ("error", "warning", "info", "success", "markdown", "caption") for e in getattr(app, kind)
    ]
    return "\n".join(str(p) for p in parts)


@pytest.mark.both_stores
def test_empty_store_says_how_to_start_a_wearable(make_app: Callable[..., AppTest], store_url: str) -> None:
    """With no store yet, the page explains that no wearable has sent data and names `sitless demo`."""
    app = make_app(store_url)
    assert not app.exception
    message = " ".join(i.value for i in app.info)
    assert "No wearable has sent data yet" in message
    assert "sitless demo" in message
    assert not app.metric


@pytest.mark.both_stores
def test_sitting_shows_posture_minutes_and_sensor(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """At 10:30 the wearer has sat for 27 min: no prompt yet, progress towards 30 min."""
    app = make_app(morning_store())
    assert not app.exception
    assert metrics(app) == {
        "Posture": "Sitting",
        "Sitting for": "27 min",
        "Sensor": "Online",
        "Battery": "83 %",
    }
    assert "Time for a break" not in texts(app)
    assert [b.label for b in app.button] == ["In a meeting", "Calibrate now"]
    progress = app.get("progress")[0]
    assert "27 min of 30 min" in progress.proto.text


def test_open_alert_shows_the_break_prompt_with_the_stretch(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """An open alert at 10:36 asks for a break after 33 min and suggests the squat with how-to."""
    app = make_app(morning_store(at(10, 36), open_alert=OPEN_ALERT))
    assert not app.exception
    assert "Time for a break:** you have been sitting for 33 min" in app.warning[0].value
    page = texts(app)
    assert "Suggested exercise: Squat" in page
    assert "sit back until you just touch the seat" in page  # the desk version: no floor at the office
    assert {"Done", "Snooze 10 min", "In a meeting (1 h)", "Dismiss"} <= {b.label for b in app.button}


def test_sitting_past_the_limit_shows_as_overdue(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """At 51 min of a 30 min limit the bar is full and says 21 min over, in the overdue colour, not 51 of 30."""
    app = make_app(morning_store(at(10, 54)))
    assert not app.exception
    progress = app.get("progress")[0]
    assert "21 min over your 30 min limit" in progress.proto.text
    assert ":red[" in progress.proto.text
    assert "51 min of 30 min" not in progress.proto.text
    assert progress.proto.value == 100
    assert any(h.proto.body == display.OVERDUE_BAR_STYLE for h in app.get("html"))
    # Within the limit the bar keeps its plain look.
    within = make_app(morning_store(at(10, 30)))
    assert not any(h.proto.body == display.OVERDUE_BAR_STYLE for h in within.get("html"))


def test_not_sitting_has_no_sitting_clock(make_app: Callable[..., AppTest], morning_store: Callable[..., str]) -> None:
    """Walking: the posture tile says so and the sitting tile reads 'Not sitting'."""
    url = morning_store(posture="walking", posture_since_s=at(10, 29), sitting_since_s=None, sitting_s=0.0)
    app = make_app(url)
    assert metrics(app)["Posture"] == "Walking"
    assert metrics(app)["Sitting for"] == "Not sitting"


def test_learning_snoozed_and_meeting_are_explained(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """Learning the upright reference, snoozed and in a meeting: the page says so, and until when."""
    url = morning_store(reference_ready=False, snoozed_until_s=at(10, 40), meeting_until_s=at(11, 0))
    app = make_app(url)
    page = texts(app)
    assert "still learning your upright posture" in page
    assert "walk a few steps" in page
    assert "snoozed until 10:40" in page
    assert "In a meeting until 11:00" in page
    assert [b.label for b in app.button] == ["Meeting over", "Calibrate now"]


def test_outside_working_hours_says_when_reminders_resume(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """At 10:30 with reminders from 11:00 to 17:30 the page says they wait; inside the hours it says nothing."""
    offset = datetime.fromtimestamp(at(10, 30)).astimezone().utcoffset()
    assert offset is not None
    local = {"utc_offset_h": offset.total_seconds() / 3600}
    page = texts(make_app(morning_store(working_hours=[11.0, 17.5], **local)))
    assert "Outside your reminder hours: no break reminders until 11:00." in page
    assert "Outside your reminder" not in texts(make_app(morning_store(working_hours=[9.0, 17.5], **local)))
    # The wearer's own hours (Settings): quiet from 10:00 to 10:45 on every day.
    quiet = texts(make_app(morning_store(quiet_hours=[[10.0, 10.75]], **local)))
    assert "Outside your reminder hours: no break reminders until 10:45." in quiet
    # No hours on any day: reminders are off until the wearer sets some.
    off = texts(make_app(morning_store(weekly_hours=[None] * 7, **local)))
    assert "no break reminders until you set hours in Settings" in off


@pytest.mark.both_stores
def test_device_without_analysis_asks_for_the_worker(make_app: Callable[..., AppTest], store_url: str) -> None:
    """A wearable that has published its status but has no analysis yet is named, with a hint."""
    with Store(store_url) as store:
        store.set_device_status("desk-09", {"online": False, "battery_pct": 12})
    app = make_app(store_url)
    assert not app.exception
    page = texts(app)
    assert "`desk-09` is connected but no posture has been analysed yet" in page
    assert "offline" in page


def test_snooze_with_no_broker_shows_an_error(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """Clicking Snooze when the broker is down says the hub cannot be reached instead of failing."""
    app = make_app(morning_store(at(10, 36), open_alert=OPEN_ALERT), broker_url="mqtt://127.0.0.1:9")
    app.button(key="alert_snooze").click().run()
    assert not app.exception
    assert any("Could not reach the sitless hub" in e.value for e in app.error)
    assert not app.toast


def test_a_sensor_on_the_desk_says_it_is_not_worn(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """Non-wear: the posture reads 'Not worn' and the page says reminders pause."""
    url = morning_store(posture="nonwear", worn=False, sitting_since_s=None, sitting_s=0.0)
    app = make_app(url)
    assert not app.exception
    assert metrics(app)["Posture"] == "Not worn"
    assert "not being worn" in texts(app)


def test_a_wrist_sensor_says_what_it_cannot_tell(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """On the wrist the page says there are no sitting reminders, and why."""
    url = morning_store(posture="other", detects=["walking", "other", "nonwear"], placement="wrist")
    app = make_app(url)
    assert not app.exception
    assert "activity from inactivity but not sitting from standing" in texts(app)


def test_calibrate_asks_the_wearer_to_stand_still(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], embedded_broker: BrokerAddress
) -> None:
    """The calibrate button sends the action through the broker and says what to do."""
    app = make_app(morning_store(), broker_url=embedded_broker.url)
    app.button(key="calibrate").click().run()
    assert not app.exception
    assert "stand upright and still for 5 seconds" in " ".join(str(t.value) for t in app.toast)
