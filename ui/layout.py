"""What every page draws first (:func:`page_header`) and what ``app.py`` starts once per server process."""

from __future__ import annotations

import streamlit as st

from singanseg_core.services.workspace import Workspace
from ui.page_list import APP_TITLE
from ui.resources import workspace


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Once per server process, after the first page is drawn: import the heavy libraries the first plot needs
    (plotly, scipy) on a background thread, so the first histogram or loss curve a lecturer asks for does not
    wait for them."""
    import threading

    def load() -> None:
        try:
            import plotly.graph_objects  # noqa: F401
            import plotly.subplots  # noqa: F401
            import scipy.stats  # noqa: F401
        except Exception:  # noqa: BLE001 - only a speed-up
            pass

    threading.Thread(target=load, name="singanseg-warm-up", daemon=True).start()
    return True


def hand_to_router() -> None:
    """Serve this page through the router when Streamlit ran it straight from ``pages/``.

    Until some run has called ``st.navigation``, Streamlit treats a ``pages/`` folder the old multipage way: the
    first request of a fresh server that names a page (a deep link, a reload), and every AppTest run, execute that
    script alone, without ``app.py``'s router and sidebar. Switching that mode off and routing from here, in the
    same run (a rerun would drop the click that started it), draws the page exactly as ``app.py`` would.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        from ui.router import run_app

        run_app()
        st.stop()


def page_header(title: str, icon: str, intro: str) -> Workspace:
    """``set_page_config`` + title + intro + the notices of the last run (:func:`ui.feedback.flash`). Returns the
    workspace. The sidebar is drawn by ``app.py``, once for every page."""
    hand_to_router()
    st.set_page_config(page_title=f"{title} · {APP_TITLE}", page_icon=icon, layout="wide")
    st.title(title)
    st.caption(intro)
    for message in st.session_state.pop("_flash", []):
        st.success(message, icon=":material/check:")
    return workspace()
