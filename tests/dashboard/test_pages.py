"""The Today and Programme pages and the shared sidebar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis.programme import DISCLAIMER, PROGRAMME, SEE_A_DOCTOR_IF
from dashboard.settings import DEVICE_KEY
from ingest.store import Store
from tests.dashboard.office_morning import DEVICE, at


def all_text(app: AppTest) -> str:
    kinds = ("error", "warning", "info", "markdown", "caption", "subheader", "title")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(app, kind))


@pytest.mark.both_stores
def test_sidebar_lists_wearables_and_says_it_is_not_medical_advice(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], store_url: str
) -> None:
    """Both wearables are offered, the first is picked, and the informational note is there."""
    url = morning_store()
    with Store(store_url) as store:
        store.set_device_status("desk-08", {"online": True})
    app = make_app(url)
    picker = app.sidebar.selectbox[0]
    assert picker.options == ["desk-07", "desk-08"]
    assert app.session_state[DEVICE_KEY] == "desk-07"
    assert any("not medical advice" in c.value for c in app.sidebar.caption)


@pytest.mark.both_stores
def test_today_shows_counts_charts_and_alerts(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """Sitting 1 h 02 min in 2 bouts, 1 break, longest 35 min; two charts; the 09:45 alert was done."""
    app = make_app(morning_store(), page="app_pages/today.py")
    assert not app.exception
    assert {m.label: m.value for m in app.metric} == {
        "Sitting today": "1 h 02 min",
        "Sitting bouts": "2",
        "Breaks": "1",
        "Longest sitting bout": "35 min",
        "Break reminders": "1",
    }
    assert len(app.get("vega_lite_chart")) == 2
    table = app.dataframe[0].value
    assert table.to_dict("records") == [
        {"Time": "09:45", "Sitting for": "30 min", "Reminder": "first", "Suggested": "Squat", "Response": "Done"}
    ]


def test_today_shows_slouch_time_for_a_chest_sensor_only(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """A chest sensor adds "Slouching today"; a thigh sensor, which cannot measure it, does not."""
    app = make_app(morning_store(placement="chest", posture_slouch_s=12 * 60.0), page="app_pages/today.py")
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["Slouching today"] == "12 min"
    thigh = make_app(morning_store(), page="app_pages/today.py")
    assert "Slouching today" not in {m.label for m in thigh.metric}


def test_today_with_an_empty_store_says_so(make_app: Callable[..., AppTest], store_url: str) -> None:
    """No wearable: a message instead of empty charts."""
    app = make_app(store_url, page="app_pages/today.py")
    assert not app.exception
    assert "No wearable has sent data yet" in all_text(app)
    assert not app.get("vega_lite_chart")


def test_programme_lists_exercises_safety_and_the_disclaimer(make_app: Callable[..., AppTest], store_url: str) -> None:
    """Every exercise with its dose, the aerobic advice, the warning signs and the disclaimer first."""
    app = make_app(store_url, page="app_pages/programme.py")
    assert not app.exception
    assert app.warning[0].value == DISCLAIMER
    text = all_text(app)
    for exercise in PROGRAMME:
        assert exercise.name in text
        assert exercise.movement in text
    assert "swimming" in text
    assert "Dose:" in text
    for sign in SEE_A_DOCTOR_IF:
        assert sign in text


@pytest.mark.both_stores
def test_programme_shows_todays_plan_with_the_squats_done(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], store_url: str
) -> None:
    """Ten squats stored this morning tick the squat off today's plan (its first day, a strengthening day)."""
    url = morning_store()
    with Store(store_url) as store:
        squats = {"kind": "exercise", "exercise": "squat", "start_s": at(9, 2), "end_s": at(9, 3), "reps": 10}
        store.add_events(DEVICE, [{**squats, "holds_s": []}])
    app = make_app(url, page="app_pages/programme.py")
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Today"] == "1 of 9 done"
    assert metrics["Streak"] == "0 days"
    text = all_text(app)
    assert ":material/check_circle: Squat" in text
    assert ":material/radio_button_unchecked: Plank" in text


def test_programme_without_data_says_where_the_plan_will_show(make_app: Callable[..., AppTest], store_url: str) -> None:
    app = make_app(store_url, page="app_pages/programme.py")
    assert "Your plan shows here once the wearable has sent data." in all_text(app)


def test_an_unreadable_store_is_reported_not_raised(make_app: Callable[..., AppTest], tmp_path: Path) -> None:
    """A file that is not a SQLite database gives a clear error on the page."""
    bad = tmp_path / "not-a-store.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    app = make_app(f"sqlite:///{bad}")
    assert not app.exception
    assert "Cannot read the sitless store" in app.error[0].value
