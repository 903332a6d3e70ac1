"""Write-action controls: a button that says why it is disabled, and deleting a workspace item after a
confirmation (both ask the classroom gate, :mod:`ui.access`)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from singanseg_core.services.workspace import Workspace
from ui.access import why_locked
from ui.feedback import flash, show_error


def button(label: str, key: str, help: str, why_not: str | None = None, container: Any = None,
           action: str | None = None, **kwargs: Any) -> bool:
    """A button that is disabled while ``why_not`` is set, and then says why (as its tooltip and a caption).
    ``action`` (a ``services.access`` action, e.g. ``"train"``): also disabled while the access policy locks it."""
    where = container or st
    why_not = (why_locked(action) if action else None) or why_not
    clicked = where.button(label, key=key, disabled=bool(why_not),
                           help=f"Disabled: {why_not}" if why_not else help, **kwargs)
    if why_not:
        where.caption(f":material/block: {why_not}")
    return bool(clicked)


def delete_control(ws: Workspace, category: str, name: str, key: str) -> None:
    """``Delete …`` → a confirmation naming the item → :func:`singanseg_core.services.catalog.delete_item`
    (refused with one line while a job uses the item). The outcome is shown on the next run."""
    from singanseg_core.services import catalog

    label, pending = catalog.LABELS[category], f"{key}__confirm"
    users = catalog.jobs_using(ws, category, name)
    why = f"the {users[0].state} job '{users[0].title}' uses it" if users else None
    if st.session_state.get(pending) != name:
        if button(f"Delete {label} {name}…", key=f"{key}_ask", icon=":material/delete:", why_not=why, action="delete",
                  help=f"Remove {category}/{name} from the workspace (you will be asked to confirm)."):
            st.session_state[pending] = name
            st.rerun()
        return
    st.warning(f"Delete {label} **{name}** (`{category}/{name}`) and everything in it? This cannot be undone.",
               icon=":material/warning:")
    c1, c2 = st.columns(2)
    if c1.button(f"Yes, delete {name}", key=f"{key}_yes", type="primary", icon=":material/delete_forever:",
                 help="Delete it now."):
        st.session_state.pop(pending, None)
        try:
            flash(catalog.delete_item(ws, category, name))
        except Exception as err:  # noqa: BLE001 - one line, never a traceback
            show_error(err)
            return
        st.rerun()
    if c2.button("Keep it", key=f"{key}_no", icon=":material/undo:", help="Do not delete anything."):
        st.session_state.pop(pending, None)
        st.rerun()


def rename_control(ws: Workspace, name: str, key: str) -> None:
    """A new name and ``Rename`` → :func:`singanseg_core.services.rename.rename_checkpoint` (the folder and every
    reference; refused with one line for a name in use or while a job uses the checkpoint); the renamed
    checkpoint becomes the current one (``ui.state.choose_checkpoint``) and the outcome shows on the next run."""
    from singanseg_core.services import catalog
    from singanseg_core.services.rename import rename_checkpoint
    from ui.state import choose_checkpoint

    users = catalog.jobs_using(ws, "checkpoints", name)
    why = f"the {users[0].state} job '{users[0].title}' uses it" if users else None
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    new = c1.text_input("New name", key=f"{key}_{name}", max_chars=128, placeholder=name,
                        help="Letters, digits, '.', '_' and '-'. Sample sets, jobs and studies that name this "
                             "checkpoint follow the new name.")
    missing = None if new.strip() else "type the new name first"
    if button("Rename", key=f"{key}_go", icon=":material/edit:", action="rename", container=c2,
              why_not=why or missing, help=f"Rename checkpoint {name} (folder and every reference) to the new name."):
        try:
            flash(rename_checkpoint(ws, name, new.strip()))
        except Exception as err:  # noqa: BLE001 - one line, never a traceback
            show_error(err)
            return
        choose_checkpoint(new.strip())
        st.rerun()
