"""Projector mode: larger tiles, fewer per row and bigger text (captions, body text, tables, metrics) for a lecture
room (toggled in the sidebar); charts and tables get theirs through :mod:`ui.figures`."""

from __future__ import annotations

import streamlit as st

PROJECTOR_KEY = "projector_mode"          # remembered for the session (not a widget key: survives page changes)
PROJECTOR_CSS = """<style>
[data-testid="stImageCaption"] { font-size: 1.3rem !important; line-height: 1.5 !important; }
[data-testid="stCaptionContainer"] { font-size: 1.1rem !important; }
[data-testid="stMainBlockContainer"] { padding-left: 1.5rem !important; padding-right: 1.5rem !important; }
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] li { font-size: 1.25rem !important; }
[data-testid="stTable"] td, [data-testid="stTable"] th { font-size: 1.2rem !important; }
[data-testid="stMetricValue"] { font-size: 2.6rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.2rem !important; }
[data-testid="stMainBlockContainer"] p, [data-testid="stMetricLabel"] p, [data-testid="stImageCaption"] {
  overflow-wrap: normal !important; word-break: normal !important; }
</style>"""


def projector() -> bool:
    """Whether projector mode is on for this session (large tiles, fewer per row, bigger captions)."""
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def tiles_per_row(wide: bool = False) -> int:
    """Gallery columns: ``wide`` tiles (image / mask / overlay) 4, single images 6; in projector mode 2 and 3."""
    if projector():
        return 2 if wide else 3
    return 4 if wide else 6


def tile_side() -> int:
    """Smallest side (px) small images are enlarged to before drawing (crisp pixels, not browser blur)."""
    return 320 if projector() else 192
