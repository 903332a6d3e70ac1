"""Widgets that keep a person's choices sensible while other choices change (state kept in ``st.session_state``)."""

from __future__ import annotations

from typing import Any

import streamlit as st


def derived_text_input(label: str, default: str, key: str, container: Any = None, **kwargs: Any) -> str:
    """A text input whose value is ``default`` (recomputed from the current choices on every run) until the
    person types a name of their own; that name then stays whatever else changes. Clearing the field (or typing
    the default itself) makes it follow the default again.
    """
    own, current = f"{key}__own", f"{key}__default"
    mine = st.session_state.get(own)
    if mine is None:
        st.session_state[key] = default
    elif key not in st.session_state:  # the widget was not drawn on the last run: Streamlit dropped its value
        st.session_state[key] = mine
    st.session_state[current] = default

    def typed() -> None:
        value = str(st.session_state.get(key) or "").strip()
        st.session_state[own] = value if value and value != st.session_state.get(current) else None

    return (container or st).text_input(label, key=key, on_change=typed, **kwargs)


def derived_selectbox(label: str, options: list[str], default: str, key: str, container: Any = None,
                      **kwargs: Any) -> str:
    """A selectbox that shows ``default`` (recomputed from the current choices on every run) until the person
    picks another option; that pick then stays whatever else changes. Picking the default itself makes it
    follow the default again."""
    own, current = f"{key}__own", f"{key}__default"
    mine = st.session_state.get(own)
    if mine is None or mine not in options:
        st.session_state[own] = None
        st.session_state[key] = default
    elif key not in st.session_state:  # the widget was not drawn on the last run: Streamlit dropped its value
        st.session_state[key] = mine
    st.session_state[current] = default

    def picked() -> None:
        value = st.session_state.get(key)
        st.session_state[own] = value if value != st.session_state.get(current) else None

    return (container or st).selectbox(label, options, key=key, on_change=picked, **kwargs)


def sticky_multiselect(label: str, options: list[str], key: str, default: list[str], container: Any = None,
                       **kwargs: Any) -> list[str]:
    """A multiselect whose picks stay valid when its ``options`` change (e.g. another set was chosen): picks that
    still exist are kept; when none is left, ``default`` is used. An empty choice the person made themselves (on
    unchanged options) stays empty."""
    seen = f"{key}__options"
    picks = st.session_state.get(key)
    if picks is None:
        st.session_state[key] = [d for d in default if d in options]
    elif st.session_state.get(seen) != list(options):
        kept = [p for p in picks if p in options]
        st.session_state[key] = kept or [d for d in default if d in options]
    st.session_state[seen] = list(options)
    return (container or st).multiselect(label, options, key=key, **kwargs)


CURRENT_CHECKPOINT_KEY = "current_checkpoint"   # session: (name, when it was chosen, seconds since the epoch)


def current_checkpoint(ws: Any, names: list[str]) -> str | None:
    """The one "current checkpoint" the teaching pages (Sample, How it works) open with, among ``names``: the
    last one this session chose, unless the user trained (or imported) one after that choice; then the newest
    trained one (``services.catalog.newest_own_checkpoint``); with none of their own, the demo's showcase
    (``services.demo.default_checkpoint``)."""
    from singanseg_core.services.catalog import newest_own_checkpoint
    from singanseg_core.services.demo import default_checkpoint

    chosen = st.session_state.get(CURRENT_CHECKPOINT_KEY)
    newest = newest_own_checkpoint(ws, names)
    if chosen and chosen[0] in names and (newest is None or chosen[1] >= newest[1]):
        return chosen[0]
    return newest[0] if newest else default_checkpoint(names)


def choose_checkpoint(name: str) -> None:
    """Make ``name`` the current checkpoint of this session (every teaching page opens with it)."""
    import time

    st.session_state[CURRENT_CHECKPOINT_KEY] = (name, time.time())


def checkpoint_picker(ws: Any, names: list[str], label: str, key: str, multi: bool = False, container: Any = None,
                      **kwargs: Any) -> Any:
    """A selectbox (or, ``multi``, a multiselect) of ``names`` that opens on :func:`current_checkpoint` and makes
    what the person picks the current checkpoint (for a multiselect: the one added last). It follows the current
    checkpoint when that changes elsewhere (another page, a deep link, a newly trained model)."""
    current = current_checkpoint(ws, names)
    seen = f"{key}__current"
    value = st.session_state.get(key)
    valid = (isinstance(value, list) and all(v in names for v in value)) if multi else value in names
    if not valid or st.session_state.get(seen) != current:
        st.session_state[key] = [current] if multi else current
    st.session_state[seen] = current

    def picked() -> None:
        now = st.session_state.get(key)
        name = (now[-1] if now else None) if multi else now
        if name:
            choose_checkpoint(name)
            st.session_state[seen] = name

    widget = (container or st).multiselect if multi else (container or st).selectbox
    return widget(label, names, key=key, on_change=picked, **kwargs)


NO_WARM_START = "none (train from scratch)"


def warm_start_picker(ws: Any, key: str, container: Any = None) -> str | None:
    """A selectbox of the workspace's finished checkpoints to start a training from (``None``: from scratch)."""
    names = ws.list_checkpoints(finished_only=True)
    if st.session_state.get(key) not in [NO_WARM_START, *names]:
        st.session_state[key] = NO_WARM_START  # its checkpoint was deleted or renamed: back to scratch
    choice = (container or st).selectbox(
        "Warm start from", [NO_WARM_START, *names], key=key,
        help="Start every scale from this checkpoint's networks (another image's model of the same kind: channels, "
             "kernel, layers, widths) instead of from scratch: far fewer iterations per scale then give a usable "
             "model. The noise amplitudes and reconstruction noise are still computed for the new image.")
    return None if choice == NO_WARM_START else choice
