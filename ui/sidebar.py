"""The sidebar, drawn once by ``app.py`` for every page: projector toggle, classroom passphrase, workspace,
demo note and the running jobs."""

from __future__ import annotations

import streamlit as st

from singanseg_core.services.workspace import Workspace
from ui.access import UNLOCKED_KEY, policy, shown_path
from ui.glossary import glossary_sidebar
from ui.jobs import sidebar_jobs
from ui.projector import PROJECTOR_CSS, PROJECTOR_KEY, projector
from ui.server_guard import current_session_id, set_unlocked
from ui.unlock_cookie import forget_unlock, remember_unlock, restore_unlock, write_cookie


def sidebar(ws: Workspace) -> None:
    """Everything the sidebar shows."""
    from singanseg_core.services.demo import has_own_data, is_demo_workspace

    with st.sidebar:
        projector_toggle()
        classroom_sidebar()
        st.caption(f"Workspace: `{shown_path(ws, ws.root)}`")
        if is_demo_workspace(ws) and not has_own_data(ws):
            st.caption(":material/info: Demo data is loaded (IHC microscopy tiles). See Home for Kvasir-SEG.")
        sidebar_jobs(ws)
        write_cookie()
    glossary_sidebar()


def classroom_sidebar() -> None:
    """In classroom mode: what visitors may do, and the passphrase field that unlocks write actions."""
    pol = policy()
    if not pol.classroom:
        return
    restore_unlock()  # a token this browser kept from an earlier unlock
    if st.session_state.get(UNLOCKED_KEY):
        set_unlocked(current_session_id(), True)  # the upload guard below the pages knows it too (after a reload)
        st.caption(":material/lock_open: Classroom mode: unlocked in this session.")
        if st.button("Lock again", key="_classroom_lock", help="Lock write actions again in this session."):
            st.session_state[UNLOCKED_KEY] = False
            set_unlocked(current_session_id(), False)
            forget_unlock()
            st.rerun()
        return
    st.caption(":material/lock: Classroom mode: browse, sample, compare and plot; training, uploads, saving "
               "and deleting are locked.")
    if pol.passphrase_sha256 is None:
        return
    with st.form("_classroom_unlock", border=False):
        text = st.text_input("Teacher's passphrase", type="password", key="_classroom_pass",
                             help="Unlocks write actions (uploads, training, deleting, ...) in this browser session.")
        if st.form_submit_button("Unlock", help="Check the passphrase."):
            from singanseg_core.services.access import passphrase_gate

            # one server-wide guess limit: more tabs do not buy more guesses
            answer = passphrase_gate(pol).check(current_session_id() or "", text)
            if answer.ok:
                st.session_state[UNLOCKED_KEY] = True
                set_unlocked(current_session_id(), True)
                remember_unlock()
                st.rerun()
            st.error(answer.message, icon=":material/lock:")


def projector_toggle() -> None:
    """The sidebar toggle of projector mode; its value is kept under a plain session key so it survives page
    changes (Streamlit forgets the state of a widget that a page does not draw)."""
    def flip() -> None:
        st.session_state[PROJECTOR_KEY] = bool(st.session_state.get("_projector_toggle"))

    st.session_state["_projector_toggle"] = projector()
    st.toggle("Projector mode", key="_projector_toggle", on_change=flip,
              help="For a lecture room: larger image tiles, fewer per row and bigger captions. Stays on while "
                   "this browser tab is open.")
    if projector():
        st.markdown(PROJECTOR_CSS, unsafe_allow_html=True)
