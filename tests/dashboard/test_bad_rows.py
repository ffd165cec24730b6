"""A store row that a hand edit, an import or an older version left unreadable: every page still draws.

Each case writes one bad row with sqlite3, behind the store's back, into the morning at
the desk of a wearable picked in the sidebar, beside a second, good wearable. The row
reads as absent, or its field of the wrong type as unknown; both wearables are listed,
and the morning's reminder is still on the Day page.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.settings import DEVICE_KEY
from ingest.store import Store, parse_store_url
from tests.dashboard.office_morning import DEVICE, at, live_status

PAGES = ["now", "today", "programme", "session", "settings", "progress", "day", "about"]
OTHER = "desk-08"

WRONG_DEVICE_STATUS = {
    "online": "yes",
    "battery_pct": "full",
    "rate_hz": "fast",
    "placement": 5,
    "firmware": [1],
    "rssi_dbm": "loud",
    "t_s": "now",
}
WRONG_LIVE_STATUS = {
    **live_status(at(10, 30)),
    "posture": 5,
    "posture_since_s": [],
    "sitting_since_s": "earlier",
    "sitting_s": "long",
    "max_sitting_s": "x",
    "open_alert": "yes",
    "snoozed_until_s": "later",
    "meeting_until_s": {},
    "placement": ["thigh"],
    "reference_ready": "no",
    "detects": 5,
    "weekly_hours": "9-5",
    "quiet_hours": 3,
    "in_bed_hours": "night",
    "slouch_deg": "deep",
}
#: An open alert whose fields are of the wrong type: the break prompt is drawn on every page.
WRONG_ALERT = {
    **live_status(at(10, 30)),
    "sitting_s": "long",
    "open_alert": {"t_s": at(10, 25), "repeat": "twice", "sitting_since_s": "earlier", "stretch_id": 5},
}
ONE_BOUT = "WHERE rowid = (SELECT min(rowid) FROM events WHERE kind = 'posture_bout')"

#: ``(case, statement, parameters)``: one bad row each.
BAD_ROWS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("status-not-json", "UPDATE devices SET status = '{not json' WHERE device_id = ?", (DEVICE,)),
    ("status-list", "UPDATE devices SET status = '[1, 2, 3]' WHERE device_id = ?", (DEVICE,)),
    ("status-null", "UPDATE devices SET status = 'null' WHERE device_id = ?", (DEVICE,)),
    (
        "status-wrong-types",
        "UPDATE devices SET status = ? WHERE device_id = ?",
        (json.dumps(WRONG_DEVICE_STATUS), DEVICE),
    ),
    ("live-not-json", "UPDATE worker_status SET status = '{oops'", ()),
    ("live-list", "UPDATE worker_status SET status = '[]'", ()),
    (
        "live-time-text",
        "UPDATE worker_status SET status = ?",
        (json.dumps({**live_status(at(10, 30)), "t_s": "10:30"}),),
    ),
    ("live-wrong-types", "UPDATE worker_status SET status = ?", (json.dumps(WRONG_LIVE_STATUS),)),
    ("live-wrong-alert", "UPDATE worker_status SET status = ?", (json.dumps(WRONG_ALERT),)),
    ("event-not-json", f"UPDATE events SET body = '{{x' {ONE_BOUT}", ()),
    ("event-list", f"UPDATE events SET body = '[1]' {ONE_BOUT}", ()),
    ("event-time-text", f"UPDATE events SET t_s = 'soon' {ONE_BOUT}", ()),
    ("settings-not-json", "UPDATE wearer_settings SET body = '{x'", ()),
    ("settings-list", "UPDATE wearer_settings SET body = '[1]'", ()),
    (
        "settings-wrong-types",
        "UPDATE wearer_settings SET body = ?",
        ('{"max_sitting_min": "thirty", "quiet_hours": 3}',),
    ),
]


def write_behind_the_store(url: str, statement: str, parameters: tuple[Any, ...] = ()) -> None:
    """Change the SQLite store as a hand edit does: with sqlite3, not through the Store."""
    path = parse_store_url(url).path
    assert path is not None
    db = sqlite3.connect(path)
    with db:
        assert db.execute(statement, parameters).rowcount == 1
    db.close()


@pytest.fixture
def two_wearers(morning_store: Callable[..., str], store_url: str) -> str:
    """The morning of the wearable shown, with its settings, and a second wearable."""
    url = morning_store()
    with Store(store_url) as store:
        store.set_wearer_settings(DEVICE, {"max_sitting_min": 30})
        store.set_device_status(OTHER, {"online": True, "t_s": at(10, 30)})
    return url


@pytest.mark.parametrize(("case", "statement", "parameters"), BAD_ROWS, ids=[c for c, _, _ in BAD_ROWS])
def test_one_bad_row_breaks_no_page(
    make_app: Callable[..., AppTest], two_wearers: str, case: str, statement: str, parameters: tuple[Any, ...]
) -> None:
    """Every page draws; both wearables are listed and the morning's reminder is on the Day page."""
    write_behind_the_store(two_wearers, statement, parameters)
    app = make_app(two_wearers)
    app.session_state[DEVICE_KEY] = DEVICE
    for page in PAGES:
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, (page, [e.message for e in app.exception])
        assert not [e.value for e in app.error if "store" in e.value], page
    assert list(app.selectbox(key=DEVICE_KEY).options) == [DEVICE, OTHER]
    app.switch_page("app_pages/day.py").run()
    assert {"Time": "09:45", "Reminder": "first", "Answer": "Done"} in app.dataframe[0].value.to_dict("records")


def test_a_schema_version_that_is_no_number_is_said_on_every_page(
    make_app: Callable[..., AppTest], two_wearers: str
) -> None:
    """No page can read the store: each says why, and none raises."""
    write_behind_the_store(two_wearers, "UPDATE meta SET value = 'seven' WHERE key = 'schema_version'")
    app = make_app(two_wearers)
    for page in PAGES:
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception
        assert "store schema version 'seven' in its meta table is not a number" in app.error[0].value
