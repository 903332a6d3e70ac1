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
