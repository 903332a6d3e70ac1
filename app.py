"""SinGAN-Seg Studio entry point: ``streamlit run app.py``.

Routes between the pages with ``st.navigation`` (files, labels, icons and URLs from ``ui.page_list.PAGES``) and
draws the sidebar once for all of them (``ui.router``); each page is a thin script in ``pages/`` that reads
widgets, calls ``singanseg_core`` and draws.
"""

from __future__ import annotations

from ui.router import run_app

run_app()
