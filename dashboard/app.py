r"""The sitless dashboard: the entrypoint that ``streamlit run`` starts.

Run it through ``sitless dashboard`` (:mod:`ingest.dashboard_cmd`), which passes the
app's own arguments after ``--``::

    streamlit run dashboard/app.py -- --store sqlite:///var/sitless.sqlite \
        --broker mqtt://127.0.0.1:1883 [--device ID]

The settings are built once per browser session and kept in ``st.session_state``; a
test can put its own :class:`~dashboard.settings.DashboardSettings` there before the
first run. This script draws the shared sidebar (wearable picker, connection details,
the informational-only note) and hands over to the page picked in the navigation.
"""

from __future__ import annotations

import sys

import streamlit as st

from dashboard import data, display, prompt
from dashboard.settings import DEVICE_KEY, SETTINGS_KEY, DashboardSettings, parse_args
from ingest.errors import StoreError
from ingest.store import parse_store_url

st.set_page_config(page_title="sitless", page_icon=":material/chair:", layout="wide")

if SETTINGS_KEY not in st.session_state:
    st.session_state[SETTINGS_KEY] = parse_args(sys.argv[1:])
settings: DashboardSettings = st.session_state[SETTINGS_KEY]

now_page = st.Page("app_pages/now.py", title="Now", icon=":material/sensors:", default=True)
page = st.navigation(
    [
        now_page,
        st.Page("app_pages/today.py", title="Today", icon=":material/today:"),
        st.Page("app_pages/programme.py", title="Programme", icon=":material/self_improvement:"),
        st.Page("app_pages/session.py", title="Session", icon=":material/fitness_center:"),
        st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"),
        st.Page("app_pages/progress.py", title="Progress", icon=":material/trending_up:"),
        st.Page("app_pages/day.py", title="Day", icon=":material/view_timeline:"),
        st.Page("app_pages/about.py", title="About", icon=":material/info:"),
    ]
)

try:
    known = list(data.devices(settings.store_url))
except StoreError as err:
    st.error(f"Cannot read the sitless store: {err}", icon=":material/database:")
    st.stop()

with st.sidebar:
    st.title("sitless")
    if known:
        if st.session_state.get(DEVICE_KEY) not in known:
            wanted = settings.device_id
            st.session_state[DEVICE_KEY] = wanted if wanted in known else known[0]
        st.selectbox("Wearable", known, key=DEVICE_KEY)
    else:
        st.session_state.pop(DEVICE_KEY, None)
        st.caption("No wearable yet.")
    with st.expander("Connection", expanded=False):
        st.caption(f"Store: `{parse_store_url(settings.store_url)}`")
        st.caption(f"Broker: `{settings.broker_url}`")
    prompt.notify_toggle()
    st.caption(display.DISCLAIMER_SHORT)

if page is not now_page:  # the Now page draws it with its live tiles, from the same status
    prompt.break_prompt()  # the break prompt above every page
page.run()
