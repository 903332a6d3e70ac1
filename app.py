"""SinGAN-Seg Studio entry point: ``streamlit run app.py``.

Routes between the pages with ``st.navigation`` (labels, icons and URLs from ``ui_common.PAGES``); each page is
a thin script in ``pages/`` that reads widgets, calls ``singanseg_core`` and draws.
"""

from __future__ import annotations

import streamlit as st

import ui_common as ui

st.navigation([
    st.Page(path, title=label, icon=icon, url_path=ui.page_slug(label), default=i == 0)
    for i, (path, label, icon) in enumerate(ui.PAGES)
]).run()
ui.warm_up()  # after the page is drawn: heavy imports for the first plot, once per process
