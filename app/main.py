"""Parity's Streamlit entrypoint: page setup and navigation (the router).

Start from the repository root: ``python -m app.serve`` (``make run``; ``streamlit run
app/main.py`` with a warm-up of the first page) or ``python -m streamlit run app/main.py``.
The pages live in ``app/app_pages/`` (not ``pages/``, which Streamlit would auto-discover).
"""

import sys
from pathlib import Path

# `streamlit run app/main.py` puts app/ on sys.path but not the repository root; add it so
# that `simulator` and `app` import without installing the project.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

st.set_page_config(
    page_title="Parity — gender-balance targets",
    # A local file: a ":material/...:" favicon is fetched from fonts.gstatic.com by the browser.
    page_icon=str(Path(__file__).resolve().parent / "assets" / "favicon.png"),
    layout="wide",
)

PAGES = [
    st.Page(
        "app_pages/explore.py",
        title="Explore",
        icon=":material/insights:",
        url_path="explore",
        default=True,
    ),
    st.Page(
        "app_pages/compare.py",
        title="Compare",
        icon=":material/compare_arrows:",
        url_path="compare",
    ),
    st.Page(
        "app_pages/what_it_takes.py",
        title="What it takes",
        icon=":material/flag:",
        url_path="what-it-takes",
    ),
    st.Page(
        "app_pages/data.py",
        title="Data and calibration",
        icon=":material/dataset:",
        url_path="data",
    ),
    st.Page(
        "app_pages/sweeps.py",
        title="Sweeps",
        icon=":material/grid_view:",
        url_path="sweeps",
    ),
    st.Page(
        "app_pages/about.py",
        title="About the model",
        icon=":material/info:",
        url_path="about",
    ),
]

st.navigation(PAGES).run()
