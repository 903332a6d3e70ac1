"""How it works on a seed whose sample has an empty mask: say so, say why, and offer the next seed that draws an
object (``analysis.quality.next_seed_with_object``, bounded)."""

from __future__ import annotations

from typing import Any

import streamlit as st


def empty_seed_notice(model: Any, name: str, seed: int, start: int, pct: float, seed_key: str) -> None:
    """When the traced sample's mask is empty (``pct`` true pixels at or below ``analysis.quality.EMPTY_PCT``):
    a warning with the reason and a button that moves the seed widget ``seed_key`` to the next seed with an
    object (searched once per checkpoint, seed and start scale, then kept in the session)."""
    from singanseg_core.analysis.quality import EMPTY_PCT, EMPTY_SEED_WHY, SEED_SEARCH_TRIES, next_seed_with_object

    if pct > EMPTY_PCT:
        return
    memo = f"{seed_key}__next"
    asked = (name, int(seed), int(start), id(model))
    found = st.session_state.get(memo)
    if not found or found[0] != asked:
        with st.spinner("Looking for a seed that draws an object..."):
            found = (asked, next_seed_with_object(model, seed, start))
        st.session_state[memo] = found
    nxt = found[1]
    st.warning(f"Seed {seed} draws no object: its mask is empty at every scale ({pct:.1f} % true pixels). "
               + EMPTY_SEED_WHY, icon=":material/visibility_off:")
    if nxt is None:
        st.caption(f"None of the next {SEED_SEARCH_TRIES} seeds draws an object either: **{name}** looks "
                   "undertrained (train it longer).")
        return

    def move() -> None:
        st.session_state[seed_key] = nxt

    st.button(f"Show seed {nxt} (the next one with an object)", key=f"{seed_key}_next", on_click=move,
              icon=":material/skip_next:", help=f"Seeds {seed + 1}–{nxt - 1} draw no object either."
              if nxt > seed + 1 else "The very next seed draws an object.")
