"""The Progress page: weeks of the plan kept, sitting and breaks, reminders, and the report download."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from analysis.report import Report, summarize
from bench.office_weeks import DEVICE
from dashboard import data, display
from ingest.progress import load_report
from ingest.report_html import render_html
from ingest.store import Store
from tests.conftest import STORE_BACKENDS
from tests.dashboard.conftest import office_weeks_store
from tests.dashboard.test_pages import all_text

PAGE = "app_pages/progress.py"
WEEKS = 12


@pytest.fixture(scope="module", params=STORE_BACKENDS)
def weeks_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Twelve weeks of one wearer's office days, written once for the module into each store backend."""
    return office_weeks_store(request, tmp_path_factory, WEEKS)


def expected(url: str, weeks: int) -> Report:
    """The report the page should show: the wearer's last day, in the dashboard's (server-local) days."""
    tz = dt.datetime.now().astimezone().tzinfo or dt.UTC
    with Store(url, read_only=True) as store:
        last_s = float(store.devices()[DEVICE]["t_s"])
    return load_report(url, DEVICE, end=dt.datetime.fromtimestamp(last_s, tz).date(), weeks=weeks, tz=tz)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes of every file the app hands to Streamlit's media storage (downloads)."""
    seen: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self: MemoryMediaFileStorage, path_or_data: str | bytes, *args: Any, **kwargs: Any) -> str:
        if isinstance(path_or_data, bytes):
            seen.append(path_or_data)
        return original(self, path_or_data, *args, **kwargs)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_progress_shows_the_reports_figures(
    make_app: Callable[..., AppTest], weeks_url: str, downloads: list[bytes]
) -> None:
    """Plan kept, streaks, sitting, breaks and reminders are the 12-week Report's; six charts."""
    app = make_app(weeks_url, page=PAGE)
    assert not app.exception
    report = expected(weeks_url, WEEKS)
    s = summarize(report)
    assert report.adherence is not None
    assert s.plan_kept is not None
    assert s.sitting_per_day_s is not None
    assert s.breaks_per_sitting_hour is not None
    assert metrics(app) == {
        "Plan kept": f"{s.plan_kept:.0%}",
        "Current streak": f"{report.adherence.current_streak_days} days",
        "Longest streak": f"{report.adherence.longest_streak_days} days",
        "Sitting per day": display.minutes_text(s.sitting_per_day_s),
        "Breaks per sitting hour": f"{s.breaks_per_sitting_hour:.1f}",
        "Reminders answered": f"{s.reminders_answered} of {s.reminders}",
    }
    charts = app.get("vega_lite_chart")
    assert len(charts) == 6  # calendar, 3 weekly, plan weeks, reminders
    assert f"{report.start:%d %b %Y} to {report.end:%d %b %Y}" in all_text(app)


def test_the_calendar_cells_are_the_plans_days(make_app: Callable[..., AppTest], weeks_url: str) -> None:
    """Every day of the period has a cell; a plan day says done/due, and the legend's shades are in order."""
    report = expected(weeks_url, WEEKS)
    assert report.adherence is not None
    cells = data.adherence_calendar(report)
    assert len(cells) == 7 * WEEKS
    by_day = {d.day: d for d in report.adherence.days}
    for row in cells.itertuples():
        day = by_day.get(row.date.date())
        if day is None:
            assert (row.text, row.level) == ("", "Not in the plan")
        else:
            assert row.text == f"{day.done}/{day.prescribed}"
            assert row.level == display.adherence_level(day.fraction)
    app = make_app(weeks_url, page=PAGE)
    spec = json.loads(app.get("vega_lite_chart")[0].proto.spec)
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == list(display.ADHERENCE_LEVELS)


def test_the_download_is_the_html_report_of_the_period_shown(
    make_app: Callable[..., AppTest], weeks_url: str, downloads: list[bytes]
) -> None:
    """The button gives render_html of the Report shown, for 12 weeks and, once picked, for 4."""
    app = make_app(weeks_url, page=PAGE)
    button = app.get("download_button")
    assert [b.label for b in button] == ["Download report"]
    assert downloads[-1] == render_html(expected(weeks_url, WEEKS), DEVICE).encode()

    app.radio(key="progress_weeks").set_value(4).run()
    assert not app.exception
    four = expected(weeks_url, 4)
    assert downloads[-1] == render_html(four, DEVICE).encode()
    assert f"{four.start:%d %b %Y} to {four.end:%d %b %Y}" in all_text(app)
    assert metrics(app)["Reminders answered"] == f"{summarize(four).reminders_answered} of {summarize(four).reminders}"


def test_progress_with_an_empty_store_says_how_to_start(make_app: Callable[..., AppTest], store_url: str) -> None:
    """No wearable yet: the empty-state message, no charts, no download."""
    app = make_app(store_url, page=PAGE)
    assert not app.exception
    assert display.NO_DATA_YET in all_text(app)
    assert not app.get("vega_lite_chart")
    assert not app.get("download_button")


@pytest.mark.both_stores
def test_progress_on_the_first_morning(make_app: Callable[..., AppTest], morning_store: Callable[..., str]) -> None:
    """One morning of data: the page draws, its reminder answered "Done"."""
    app = make_app(morning_store(), page=PAGE)
    assert not app.exception
    assert metrics(app)["Reminders answered"] == "1 of 1"


def test_programme_keeps_today_and_leaves_the_weeks_to_progress(
    make_app: Callable[..., AppTest], weeks_url: str
) -> None:
    """The weekly trend moved: Programme shows today's plan and no chart."""
    app = make_app(weeks_url, page="app_pages/programme.py")
    assert not app.exception
    assert not app.get("vega_lite_chart")
