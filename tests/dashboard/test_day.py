"""The Day page: one day's posture ribbon, reminders and exercise, and its totals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from bench.office_weeks import DEVICE
from dashboard import display
from ingest.progress import load_report
from ingest.store import Store
from tests.conftest import STORE_BACKENDS
from tests.dashboard.conftest import office_weeks_store
from tests.dashboard.office_morning import DEVICE as DEVICE_MORNING
from tests.dashboard.office_morning import at
from tests.dashboard.test_pages import all_text

PAGE = "app_pages/day.py"
WEEKS = 2


@pytest.fixture(scope="module", params=STORE_BACKENDS)
def weeks_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two weeks of office days, written once for the module into each store backend."""
    return office_weeks_store(request, tmp_path_factory, WEEKS)


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


@pytest.mark.both_stores
def test_day_shows_the_morning_up_to_now(make_app: Callable[..., AppTest], morning_store: Callable[..., str]) -> None:
    """The latest day is shown first: sitting 1 h 02 min as on Today, one break, the 09:45 reminder done."""
    app = make_app(morning_store(), page=PAGE)
    assert not app.exception
    assert app.date_input(key="day_shown").value == dt.date(2025, 3, 12)
    assert metrics(app) == {
        "Sitting": "1 h 02 min",  # 09:15-09:50 and 10:03 until now, 10:30
        "Standing": "23 min",
        "Walking": "5 min",
        "Lying": "0 min",
        "In bed": "not measured",  # no night found before this morning
        "Not worn": "0 min",
        "Breaks": "1",
        "Reminders": "1",
    }
    assert len(app.get("vega_lite_chart")) == 1
    assert app.dataframe[0].value.to_dict("records") == [{"Time": "09:45", "Reminder": "first", "Answer": "Done"}]


@pytest.mark.both_stores
def test_the_ribbon_marks_exercise(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], store_url: str
) -> None:
    """A stored set of squats is listed and drawn as a third row of the ribbon."""
    url = morning_store()
    with Store(store_url) as store:
        squats = {"kind": "exercise", "exercise": "squat", "start_s": at(9, 2), "end_s": at(9, 3), "reps": 10}
        store.add_events(DEVICE_MORNING, [{**squats, "holds_s": []}])
    app = make_app(url, page=PAGE)
    assert not app.exception
    assert app.dataframe[1].value.to_dict("records") == [
        {"Exercise": "Squat", "What": "10 reps", "From": "09:02", "To": "09:03"}
    ]
    assert "Exercise" in app.get("vega_lite_chart")[0].proto.spec


def test_the_night_found_is_a_band_and_counts_as_in_bed(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], store_url: str
) -> None:
    """The in-bed window the worker found at noon is the ribbon's top row, and its lying is in bed, not waking lying."""
    url = morning_store()
    night = {"start_s": at(0, 0) - 50 * 60, "end_s": at(7, 5)}  # 23:10 the evening before to 07:05
    with Store(store_url) as store:
        store.add_events(
            DEVICE_MORNING,
            [{"kind": "posture_bout", "posture": "lying", "slouch_s": 0.0, **night}, {"kind": "in_bed", **night}],
        )
    app = make_app(url, page=PAGE)
    assert not app.exception
    shown = metrics(app)
    assert shown["In bed"] == "7 h 05 min"  # from midnight: the evening before is the day before's
    assert shown["Lying"] == "0 min"
    spec = app.get("vega_lite_chart")[0].proto.spec
    assert "In bed" in spec
    assert "In bed from" in spec


def test_picking_a_day_shows_that_days_totals_from_the_report(make_app: Callable[..., AppTest], weeks_url: str) -> None:
    """Another date shows that day: its totals are the Report's day summary."""
    tz = dt.datetime.now().astimezone().tzinfo or dt.UTC
    app = make_app(weeks_url, page=PAGE)
    latest = app.date_input(key="day_shown").value
    report = load_report(weeks_url, DEVICE, end=latest, weeks=WEEKS, tz=tz)
    worn = [d for d in report.days if d.seconds_of("sitting") > 0]
    day = worn[len(worn) // 2]
    app.date_input(key="day_shown").set_value(dt.date.fromisoformat(str(day.date))).run()
    assert not app.exception
    assert f"{dt.date.fromisoformat(str(day.date)):%A %d %B %Y}" in all_text(app)
    assert metrics(app) == {
        "Sitting": display.minutes_text(day.seconds_of("sitting")),
        "Standing": display.minutes_text(day.seconds_of("standing")),
        "Walking": display.minutes_text(day.seconds_of("walking")),
        "Lying": display.minutes_text(day.seconds_of("lying")),
        "In bed": "not measured",
        "Not worn": display.minutes_text(day.seconds_of("nonwear")),
        "Breaks": str(day.breaks),
        "Reminders": str(day.alerts),
    }


def test_a_day_without_data_says_so(make_app: Callable[..., AppTest], weeks_url: str) -> None:
    """A Saturday (never worn in these weeks) shows a message, not an empty ribbon."""
    app = make_app(weeks_url, page=PAGE)
    latest = app.date_input(key="day_shown").value
    saturday = latest - dt.timedelta(days=(latest.weekday() - 5) % 7)
    app.date_input(key="day_shown").set_value(saturday).run()
    assert not app.exception
    assert "No data for" in all_text(app)
    assert not app.get("vega_lite_chart")


def test_day_with_an_empty_store_says_how_to_start(make_app: Callable[..., AppTest], store_url: str) -> None:
    app = make_app(store_url, page=PAGE)
    assert not app.exception
    assert display.NO_DATA_YET in all_text(app)
    assert not app.get("vega_lite_chart")
