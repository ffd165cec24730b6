"""A store holding odd values: every page still draws, showing what it cannot place as unknown.

The worker and the recorder refuse times outside 0..2**32 s at intake (``ingest.codec.MAX_T_S``),
but a store written before that, by an import, or by hand may hold them, and malformed
events or a non-finite number in a live status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data, display
from dashboard.settings import DEVICE_KEY
from ingest.store import Store
from tests.dashboard.office_morning import DEVICE, at

PAGES = ["now", "today", "programme", "session", "settings", "progress", "day", "about"]
OTHER = "desk-08"
#: A clock counting milliseconds, and one far before 1970.
ODD_TIMES_S = [1.7e12, -1e11]


def page_app(make_app: Callable[..., AppTest], url: str, page: str, device: str = DEVICE) -> AppTest:
    """The dashboard on ``page`` with ``device`` picked in the sidebar."""
    app = make_app(url)
    app.session_state[DEVICE_KEY] = device
    app.switch_page(f"app_pages/{page}.py").run()
    return app


def test_a_time_that_cannot_be_shown_reads_unknown() -> None:
    """A time in milliseconds, one before 1970 or NaN reads "—"; a good one reads as before."""
    for odd in (1.7e12, -1e11, float("nan"), float("inf")):
        assert display.clock(odd) == "—"
        assert display.local_datetime(odd) is None
    assert display.clock(at(9, 5)) == "09:05"


def test_a_duration_that_is_not_a_number_reads_unknown() -> None:
    """A NaN duration reads "—"; a negative sitting time fills no bar."""
    assert display.minutes_text(float("nan")) == "—"
    assert display.sitting_progress(-60.0, 1800.0).fraction == 0.0
    assert display.sitting_progress(float("nan"), 1800.0).fraction == 0.0


@pytest.mark.parametrize("t_s", ODD_TIMES_S)
@pytest.mark.parametrize("page", PAGES)
def test_an_odd_device_status_time_does_not_crash_a_page(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], store_url: str, page: str, t_s: float
) -> None:
    """A wearable whose status is timed in milliseconds or before 1970, picked in the sidebar, crashes no page."""
    url = morning_store()
    with Store(store_url) as store:
        store.set_device_status(OTHER, {"online": True, "t_s": t_s})
    app = page_app(make_app, url, page, OTHER)
    assert not app.exception


def test_the_devices_table_shows_an_odd_last_seen_as_unknown(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], store_url: str
) -> None:
    """Another wearable's odd status time crashes no Settings page: it is listed, last seen "—"."""
    url = morning_store()
    with Store(store_url) as store:
        store.set_device_status(OTHER, {"online": True, "t_s": 1.7e12})
    app = page_app(make_app, url, "settings")
    rows = {r["device"]: r for r in app.dataframe[-1].value.to_dict("records")}
    assert rows[OTHER]["last seen"] == "—"


@pytest.mark.parametrize("now_s", ODD_TIMES_S)
@pytest.mark.parametrize("page", PAGES)
def test_a_live_status_at_an_odd_time_does_not_crash_a_page(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], page: str, now_s: float
) -> None:
    """Packets timed in milliseconds (or before 1970) analysed into a live status crash no page."""
    url = morning_store(now_s=now_s, sitting_since_s=now_s - 60, posture_since_s=now_s - 60, sitting_s=60.0)
    assert not page_app(make_app, url, page).exception


@pytest.mark.parametrize("page", PAGES)
def test_a_stored_bout_ending_at_an_odd_time_does_not_crash_a_page(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], store_url: str, page: str
) -> None:
    """A posture bout and a sitting bout ending in the year 30 million crash no page."""
    url = morning_store()
    with Store(store_url) as store:
        store.add_events(
            DEVICE,
            [
                {"kind": "posture_bout", "start_s": at(8, 0), "end_s": 1e15, "posture": "sitting"},
                {"kind": "sitting_bout", "start_s": at(8, 0), "end_s": 1e15},
            ],
        )
    assert not page_app(make_app, url, page).exception


@pytest.mark.parametrize("alert", [{"alert": "sit_too_long", "stretch_id": "squat"}, "yes", 1, {"t_s": "soon"}])
@pytest.mark.parametrize("page", PAGES)
def test_an_open_alert_without_a_time_does_not_crash_a_page(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], page: str, alert: Any
) -> None:
    """An open alert with no usable ``t_s`` is no open alert: no prompt, and the page draws."""
    app = page_app(make_app, morning_store(open_alert=alert), page)
    assert not app.exception
    assert "alert_done" not in {b.key for b in app.button}


ODD_EVENTS: list[dict[str, Any]] = [
    {"kind": "alert", "start_s": at(10, 0)},
    {"kind": "alert", "t_s": at(10, 5), "repeat": "twice", "sitting_since_s": "earlier"},
    {"kind": "action", "t_s": at(10, 1)},
    {"kind": "posture_bout", "start_s": at(10, 0), "posture": "sitting"},
    {"kind": "sitting_bout", "start_s": at(10, 0), "end_s": "later"},
    {"kind": "break", "start_s": at(10, 0)},
    {"kind": "exercise", "exercise": "squat", "start_s": at(9, 2), "end_s": at(9, 3), "reps": "ten"},
]


@pytest.mark.parametrize("odd", ODD_EVENTS, ids=lambda e: f"{e['kind']}-{sorted(e)}")
@pytest.mark.parametrize("page", ["today", "day", "progress", "programme"])
def test_one_malformed_event_does_not_crash_the_day(
    make_app: Callable[..., AppTest],
    morning_store: Callable[..., str],
    store_url: str,
    odd: dict[str, Any],
    page: str,
) -> None:
    """An event missing a field, or with a word for a number, is left out; the rest of the day shows."""
    url = morning_store()
    with Store(store_url) as store:
        store.add_events(DEVICE, [odd])
    app = page_app(make_app, url, page)
    assert not app.exception


def test_a_malformed_event_is_left_out_and_the_rest_counted(morning_store: Callable[..., str], store_url: str) -> None:
    """With a malformed alert, action and bout stored, Today still counts the morning's one alert, answered."""
    url = morning_store()
    with Store(store_url) as store:
        store.add_events(DEVICE, ODD_EVENTS)
    alerts = data.alerts_today(url, DEVICE)
    assert list(alerts["response"]) == ["Done"]
    assert data.summary_today(url, DEVICE).sitting_bouts == 2


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("key", ["t_s", "sitting_s", "sitting_since_s", "posture_since_s", "max_sitting_s"])
def test_a_nan_in_the_live_status_does_not_crash_a_page(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], page: str, key: str
) -> None:
    """A NaN in the worker's live status is dropped when it is read: every page draws."""
    app = page_app(make_app, morning_store(**{key: float("nan")}), page)
    assert not app.exception


def test_a_negative_sitting_time_does_not_crash_now(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """A sitting bout of -60 s shows an empty bar."""
    app = page_app(make_app, morning_store(sitting_s=-60.0), "now")
    assert not app.exception


def test_non_finite_numbers_are_dropped_from_the_live_status(morning_store: Callable[..., str]) -> None:
    """NaN and infinity, also inside the open alert, are read as absent; the rest is kept."""
    url = morning_store(sitting_s=float("nan"), snoozed_until_s=float("inf"), open_alert={"t_s": float("nan")})
    status = data.live_status(url, DEVICE) or {}
    assert "sitting_s" not in status
    assert "snoozed_until_s" not in status
    assert status["open_alert"] == {}
    assert status["t_s"] == at(10, 30)
