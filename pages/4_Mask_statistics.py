"""Mask statistics: true-pixel-percentage histograms of real vs synthetic masks, summary table and distances."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

import ui_common as ui
from singanseg_core.services.workspace import Workspace

NONE = "(none)"
ALL_SAMPLES = "all saved samples"


def _stamp(folder: Path) -> float:
    """Newest modification time in ``folder`` (cache key: recompute when files change)."""
    latest = folder.stat().st_mtime
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith((".png", ".csv", ".jpg")):
                latest = max(latest, os.stat(os.path.join(root, name)).st_mtime)
    return latest


@st.cache_data(show_spinner="Reading masks...", max_entries=32)
def _stats(real: str | None, synthetic: str | None, bin_width: float, stamp: tuple):  # noqa: ANN202
    from singanseg_core.analysis.stats import compute_mask_stats

    return compute_mask_stats(real, synthetic, bin_width=bin_width)


def histogram_figure(stats, mode: str):  # noqa: ANN001, ANN201
    """Overlay (bars on top of each other, translucent) or side-by-side panels, y = % of masks per bin."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from singanseg_core.analysis.figures import SOURCE_COLORS

    groups = list(stats.histograms.groupby("source", sort=False))
    if mode == "side by side":
        fig = make_subplots(rows=1, cols=len(groups), shared_yaxes=True,
                            subplot_titles=[f"{s} (n={int(h['count'].sum())})" for s, h in groups])
    else:
        fig = go.Figure()
    for i, (source, h) in enumerate(groups):
        bar = go.Bar(x=(h["bin_start"] + h["bin_end"]) / 2, y=h["fraction"] * 100, width=stats.bin_width * 0.95,
                     name=f"{source} (n={int(h['count'].sum())})", marker_color=SOURCE_COLORS.get(str(source)),
                     opacity=0.6 if mode == "overlay" else 1.0, customdata=h[["label", "count"]].to_numpy(),
                     hovertemplate="%{customdata[0]} %%: %{customdata[1]} masks (%{y:.1f} %%)<extra></extra>")
        if mode == "side by side":
            fig.add_trace(bar, row=1, col=i + 1)
            fig.update_xaxes(title_text="true pixels (%)", range=[0, 100], row=1, col=i + 1)
        else:
            fig.add_trace(bar)
    if mode == "overlay":
        fig.update_layout(barmode="overlay", xaxis_title="true pixels (% of mask area)", xaxis_range=[0, 100])
    fig.update_layout(yaxis_title="masks (%)", template="plotly_white", height=420,
                      title=f"True-pixel percentage ({stats.bin_width:g} % bins)", legend_orientation="h")
    return fig


@ui.guarded
def main() -> None:
    ws: Workspace = ui.page_header(
        "Mask statistics", ":material/bar_chart:",
        "How much of each mask is object? Real and synthetic sets should have similar distributions.")
    datasets = ws.list_datasets()
    synth = [f"samples/{s}" for s in ws.list_sample_sets()] + [f"style/{s}" for s in ws.list_style_sets()]
    if ws.list_sample_sets():
        synth.insert(0, ALL_SAMPLES)
    c1, c2, c3 = st.columns([2, 2, 1])
    real = c1.selectbox("Real masks", [NONE] + datasets, index=1 if datasets else 0, key="ms_real",
                        help="A dataset of the workspace (its masks/ folder).")
    syn = c2.selectbox("Synthetic masks", [NONE] + synth, index=1 if synth else 0, key="ms_syn",
                       help="A saved samples or style-transfer set, or all saved samples together.")
    bin_width = c3.select_slider("Bin width (%)", [1, 2, 5, 10, 20], value=5, key="ms_bin",
                                 help="Histogram bin width in percentage points (the paper uses 5).")
    if real == NONE and syn == NONE:
        st.info("Pick real and/or synthetic masks. Save samples on the **Sample** page to compare.")
        return
    real_path = ws.resolve(Path("datasets") / real, must_exist=True) if real != NONE else None
    syn_path = None
    if syn == ALL_SAMPLES:
        syn_path = ws.samples
    elif syn != NONE:
        syn_path = ws.resolve(syn, must_exist=True)
    stamp = tuple(_stamp(p) for p in (real_path, syn_path) if p is not None)
    stats = _stats(str(real_path) if real_path else None, str(syn_path) if syn_path else None, float(bin_width),
                   stamp)
    mode = st.radio("Layout", ["overlay", "side by side", "grouped"], horizontal=True, key="ms_mode",
                    help="overlay: translucent bars on top of each other; side by side: one panel per set; "
                         "grouped: bars next to each other per bin.")
    if mode == "grouped":
        from singanseg_core.analysis.figures import true_pixel_histogram

        fig = true_pixel_histogram(stats)
    else:
        fig = histogram_figure(stats, mode)
    st.plotly_chart(fig, width="stretch", key="ms_chart", config={"displaylogo": False})

    st.subheader("Summary")
    st.dataframe(stats.summary, hide_index=True, width="stretch",
                 column_config={"share_under_5": st.column_config.NumberColumn("share < 5 %", format="%.2f")})
    if stats.distance:
        d = stats.distance
        c1, c2, c3 = st.columns(3)
        c1.metric("Wasserstein-1", f"{d['wasserstein']:.2f} pp",
                  help="Earth mover's distance between the two distributions, in percentage points (0 = identical).")
        c2.metric("KS statistic", f"{d['ks_statistic']:.3f}",
                  help="Largest gap between the two cumulative distributions (0..1).")
        c3.metric("KS p-value", f"{d['ks_pvalue']:.3g}",
                  help="Small values mean the two sets are unlikely to come from the same distribution.")
    st.download_button("Download per-mask table (CSV)", stats.table.drop(columns=["path"], errors="ignore")
                       .to_csv(index=False), file_name="mask_stats.csv", mime="text/csv", key="ms_dl",
                       icon=":material/download:", on_click="ignore",
                       help="One row per mask: source, name, size, true-pixel percentage.")
    if not stats.variability.empty:
        with st.expander("Per-checkpoint variability of generated masks (pixel-wise mean / std)"):
            from singanseg_core.analysis.stats import mask_mean_std

            var = stats.variability
            st.dataframe(var.drop(columns=["mask_paths"]), hide_index=True, width="stretch")
            ck = st.selectbox("Checkpoint", list(var["checkpoint"]), key="ms_ck",
                              help="Show the mean and std images of this checkpoint's generated masks.")
            paths = var[var["checkpoint"] == ck]["mask_paths"].iloc[0]
            mean, std = mask_mean_std(paths)
            c1, c2 = st.columns(2)
            c1.image(ui.upscale(ui.framed(ui.grey(mean)), 160), caption="mean", width="stretch")
            c2.image(ui.upscale(ui.framed(ui.grey(std, 0.5)), 160), caption="std", width="stretch")


main()
