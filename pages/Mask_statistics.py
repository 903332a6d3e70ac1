"""Mask statistics: true-pixel-percentage histograms of real vs synthetic masks, summary table and distances."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from singanseg_core.analysis.stats import read_mask_stats
from singanseg_core.analysis.tiles import framed, grey, upscale
from singanseg_core.services import catalog
from singanseg_core.services.workspace import Workspace
from ui.feedback import guarded
from ui.glossary import explain
from ui.layout import page_header
from ui.figures import show, show_table
from ui.projector import tile_side

NONE = "(none)"
ALL_SAMPLES = "all saved samples"
TRAINING = "training masks of the samples' checkpoints"


@st.cache_data(show_spinner="Reading masks...", max_entries=32)
def _stats(real: str | None, synthetic: str | None, bin_width: float, stamp: tuple,  # noqa: ANN202
           training: str | None = None):
    from singanseg_core.analysis.stats import compute_mask_stats

    return compute_mask_stats(real, synthetic, bin_width=bin_width, training_masks_from=training)
PERCENT_COLUMNS = {c: st.column_config.NumberColumn(c, format="%.1f %%")  # true-pixel % of the summary table
                   for c in ("mean", "median", "std", "min", "max")}
PERCENT_COLUMNS["share_under_5"] = st.column_config.NumberColumn("share < 5 %", format="%.0f %%")


@guarded
def main() -> None:
    ws: Workspace = page_header(
        "Mask statistics", ":material/bar_chart:",
        "How much of each mask is object? Real and synthetic sets should have similar distributions.")
    datasets = catalog.newest_first(ws, "datasets")
    synth = [f"samples/{s}" for s in catalog.newest_first(ws, "samples")] + \
        [f"style/{s}" for s in catalog.newest_first(ws, "style")]
    if ws.list_sample_sets():
        synth.insert(0, ALL_SAMPLES)
    c1, c2, c3 = st.columns([2, 2, 1])
    reals = ([TRAINING] if synth else []) + [NONE] + datasets
    real = c1.selectbox("Real masks", reals, index=0 if synth or not datasets else 1, key="ms_real",
                        help="What the samples learned from: the training mask of each checkpoint they came "
                             "from (the default), or every mask of a dataset of the workspace, newest first.")
    syn = c2.selectbox("Synthetic masks", [NONE] + synth, index=1 if synth else 0, key="ms_syn",
                       help="A saved samples or style-transfer set, or all saved samples together.")
    bin_width = c3.select_slider("Bin width (%)", [1, 2, 5, 10, 20], value=5, key="ms_bin",
                                 help="Histogram bin width in percentage points (the paper uses 5).")
    if real == NONE and syn == NONE:
        st.info("Pick real and/or synthetic masks. Save samples on the **Sample** page to compare.")
        return
    training = str(ws.checkpoints) if real == TRAINING and syn != NONE else None
    real_path = ws.resolve(Path("datasets") / real, must_exist=True) if real not in (NONE, TRAINING) else None
    syn_path = None
    if syn == ALL_SAMPLES:
        syn_path = ws.samples
    elif syn != NONE:
        syn_path = ws.resolve(syn, must_exist=True)
    stamp = tuple(catalog.folder_stamp(p) for p in (real_path, syn_path) if p is not None)
    stats = _stats(str(real_path) if real_path else None, str(syn_path) if syn_path else None, float(bin_width),
                   stamp + ((catalog.folder_stamp(ws.checkpoints),) if training else ()), training)
    mode = st.radio("Layout", ["overlay", "side by side", "grouped"], horizontal=True, key="ms_mode",
                    help="overlay: translucent bars on top of each other; side by side: one panel per set; "
                         "grouped: bars next to each other per bin.")
    from singanseg_core.analysis.figures import true_pixel_histogram

    fig = true_pixel_histogram(stats, mode)
    show(fig, key="ms_chart")

    st.subheader("Summary")
    show_table(stats.summary.assign(share_under_5=stats.summary["share_under_5"] * 100),
               column_config=PERCENT_COLUMNS)
    if stats.distance:
        d = stats.distance
        c1, c2, c3 = st.columns(3)
        c1.metric("Wasserstein-1", f"{d['wasserstein']:.1f} pp", help=explain("Wasserstein-1"))
        c2.metric("KS statistic", f"{d['ks_statistic']:.2f}", help=explain("KS"))
        c3.metric("KS p-value", f"{d['ks_pvalue']:.2g}", help=explain("KS", "Small values mean the two sets are "
                                                                         "unlikely to come from the same distribution."))
    st.info(read_mask_stats(stats, "the checkpoints' training masks" if training else "the real masks"),
            icon=":material/lightbulb:")
    st.download_button("Download per-mask table (CSV)", stats.table.drop(columns=["path"], errors="ignore")
                       .to_csv(index=False), file_name="mask_stats.csv", mime="text/csv", key="ms_dl",
                       icon=":material/download:", on_click="ignore",
                       help="One row per mask: source, name, size, true-pixel percentage.")
    if not stats.variability.empty:
        with st.expander("Per-checkpoint variability of generated masks (pixel-wise mean / std)"):
            from singanseg_core.analysis.stats import checkpoint_mean_std

            var = stats.variability
            show_table(var.drop(columns=["mask_paths"]))
            ck = st.selectbox("Checkpoint", list(var["checkpoint"]), key="ms_ck",
                              help="Show the mean and std images of this checkpoint's generated masks.")
            mean, std = checkpoint_mean_std(syn_path, ck)
            c1, c2 = st.columns(2)
            c1.image(upscale(framed(grey(mean)), tile_side()), caption="mean", width="stretch")
            c2.image(upscale(framed(grey(std, 0.5)), tile_side()), caption="std", width="stretch")


main()
