"""The router: ``st.navigation`` over :data:`ui.page_list.PAGES`, the sidebar drawn once, then the chosen page."""

from __future__ import annotations

import streamlit as st

from ui.deep_links import say_unknown_page
from ui.layout import warm_up
from ui.page_list import PAGES, page_slug
from ui.resources import workspace
from ui.server_guard import install_server_guards
from ui.sidebar import sidebar


def run_app() -> None:
    """Route this run to the page its URL names (Home by default), with the sidebar."""
    install_server_guards()  # once per process: uploads and cache clears are checked below the pages too
    page = st.navigation([
        st.Page(entry.path, title=entry.label, icon=entry.icon, url_path=page_slug(entry.label), default=i == 0)
        for i, entry in enumerate(PAGES)
    ])
    sidebar(workspace())
    say_unknown_page([page_slug(entry.label) for entry in PAGES])
    page.run()
    warm_up()  # after the page is drawn: heavy imports for the first plot, once per process
