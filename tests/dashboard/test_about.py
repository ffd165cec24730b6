"""The About page: how to wear the sensor, the warning signs, the disclaimer and the sources."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from analysis import Placement
from analysis.programme import DISCLAIMER, SEE_A_DOCTOR_IF, SOURCES
from dashboard import display
from ingest.report_html import METHOD_NOTES
from tests.dashboard.test_pages import all_text

PAGE = "app_pages/about.py"


def test_about_says_how_to_wear_each_placement(make_app: Callable[..., AppTest], store_url: str) -> None:
    """Every placement has where and which way up; the disclaimer comes first."""
    app = make_app(store_url, page=PAGE)
    assert not app.exception
    assert app.warning[0].value == DISCLAIMER
    text = all_text(app)
    assert set(display.WEAR_GUIDE) == set(Placement)
    for placement, (where, which_way) in display.WEAR_GUIDE.items():
        assert f"`{placement}`" in text
        assert where in text
        assert which_way in text


def test_about_lists_the_warning_signs_and_the_sources(make_app: Callable[..., AppTest], store_url: str) -> None:
    """The red flags, the programme's sources and the measurement notes with their citations."""
    app = make_app(store_url, page=PAGE)
    text = all_text(app)
    for sign in SEE_A_DOCTOR_IF:
        assert sign in text
    assert SOURCES in text
    for title, note in METHOD_NOTES:
        assert title in text
        assert note in text
    assert "doi:10.1249/MSS.0000000000000308" in text
