"""How long each dashboard page takes to render on weeks of one wearer's history.

``python -m bench.pages --weeks 12`` stores ``--weeks`` weeks of office days
(``bench.office_weeks``, with the live status the worker leaves after the last one) in
a SQLite file in a temporary folder and renders each page
with Streamlit's ``AppTest`` (the app's own script, sidebar included, no browser):

- **first view**: the page opened with Streamlit's data cache empty, so the store is
  read and the report built (``st.cache_data.clear()`` before each run);
- **rerun**: the same page run again at once, its data cached, as when the wearer
  clicks a widget or a live tile refreshes.

One run of every page comes first and is not timed (imports, the first chart). Each
figure is the median of ``--repeat`` runs; the target is under one second per page.
The browser's own drawing (Vega-Lite) comes on top and is not measured here.

    python -m bench.pages --weeks 12 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.office_weeks import DEVICE, END, write
from bench.report import machine, markdown_table
from dashboard.settings import SETTINGS_KEY, DashboardSettings
from ingest.store import Store

__all__ = ["PAGES", "main", "time_page"]

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
#: The pages timed, as ``st.navigation`` names their scripts.
PAGES = (
    "app_pages/now.py",
    "app_pages/today.py",
    "app_pages/programme.py",
    "app_pages/progress.py",
    "app_pages/day.py",
    "app_pages/about.py",
)
_TIMEOUT_S = 120.0


def _live(store_url: str) -> None:
    """Save the live status the worker would leave after the last event: standing, no alert open."""
    with Store(store_url) as store:
        now_s = float(store.devices()[DEVICE]["t_s"])
        status = {
            "t_s": now_s,
            "posture": "standing",
            "posture_since_s": now_s,
            "sitting_since_s": None,
            "sitting_s": 0.0,
            "open_alert": None,
            "reference_ready": True,
            "max_sitting_s": 1800.0,
            "placement": "thigh",
        }
        store.save_state(DEVICE, 1, snapshot={}, status=status)


def _app(store_url: str) -> AppTest:
    """The dashboard with its settings injected, run once on its default page (not timed)."""
    app = AppTest.from_file(str(APP), default_timeout=_TIMEOUT_S)
    app.session_state[SETTINGS_KEY] = DashboardSettings(store_url=store_url, broker_url="mqtt://127.0.0.1:9")
    app.run()
    return app


def time_page(store_url: str, page: str) -> tuple[float, float]:
    """Seconds to render ``page`` with an empty data cache, then to rerun it with the cache filled.

    Raises:
        RuntimeError: The page raised an exception.
    """
    app = _app(store_url)
    st.cache_data.clear()
    start = time.perf_counter()
    app.switch_page(page).run()
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    app.run()
    rerun_s = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(f"{page}: {app.exception[0].message}")
    return first_s, rerun_s


def main(argv: list[str] | None = None) -> int:
    """Print the table of median render times per page."""
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=12, help="weeks of history (default 12)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per page (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        store_url = f"sqlite:///{Path(folder) / 'weeks.sqlite'}"
        events = write(store_url, END, args.weeks)
        _live(store_url)
        print(f"{args.weeks} weeks, {events} events; {machine()}", flush=True)
        for page in PAGES:  # imports and first charts, not timed
            time_page(store_url, page)
        rows = []
        for page in PAGES:
            runs = [time_page(store_url, page) for _ in range(args.repeat)]
            first = statistics.median(r[0] for r in runs)
            rerun = statistics.median(r[1] for r in runs)
            rows.append([Path(page).stem, f"{first:.2f} s", f"{rerun:.2f} s"])
    print(markdown_table("page | first view (empty cache) | rerun (cached)", rows, align="lrr"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
