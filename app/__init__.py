"""Parity's Streamlit app (the UI layer; the engine lives in :mod:`simulator`).

Start it from the repository root with ``python -m app.serve`` (``make run``: ``streamlit run
app/main.py`` plus a warm-up of the first page, see ``app/serve.py``) or with
``python -m streamlit run app/main.py``.
``app/main.py`` is the router, ``app/app_pages/`` holds the pages and :mod:`app.components`
the pure helpers (scenario discovery, what-if overrides, URL parameters, chart and card
builders) that the unit tests exercise without a browser.
"""
