"""The Sample page's explorers: :func:`start_scale_panel` (every start scale, one row each),
:func:`histogram_panel` (true-pixel histogram of unsaved samples against real masks), :func:`quality_flag`
(undertraining), :func:`style_preview_panel` (in-page style transfer with loss curves) and
:func:`patch_nn_panel` (samples with no checkpoint, from the patch nearest-neighbour baseline)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from singanseg_core.analysis.tiles import triptych, upscale
from singanseg_core.services.workspace import Workspace
from ui.projector import projector, tile_side, tiles_per_row
from ui.figures import show
from ui.feedback import guarded
from ui.resources import checkpoint_config, load_model


@st.cache_data(show_spinner="Reading masks...", max_entries=16)
def dataset_pcts(folder: str, stamp: float) -> list[float]:
    """True-pixel % of every mask of a dataset folder (``analysis.stats.mask_table``), cached by its stamp."""
    from singanseg_core.analysis.stats import mask_table

    return [float(v) for v in mask_table(Path(folder) / "masks", "real")["true_pixel_pct"]]


def checkpoint_dataset(ws: Workspace, names: list[str]) -> str | None:
    """The dataset of the workspace that holds the training image of the first of ``names`` that has one
    (by the file name kept in its ``config.json``), or ``None``."""
    from singanseg_core.services import catalog

    for name in names:
        image = str((checkpoint_config(ws, name).get("source") or {}).get("image") or "")
        if image and "/" not in image and "\\" not in image:
            found = [d for d in catalog.newest_first(ws, "datasets") if (ws.datasets / d / "images" / image).is_file()]
            if found:
                return found[0]
    return None


def histogram_panel(ws: Workspace, synthetic: np.ndarray, real_masks: dict[str, np.ndarray], key: str) -> None:
    """True-pixel histogram of samples in memory (``synthetic``: their %) against the checkpoints' own training
    masks (``real_masks``: name → mask) or a dataset's masks (by default the one they were trained from, when
    the workspace holds it), nothing saved (``analysis.stats``)."""
    from singanseg_core.analysis.figures import true_pixel_histogram
    from singanseg_core.analysis.stats import mask_stats_from_values, true_pixel_pct
    from singanseg_core.services import catalog

    own = "training mask(s) of the checkpoint(s)"
    datasets = catalog.newest_first(ws, "datasets")
    theirs = checkpoint_dataset(ws, list(real_masks))
    options = [own] + [f"dataset {d}" + (" (trained from)" if d == theirs else "") for d in datasets]
    c1, c2 = st.columns([3, 1])
    ref = c1.selectbox("Compare with", options, index=1 + datasets.index(theirs) if theirs else 0, key=f"{key}_ref",
                       help="The real masks to compare these samples with: each checkpoint's own training mask, "
                            "or every mask of a dataset of the workspace (by default the one the checkpoint was "
                            "trained from, when it is here).")
    width = c2.select_slider("Bin width (%)", [1, 2, 5, 10, 20], value=5, key=f"{key}_bin",
                             help="Histogram bin width in percentage points (the paper uses 5).")
    if ref == own:
        real = [true_pixel_pct(np.asarray(m)) for m in real_masks.values()]
    else:
        folder = ws.resolve(Path("datasets") / ref.removeprefix("dataset ").removesuffix(" (trained from)"),
                            must_exist=True)
        real = dataset_pcts(str(folder), catalog.folder_stamp(folder))
    stats = mask_stats_from_values(real, synthetic, float(width))
    show(true_pixel_histogram(stats, "overlay"), key=f"{key}_chart")
    rows = {r["source"]: r for r in stats.summary.to_dict("records")}
    st.caption(f"Mean true pixels: these {len(synthetic)} samples {rows['synthetic']['mean']:.1f} %, real "
               f"{rows['real']['mean']:.1f} % (n = {int(rows['real']['count'])}). Not saved: save the samples to "
               "use them on **Mask statistics**.")


def quality_flag(samples: Any, name: str) -> None:
    """``analysis.quality.assess_samples`` on a checkpoint's samples: a warning when it looks undertrained; and
    how many were redrawn when sampled with ``redraw_empty``."""
    from singanseg_core.analysis.quality import assess_samples

    report = assess_samples(samples)
    if report.flagged:
        st.warning(f"**{name}** — {report.message}.", icon=":material/warning:")
    if samples.redraw_note():  # sampled with redraw_empty
        st.caption(f":material/replay: {samples.redraw_note()}.")


def preview_in_slot(images: list[np.ndarray], style: np.ndarray, ratio: str, steps: int, progress: Any,
                    on_wait: Any = None) -> Any:
    """``style.preview.preview_style`` inside one of the server's heavy slots (``services.budget.heavy_slot``:
    ``SINGANSEG_MAX_HEAVY``, default 2 heavy requests at once for every visitor together); a request that finds
    them all taken says so through ``on_wait`` and waits (at most ``budget.DEFAULT_WAIT_S`` s, then one line)."""
    from singanseg_core.services.budget import heavy_slot
    from singanseg_core.style.preview import preview_style

    with heavy_slot(on_wait=on_wait):
        return preview_style(images, style, ratio=ratio, steps=steps, progress=progress)


def style_preview_panel(images: list[np.ndarray], style: np.ndarray, key: str) -> None:
    """A quick in-page style transfer of ``images`` with ``style`` (``style.preview.preview_style``: small size,
    few L-BFGS steps, a progress bar): before/after pictures, the content and style loss curves and what the
    ratio does. The result stays in the session until the images change."""
    from singanseg_core.analysis.figures import style_loss_figure
    from singanseg_core.services.timings import STYLE_PREVIEW, record_run, style_key
    from singanseg_core.style.preview import PREVIEW_SIZE, PREVIEW_STEPS, RATIO_EXPLANATION, preview_batches
    from ui.jobs import time_estimate
    from ui.resources import workspace
    from ui.sampling_budget import is_visitor

    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    ratio = c1.radio("Content : style", ["1:1", "1:100", "1:1000"], index=2, horizontal=True, key=f"{key}_ratio",
                     help=RATIO_EXPLANATION)
    steps = int(c2.number_input("Steps", 1, 100, PREVIEW_STEPS, key=f"{key}_steps",
                                help="L-BFGS steps of the preview (most of the change happens in the first ~8)."))
    import hashlib

    digest = hashlib.sha1(b"".join(np.ascontiguousarray(a).tobytes() for a in images)).hexdigest()
    stamp = (digest, ratio, steps)  # a result is shown only for the very images and settings it was made from
    ws, timing = workspace(), (STYLE_PREVIEW, style_key(PREVIEW_SIZE, "lbfgs"), len(images) * steps)
    time_estimate(ws, *timing, f"this preview ({len(images)} images, {steps} steps)")
    if c3.button("Preview style transfer", key=f"{key}_go", icon=":material/palette:",
                 help="Restyle these samples right here, small and quick; the full-quality run is a job on the "
                      "Style transfer page."):
        bar = st.progress(0.0, text="Style transfer preview...")
        total = preview_batches(images) * steps

        def tick(step: int, losses: dict) -> bool:
            bar.progress(min(1.0, step / max(total, 1)), text=f"step {step} of {total}: style loss "
                                                               f"{losses.get('style', 0.0):.3g}")
            return True

        waiting = st.empty()
        result = preview_in_slot(images, style, ratio, steps, tick,
                                 on_wait=lambda why: waiting.info(why, icon=":material/hourglass_top:"))
        waiting.empty()
        st.session_state[key] = (stamp, result)
        if not is_visitor():  # a locked classroom visitor never causes a write
            record_run(ws, *timing, result.seconds)
        bar.empty()
    done = st.session_state.get(key)
    if not done or done[0] != stamp:
        st.caption(RATIO_EXPLANATION)
        return
    result = done[1]
    st.caption(f"{result.note.split('. ')[0]} ({result.seconds:.1f} s).")
    per_row, side = tiles_per_row(), tile_side()
    for lo in range(0, len(images), per_row):
        cols = st.columns(per_row)
        for i, col in zip(range(lo, min(lo + per_row, len(images))), cols):
            col.image(upscale(images[i], side), caption=f"#{i} raw", width="stretch")
            col.image(upscale(result.images[i], side), caption=f"#{i} restyled", width="stretch")
    show(style_loss_figure(result.history, f"Preview losses (ratio {ratio})"), key=f"{key}_losses")
    st.caption(RATIO_EXPLANATION)


START_SCALE_TILE = 128   # px per sample in the start-scale figure (twice that in projector mode)
PREVIEW_IMAGES = 4       # samples restyled by the in-page style preview (its time: services.timings)


def start_scale_panel(model: Any, seed: int, key: str) -> None:
    """On demand, ``SinGANSeg.start_scale_grid``: the same seed generated from every start scale, one row each
    (``analysis.teaching.start_scale_figure``), under the training pair; kept while model, seed and mode stay."""
    from singanseg_core.analysis.teaching import START_SCALE_CAPTION, start_scale_figure

    n = 3 if projector() else 4
    st.caption(f"Seed {seed} of **{model.name}** generated from every start scale 0–{model.num_scales}, {n} per "
               "row. " + START_SCALE_CAPTION)
    stamp = (model.name, id(model), int(seed), n, projector())
    if st.button("Compare start scales", key=f"{key}_go", icon=":material/stacks:",
                 help="Generate the same seed from every start scale of this checkpoint, one row per start scale."):
        from ui.sampling_budget import bounded_sampling

        # num_scales + 1 rows of n samples each, at the training size
        with bounded_sampling([model], n * (model.num_scales + 1)), st.spinner("Generating every start scale..."):
            fig = start_scale_figure(model.start_scale_grid(int(seed), n), tile=START_SCALE_TILE * (1 + projector()),
                                     real=np.asarray(model.real_image()), real_mask=np.asarray(model.real_mask()),
                                     font_size=20 if projector() else 14, captions=False, name=model.name)
        st.session_state[key] = (stamp, fig)
    done = st.session_state.get(key)
    if done and done[0] == stamp:
        st.image(done[1], caption=f"{model.name}: one row per start scale (mask outlined in green)")


@st.cache_resource(show_spinner="Preparing the patch search...", max_entries=4)
def _patch_nn(image: str, mask: str, stamp: float):  # noqa: ANN202 - PatchNN
    from singanseg_core.baselines.patch_nn import PatchNN, PatchNNConfig

    return PatchNN.from_files(image, mask, PatchNNConfig(max_size=128))


def patch_nn_panel(ws: Workspace, key: str) -> None:
    """Instant image+mask pairs from any dataset pair, no checkpoint needed: the training-free patch
    nearest-neighbour baseline (``baselines.patch_nn``, GPNN-style; at most 128 px here)."""
    from singanseg_core.services import catalog

    datasets = catalog.newest_first(ws, "datasets")
    if not datasets:
        st.caption("Add a dataset on **Checkpoints → Add data** first.")
        return
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
    dataset = c1.selectbox("Dataset", datasets, key=f"{key}_ds", help="Real image/mask pairs (newest first).")
    pairs = {stem: (img, msk) for stem, img, msk in ws.dataset_pairs(dataset)}
    stem = c2.selectbox("Pair", list(pairs), key=f"{key}_pair", help="The one real pair to copy patches from.")
    n = int(c3.number_input("Samples", 1, 16, 4, key=f"{key}_n", help="How many pairs to generate (≤ 16)."))
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 0, key=f"{key}_seed", help="Same seed → same samples."))
    if st.button("Generate without training", key=f"{key}_go", icon=":material/bolt:",
                 help="Patch nearest neighbours: every output patch is copied, image and mask together, from the "
                      "real pair, coarse to fine. No GAN, nothing to train; a baseline to compare SinGAN-Seg with."):
        img, msk = pairs[stem]
        t0 = time.perf_counter()
        with st.spinner("Searching patches..."):
            samples = _patch_nn(str(img), str(msk), catalog.folder_stamp(img.parent)).sample(n, seed=seed)
        st.session_state[key] = ((dataset, stem, n, seed), samples, time.perf_counter() - t0)
    done = st.session_state.get(key)
    if not done or done[0] != (dataset, stem, n, seed):
        return
    samples = done[1]
    st.success(f"{len(samples)} patch-NN samples of {stem} in {done[2]:.1f} s (no checkpoint).",
               icon=":material/bolt:")
    per_row, side = tiles_per_row(wide=True), tile_side()
    for lo in range(0, len(samples), per_row):
        cols = st.columns(per_row)
        for i, col in zip(range(lo, min(lo + per_row, len(samples))), cols):
            col.image(upscale(triptych(samples.images[i], samples.masks[i]), side), width="stretch",
                      caption=f"patch-NN #{i} · {samples.true_pixel_pct[i]:.1f} % object")


EXPLORE = ["Start scales", "True-pixel histogram", "Style preview"]


def explore(ws: Workspace, result: dict) -> None:
    """Under the Sample page's gallery: every start scale, the true-pixel histogram or a style preview of the shown
    samples ``result`` (only the one chosen)."""
    p, first = result["params"], result["params"]["checkpoints"][0]
    view = st.radio("Explore these samples", EXPLORE, horizontal=True, key="sm_explore",
                    help="Start scales: this seed from every start scale. True-pixel histogram: these samples' "
                         "masks against real ones, without saving. Style preview: a quick in-page style transfer.")
    if view == EXPLORE[0]:
        guarded(start_scale_panel)(load_model(ws, first), p["seed"], key="sm_grid")
    elif view == EXPLORE[1]:
        pct = np.concatenate([r["pct"] for r in result["results"].values()])
        real_masks = {n: load_model(ws, n).real_mask() for n in result["results"]}
        guarded(histogram_panel)(ws, pct, real_masks, key="sm_hist")
    else:
        st.caption(f"The first samples of **{first}**, restyled with its training image.")
        images = list(result["results"][first]["images"][:PREVIEW_IMAGES])
        style = np.asarray(load_model(ws, first).real_image())
        guarded(style_preview_panel)(images, style, key="sm_style")
