"""What the pages draw for people to read at a distance: every plotly chart and every table goes through here, so
projector mode (:mod:`ui.projector`) enlarges their fonts in one place."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.projector import projector

# Font sizes in px of a chart in projector mode (plotly's default is 12 px for everything).
PROJECTOR_FONTS = {"body": 20, "title": 26, "ticks": 18, "legend": 19, "hover": 19}
PROJECTOR_ANNOTATION_SCALE = 1.6    # annotations (subplot titles, scale labels) grow by this factor
PROJECTOR_HEIGHT_SCALE = 1.25       # a chart with a set height grows by this factor (room for the larger text)
PROJECTOR_TABLE_ROWS = 60           # up to this many rows a table is drawn as HTML (its text scales with the CSS)


def room_layout(fig: Any) -> Any:
    """``fig`` (a plotly figure) with the fonts of projector mode when it is on (unchanged otherwise): body,
    title, axis titles and tick labels, legend, hover labels and annotations. Returns ``fig``."""
    if not projector():
        return fig
    f = PROJECTOR_FONTS
    fig.update_layout(font_size=f["body"], title_font_size=f["title"], legend_font_size=f["legend"],
                      hoverlabel_font_size=f["hover"])
    for update in (fig.update_xaxes, fig.update_yaxes):
        update(tickfont_size=f["ticks"], title_font_size=f["body"])
    for note in fig.layout.annotations or ():
        note.font.size = round((note.font.size or 12) * PROJECTOR_ANNOTATION_SCALE)
    if fig.layout.height:
        fig.update_layout(height=round(fig.layout.height * PROJECTOR_HEIGHT_SCALE))
    return fig


def show(fig: Any, key: str) -> None:
    """Draw the plotly figure ``fig`` across the page (projector fonts when on; no plotly logo)."""
    st.plotly_chart(room_layout(fig), width="stretch", key=key, config={"displaylogo": False})


def show_table(frame: pd.DataFrame, **kwargs: Any) -> None:
    """Draw ``frame`` without its index. In projector mode a table of up to :data:`PROJECTOR_TABLE_ROWS` rows is
    HTML (``st.table``), whose text the projector CSS enlarges (the interactive grid draws on a canvas that CSS
    cannot reach); otherwise, and for longer tables, the interactive grid with ``kwargs``."""
    if projector() and len(frame) <= PROJECTOR_TABLE_ROWS:
        st.table(frame.reset_index(drop=True).style.hide(axis="index").format(precision=2))  # 2 decimals
        return
    st.dataframe(frame, hide_index=True, width="stretch", **kwargs)


PROJECTOR_METRICS_PER_ROW = 3       # metrics side by side in projector mode (their labels stay on one line)


def metrics(items: list[tuple[str, Any, str]], per_row: int = 6) -> None:
    """Draw ``(label, value, help)`` metrics side by side, ``per_row`` to a row (at most
    :data:`PROJECTOR_METRICS_PER_ROW` in projector mode, so a large label never breaks inside a word)."""
    n = min(per_row, PROJECTOR_METRICS_PER_ROW) if projector() else per_row
    for start in range(0, len(items), n):
        for col, (label, value, help_text) in zip(st.columns(n), items[start:start + n]):
            col.metric(label, value, help=help_text)
