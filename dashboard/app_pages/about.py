"""About: how to wear the sensor, when to see a doctor, what sitless is not, and its sources.

Every text here has one home elsewhere: the wearing guide in :mod:`dashboard.display`,
the warning signs, disclaimer and programme sources in :mod:`analysis.programme`, and
how postures are measured (with its sources) in :mod:`ingest.report_html`, the notes
the HTML report prints too.
"""

from __future__ import annotations

import streamlit as st

from analysis.programme import DISCLAIMER, RED_FLAGS_TEXT, SOURCES
from dashboard import display
from ingest.report_html import METHOD_NOTES

st.title("About sitless")
st.warning(DISCLAIMER, icon=":material/medical_information:")

st.subheader("How to wear the sensor")
st.caption(
    "Choose one placement and tell sitless which (`--placement`). Which end is up does not matter: "
    "sitless learns your upright while you walk."
)
guide = list(display.WEAR_GUIDE.items())
for row in range(0, len(guide), 2):  # row by row, so a phone lists them in order
    for column, (placement, (where, which_way)) in zip(st.columns(2), guide[row : row + 2], strict=False):
        with column, st.container(border=True):
            st.markdown(
                f"**{display.placement_label(placement)}** (`{placement}`)  \n"
                f"*Where:* {where}  \n*Which way:* {which_way}"
            )

st.subheader("When to see a doctor")
st.markdown(RED_FLAGS_TEXT)
st.page_link(
    "app_pages/programme.py",
    label="The exercise programme and how to exercise safely",
    icon=":material/self_improvement:",
)

st.subheader("How sitless measures")
for title, text in METHOD_NOTES:
    st.markdown(f"**{title}.** {text}")

st.subheader("Sources")
st.markdown(
    f"*Exercise programme:* {SOURCES}  \n"
    "*Posture and sitting measures:* the papers cited above; figures and commands in `docs/validation.md`."
)
