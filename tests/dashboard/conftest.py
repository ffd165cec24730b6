"""Fixtures for the dashboard tests: a real store holding one morning at the desk.

The store is a SQLite file; the modules that read a filled store are marked
``both_stores`` and run on a PostgreSQL database as well.

The morning (``office_morning.py``) is written with the Store API the way the analysis
worker and the recorder write it. "Now" is 10:30 (sitting for 27 min since 10:03, no
alert) unless a test saves another live status.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.office_weeks import END, write
from dashboard.settings import SETTINGS_KEY, DashboardSettings
from ingest.store import Store
from tests.conftest import backend_url
from tests.dashboard.office_morning import APP, APP_TIMEOUT_S, DEVICE, MORNING_EVENTS, SENSOR_STATUS, at, live_status
from tests.postgres import PostgresServer


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Cached store reads must not leak from one test into the next."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(autouse=True)
def _own_main() -> Iterator[None]:
    """Give ``__main__`` back after a test: Streamlit's script runner makes the app script ``__main__``.

    Left so, a process that later spawns workers (``sitless analyze --jobs``) would have
    each of them run the dashboard script with pytest's arguments.
    """
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL in ``tmp_path`` whose file does not exist yet, or an empty PostgreSQL
    database (no tables yet) in the modules marked ``both_stores`` (tests/conftest.py)."""
    return backend_url(request, tmp_path / "sitless.sqlite")


@pytest.fixture
def morning_store(store_url: str) -> Callable[..., str]:
    """Write the morning into the store; keyword arguments change the live status.

    Returns a function ``write(now_s=at(10, 30), **status_changes) -> store_url`` that can
    be called again to save a newer status (as the worker does after each packet).
    """
    with Store(store_url) as store:
        store.set_device_status(DEVICE, {**SENSOR_STATUS, "t_s": at(10, 30)})
        store.add_events(DEVICE, MORNING_EVENTS)

    def write(now_s: float | None = None, seq: int = 1, **changes: Any) -> str:
        with Store(store_url) as store:
            store.save_state(DEVICE, seq, snapshot={}, status=live_status(now_s or at(10, 30), **changes))
        st.cache_data.clear()
        return store_url

    return write


@pytest.fixture
def make_app() -> Callable[..., AppTest]:
    """An AppTest of the dashboard with its settings injected through session state."""

    def make(store_url: str, broker_url: str = "mqtt://127.0.0.1:9", page: str | None = None) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=APP_TIMEOUT_S)
        app.session_state[SETTINGS_KEY] = DashboardSettings(store_url=store_url, broker_url=broker_url)
        app.run()
        if page is not None:
            app.switch_page(page).run()
        return app

    return make


def office_weeks_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, weeks: int) -> str:
    """``weeks`` of one wearer's office days (``bench.office_weeks``) in a new store of the
    backend ``request.param`` names: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('weeks') / 'store.sqlite'}"
    else:
        postgres: PostgresServer = request.getfixturevalue("postgres_server")
        url = postgres.new_database()
    write(url, END, weeks)
    return url
