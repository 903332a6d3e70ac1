"""SinGAN-Seg Studio entry point: ``streamlit run app.py``.

Routes between the pages with ``st.navigation`` (files, labels, icons and URLs from ``ui.page_list.PAGES``) and
draws the sidebar once for all of them; each page is a thin script in ``pages/`` that reads widgets, calls
``singanseg_core`` and draws.
"""

from __future__ import annotations

import streamlit as st

from ui.deep_links import say_unknown_page
from ui.layout import warm_up
from ui.page_list import PAGES, page_slug
from ui.resources import workspace
from ui.sidebar import sidebar

page = st.navigation([
    st.Page(entry.path, title=entry.label, icon=entry.icon, url_path=page_slug(entry.label), default=i == 0)
    for i, entry in enumerate(PAGES)
])
sidebar(workspace())
say_unknown_page([page_slug(entry.label) for entry in PAGES])
page.run()
warm_up()  # after the page is drawn: heavy imports for the first plot, once per process
