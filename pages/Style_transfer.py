"""Style transfer: restyle generated images with their checkpoint's real image, compare raw vs restyled."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from singanseg_core.analysis.tiles import before_after, upscale
from singanseg_core.services import catalog
from singanseg_core.services.workspace import Workspace, safe_name
from ui.controls import button, delete_control
from ui.feedback import guarded
from ui.jobs import job_panel, submit_job, time_estimate
from ui.layout import page_header
from ui.projector import projector, tile_side
from ui.resources import read_json
from ui.figures import show
from ui.state import derived_text_input, sticky_multiselect

RATIOS = {"1:1 (paper, mild)": "1:1", "1:1000 (paper, strong)": "1:1000", "free": None}


def launch(ws: Workspace) -> None:
    from singanseg_core.sampling.manifest import read_manifest
    from singanseg_core.style.vgg import resolve_random_features

    sets = catalog.newest_first(ws, "samples")
    if not sets:
        st.info("No saved samples yet: generate and **Save samples** on the **Sample** page first.")
        return
    random_features, _ = resolve_random_features(None)  # the one decision, as the job makes it
    if random_features:
        st.warning("No pretrained VGG19 weights on this machine: style transfer runs with **random VGG features** "
                   "(the workflow works, the look is not the paper's; results are labelled).",
                   icon=":material/warning:")
    src = st.selectbox("Samples set", sets, key="st_set", help="A saved samples folder (samples/<name>), newest first.")
    images = [str(i) for i in read_manifest(ws.resolve(Path("samples") / src, must_exist=True))["image"]]
    chosen = sticky_multiselect(
        "Generated images", images, key="st_images", default=images,
        help="Which generated images to restyle (each uses its checkpoint's real image as style). When you switch "
             "sets, picks that exist in the new set are kept; otherwise all of its images are chosen.")
    c1, c2, c3, c4 = st.columns(4)
    preset = c1.radio("Content : style", list(RATIOS), index=1, key="st_ratio",
                      help="Weights of the content and style losses: 1:X keeps the generated image's content and "
                           "adds X times as much weight on looking like the real image's textures and colours. "
                           "The paper uses 1:1 and 1:1000.")
    ratio = RATIOS[preset]
    if ratio is None:
        weight = c1.number_input("Style weight (content = 1)", 0.0, 1e6, 100.0, key="st_free",
                                 help="Free ratio 1:X; larger X = stronger style.")
        ratio = f"1:{weight:g}"
    steps = c2.number_input("Steps", 1, 2000, 100, step=50, key="st_steps",
                            help="Optimiser steps. The paper uses 1000 (minutes per image on CPU); 100 shows the "
                                 "effect quickly.")
    optimizer = c3.selectbox("Optimizer", ["adam", "lbfgs"], key="st_opt",
                             help="adam (as the original) or lbfgs (fewer steps for the same loss).")
    size = c4.selectbox("Processing size", ["native", 64, 128, 256], index=0, key="st_size",
                        help="Longer side in px during optimisation; the result has the original size.")
    name = derived_text_input("Save as (folder under style/)", f"{src}-st-{ratio.replace(':', 'x')}", key="st_out",
                              max_chars=80, help="Follows the samples set and ratio until you type a name of your "
                                                    "own. A new folder is made (suffix added if the name is taken).")
    from singanseg_core.services.timings import STYLE_BATCH, style_key

    time_estimate(ws, STYLE_BATCH, style_key(None if size == "native" else int(size), optimizer),
                  len(chosen) * int(steps), f"restyling {len(chosen)} image(s) with {int(steps)} {optimizer} steps")
    if button("Start style transfer job", key="st_go", type="primary", icon=":material/palette:", action="style",
              why_not=None if chosen else "choose at least one generated image",
              help="Runs in a background process; progress shows below."):
        args = {"samples": src, "images": chosen, "out": safe_name(name, "folder name"), "ratio": ratio, "steps": int(steps),
                "optimizer": optimizer, "size": None if size == "native" else int(size), "seed": 0,
                "random_features": random_features}
        submit_job(ws, "style-batch", args, title=f"style {len(chosen)} image(s) of {src} ({ratio})")
    job_panel(ws, ("style-batch",), key="style")


def results(ws: Workspace) -> None:
    from singanseg_core.sampling.zips import zip_sample_folder
    from singanseg_core.sampling.manifest import read_manifest

    sets = [s for s in catalog.newest_first(ws, "style") if (ws.style / s / "manifest.csv").is_file()]
    if not sets:
        st.caption("No style-transfer results yet.")
        return
    name = st.selectbox("Result set", sets, key="st_view",
                        help="A finished (or partly finished) style-transfer folder under style/, newest first.")
    folder = ws.resolve(Path("style") / name, must_exist=True)
    frame = read_manifest(folder)
    if frame.empty:
        st.caption("Nothing finished in this set yet.")
    else:
        if "st_random_features" in frame and str(frame["st_random_features"].iloc[0]) == "True":
            st.caption(":material/warning: Made with random (not pretrained) VGG19 features.")
        st.download_button("Download zip", zip_sample_folder(folder), file_name=f"{name}.zip", mime="application/zip",
                           key="st_dl", icon=":material/download:", on_click="ignore",
                           help="Restyled images (images/), their masks (masks/) and manifest.csv.")
        compare(ws, folder, frame)
    delete_control(ws, "style", name, key="st_del")


def compare(ws: Workspace, folder: Path, frame) -> None:  # noqa: ANN001 - pandas frame
    pick = st.selectbox("Image", list(frame["image"]), key="st_pick", help="Which result to compare in detail.")
    row = frame[frame["image"] == pick].iloc[0]
    from singanseg_core.files.images import read_rgb  # the bounded reader; only files inside the workspace

    raw = read_rgb(ws.inside(str(row["st_source_image"])))
    styled = read_rgb(folder / safe_name(pick, "file name"))
    real = read_rgb(ws.inside(str(row["st_style_image"]), base=folder))
    side = tile_side()
    c1, c2, c3 = st.columns(3)
    c1.image(upscale(real, side), caption="real (style) image", width="stretch")
    c2.image(upscale(raw, side), caption="generated (raw)", width="stretch")
    c3.image(upscale(styled, side), caption=f"style-transferred ({row.get('st_ratio', '')})", width="stretch")
    at = st.slider("Before / after", 0.0, 1.0, 0.5, 0.01, key="st_split",
                   help="Drag: left of the line is the style-transferred image, right of it the raw one.")
    st.image(before_after(raw, styled, at, 2 * side), caption="◀ style-transferred | raw ▶",
             width=640 if projector() else 420)
    losses(folder, pick)


def losses(folder: Path, pick: str) -> None:
    """The content and style loss curves of the batch that made ``pick`` (recorded in style_transfer.json)."""
    from singanseg_core.analysis.figures import style_loss_figure
    from singanseg_core.style.preview import RATIO_EXPLANATION

    record = folder / "style_transfer.json"
    batches = read_json(str(record), record.stat().st_mtime).get("loss_history") if record.is_file() else None
    batch = next((b for b in batches or [] if isinstance(b, dict) and pick in (b.get("images") or [])), None)
    if batch and batch.get("history"):
        n = len(batch["images"])
        show(style_loss_figure(batch["history"], f"Losses of the run that made {pick}"
                               + (f" (summed over its batch of {n})" if n > 1 else "")), key="st_losses")
    else:
        st.caption("No loss curves recorded for this image (made before they were kept, or resumed).")
    st.caption(RATIO_EXPLANATION)


@guarded
def main() -> None:
    ws = page_header("Style transfer", ":material/palette:",
                     "Make generated images look more like the real one (VGG19 style transfer; the mask is "
                     "never changed).")
    tab_run, tab_view = st.tabs(["Run", "Results"])
    with tab_run:
        guarded(launch)(ws)
    with tab_view:
        guarded(results)(ws)


main()
