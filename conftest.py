"""pytest settings for the whole repository: what doctest collection must not import.

``pytest`` (pyproject ``testpaths``, ``--doctest-modules``) imports every module of
``analysis``, ``ingest``, ``dashboard``, ``firmware_sim`` and ``bench`` to run its
doctests. The Streamlit scripts below are not modules but pages: importing one draws
it, and ``dashboard/app.py`` parses the process's command line (pytest's own) as the
dashboard's options. They hold no doctests; ``tests/dashboard`` runs them through
Streamlit's ``AppTest`` instead.
"""

from __future__ import annotations

collect_ignore = [
    "dashboard/app.py",  # the Streamlit entrypoint: runs st.navigation and parses sys.argv on import
    "dashboard/app_pages",  # the pages it navigates to: each draws its screen on import
]
