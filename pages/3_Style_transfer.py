"""Style transfer: restyle generated images with their checkpoint's real image, compare raw vs restyled."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

import ui_common as ui
from singanseg_core.services.workspace import Workspace, safe_name

RATIOS = {"1:1 (paper, mild)": "1:1", "1:1000 (paper, strong)": "1:1000", "free": None}


def launch(ws: Workspace) -> None:
    from singanseg_core.sampling.manifest import read_manifest
    from singanseg_core.style import vgg_weights_status

    sets = ws.list_sample_sets()
    if not sets:
        st.info("No saved samples yet: generate and **Save to workspace** on the **Sample** page first.")
        return
    ok, text = vgg_weights_status()
    if not ok:
        st.warning("No pretrained VGG19 weights on this machine: style transfer runs with **random VGG features** "
                   "(the workflow works, the look is not the paper's; results are labelled).",
                   icon=":material/warning:")
    src = st.selectbox("Samples set", sets, key="st_set", help="A saved samples folder (samples/<name>).")
    frame = read_manifest(ws.resolve(Path("samples") / src, must_exist=True))
    images = list(frame["image"])
    chosen = st.multiselect("Generated images", images, default=images[:4], key="st_images",
                            help="Which generated images to restyle (each uses its checkpoint's real image as style).")
    c1, c2, c3, c4 = st.columns(4)
    preset = c1.radio("Content : style", list(RATIOS), index=1, key="st_ratio",
                      help="Weights of the content and style losses. The paper uses 1:1 and 1:1000.")
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
    name = st.text_input("Save as (folder under style/)", value=f"{src}-st-{ratio.replace(':', 'x')}", key="st_out",
                         max_chars=80, help="A new folder is made (suffix added if the name is taken).")
    if st.button("Start style transfer job", key="st_go", type="primary", icon=":material/palette:",
                 disabled=not chosen, help="Runs in a background process; progress shows below."):
        out = ws.unique_dir(ws.style, safe_name(name, "folder name")).name
        args = {"samples": src, "images": chosen, "out": out, "ratio": ratio, "steps": int(steps),
                "optimizer": optimizer, "size": None if size == "native" else int(size), "seed": 0,
                "random_features": not ok}
        ui.submit_job(ws, "style-batch", args, title=f"style {len(chosen)} image(s) of {src} ({ratio})")
    ui.job_panel(ws, ("style-batch",), key="style")


def _zip_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(folder.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                sub = "masks/" if p.name.endswith("_mask.png") else ("" if p.suffix != ".png" else "images/")
                zf.write(p, sub + p.name)
    return buf.getvalue()


def split_view(before: np.ndarray, after: np.ndarray, at: float) -> np.ndarray:
    """Left ``at`` fraction from ``after``, the rest from ``before``, with a white divider line."""
    h, w = before.shape[:2]
    x = int(round(at * w))
    out = before.copy()
    out[:, :x] = after[:, :x]
    if 0 < x < w:
        out[:, max(0, x - 1):x + 1] = 255
    return out


def results(ws: Workspace) -> None:
    sets = [s for s in ws.list_style_sets() if (ws.style / s / "manifest.csv").is_file()]
    if not sets:
        st.caption("No style-transfer results yet.")
        return
    name = st.selectbox("Result set", sets, key="st_view",
                        help="A finished (or partly finished) style-transfer folder under style/.")
    folder = ws.resolve(Path("style") / name, must_exist=True)
    frame = pd.read_csv(folder / "manifest.csv")
    if frame.empty:
        st.caption("Nothing finished in this set yet.")
        return
    if str(frame.get("st_random_features", pd.Series(["False"])).iloc[0]) == "True":
        st.caption(":material/warning: Made with random (not pretrained) VGG19 features.")
    st.download_button("Download zip", _zip_folder(folder), file_name=f"{name}.zip", mime="application/zip",
                       key="st_dl", icon=":material/download:", on_click="ignore",
                       help="Restyled images (images/), their masks (masks/) and manifest.csv.")
    labels = list(frame["image"])
    pick = st.selectbox("Image", labels, key="st_pick", help="Which result to compare in detail.")
    row = frame[frame["image"] == pick].iloc[0]
    raw_path = ws.inside(str(row["st_source_image"]))  # manifest paths: only read inside the workspace
    style_path = ws.inside(str(row["st_style_image"]))
    raw = np.asarray(Image.open(raw_path).convert("RGB"))
    styled = np.asarray(Image.open(folder / pick).convert("RGB"))
    real = np.asarray(Image.open(style_path).convert("RGB"))
    c1, c2, c3 = st.columns(3)
    c1.image(ui.upscale(real, 200), caption="real (style) image", width="stretch")
    c2.image(ui.upscale(raw, 200), caption="generated (raw)", width="stretch")
    c3.image(ui.upscale(styled, 200), caption=f"style-transferred ({row.get('st_ratio', '')})", width="stretch")
    at = st.slider("Before / after", 0.0, 1.0, 0.5, 0.01, key="st_split",
                   help="Drag: left of the line is the style-transferred image, right of it the raw one.")
    st.image(ui.upscale(split_view(raw, styled, at), 320), caption="◀ style-transferred | raw ▶", width=420)


@ui.guarded
def main() -> None:
    ws = ui.page_header("Style transfer", ":material/palette:",
                        "Make generated images look more like the real one (VGG19 style transfer; the mask is "
                        "never changed).")
    tab_run, tab_view = st.tabs(["Run", "Results"])
    with tab_run:
        ui.guarded(launch)(ws)
    with tab_view:
        ui.guarded(results)(ws)


main()
