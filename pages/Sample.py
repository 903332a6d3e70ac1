"""Sample: generate image+mask pairs from one or more checkpoints, inspect them, save and download."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from singanseg_core.analysis.tiles import framed, grey, overlay, triptych, upscale
from singanseg_core.services.workspace import Workspace
from ui.controls import button
from ui.deep_links import SEED_MAX, open_deep_link
from ui.explorers import explore, patch_nn_panel, quality_flag
from ui.feedback import guarded, unreadable_checkpoints_note
from ui.guide_tab import guide_panel
from ui.labels import REDRAW_HELP, describe_sampling, describe_start_scale, sample_set_name
from ui.layout import page_header
from ui.projector import tile_side, tiles_per_row
from ui.resources import load_model
from ui.sampling_budget import bounded_sampling
from ui.state import checkpoint_picker, derived_text_input

MAX_SAMPLES = 64
MAX_REDRAWS = 8   # on this page (the CLI allows sampling.writer.MAX_REDRAWS)


def settings(ws: Workspace, names: list[str]) -> dict | None:
    open_deep_link(ws, names, seed_key="sm_seed", start_key="sm_start", page="sample")
    chosen = checkpoint_picker(ws, names, "Checkpoints", key="sm_ckpts", multi=True,
                               help="Samples are generated from each chosen checkpoint with the same settings. "
                                    "Opens on your newest trained (or last chosen) checkpoint.")
    if not chosen:
        st.info("Choose at least one checkpoint.")
        return None
    models = {n: load_model(ws, n) for n in chosen}
    max_k = min(m.num_scales for m in models.values())
    depths = "; ".join(f"{n}: {m.num_scales} scales" for n, m in models.items())
    c1, c2 = st.columns([2, 1])
    with c1:
        k = st.slider("Generation start scale (gen_start_scale, 0-based)", 0, max_k, key="sm_start",
                      help="The paper's gen_start_scale, counted from 0. 0 = fresh noise at every scale (most "
                           "varied); k keeps the real image's layout at scales 1..k and generates the finer ones; "
                           f"k = number of scales reconstructs the real image. Chosen: {depths}"
                           + (" (the slider stops at the shallowest)." if len(models) > 1 else "."))
        for name, model in models.items():
            st.caption(describe_start_scale(name, model.scale_sizes, int(k)))
    with c2:
        n = st.number_input("Samples per checkpoint", 1, MAX_SAMPLES, 8, key="sm_n",
                            help=f"How many image+mask pairs to generate for each checkpoint (at most {MAX_SAMPLES} "
                                 "on this page; the CLI has no limit).")
        seed = st.number_input("Seed", 0, SEED_MAX, key="sm_seed",
                               help="Same checkpoint, settings and seed → the same samples.")
        redraw = st.number_input("Redraw empty masks (tries)", 0, MAX_REDRAWS, 0, key="sm_redraw", help=REDRAW_HELP)
    c3, c4 = st.columns(2)
    free = k == 0
    why = None if free else "width and height factors apply at start scale 0 only"
    sh = c3.slider("Width factor", 0.5, 3.0, 1.0, 0.25, key="sm_sh", disabled=not free,
                   help="Output width relative to the training size" + (f" (disabled: {why})." if why else "."))
    sv = c4.slider("Height factor", 0.5, 3.0, 1.0, 0.25, key="sm_sv", disabled=not free,
                   help="Output height relative to the training size" + (f" (disabled: {why})." if why else "."))
    if not free:
        st.caption(f":material/block: Width and height factors: {why}.")
        sh = sv = 1.0
    return {"checkpoints": chosen, "gen_start_scale": int(k), "n": int(n), "seed": int(seed),
            "scale_h": float(sh), "scale_v": float(sv), "redraw_empty": int(redraw)}


def generate(ws: Workspace, params: dict) -> dict:
    out = {"params": params, "results": {}, "seconds": 0.0}
    models = {name: load_model(ws, name) for name in params["checkpoints"]}
    with bounded_sampling(list(models.values()), params["n"], params["scale_h"], params["scale_v"],
                          params["redraw_empty"]):
        t0 = time.perf_counter()
        progress = st.progress(0.0, text="Generating...")
        for i, (name, model) in enumerate(models.items()):
            s = model.sample(params["n"], params["gen_start_scale"], scale_h=params["scale_h"],
                             scale_v=params["scale_v"], seed=params["seed"], redraw_empty=params["redraw_empty"])
            out["results"][name] = {"images": s.images, "masks": s.masks, "pct": s.true_pixel_pct, "samples": s}
            progress.progress((i + 1) / len(models), text=f"{name}: {len(s)} samples")
        progress.empty()
    out["seconds"] = time.perf_counter() - t0
    return out


def gallery(ws: Workspace, result: dict) -> None:
    from singanseg_core.analysis.stats import mask_mean_std

    view = st.radio("Show", ["image / mask / overlay", "image", "mask", "overlay"], horizontal=True, key="sm_view",
                    help="What each gallery tile shows; overlay paints the mask over the image.")
    wide = view.startswith("image /")
    per_row, side = tiles_per_row(wide), tile_side()
    for name, r in result["results"].items():
        st.markdown(f"#### {name}")
        quality_flag(r["samples"], name)
        mean, std = mask_mean_std(r["masks"])
        cols = st.columns(4)
        cols[0].image(upscale(load_model(ws, name).real_image(), side), caption="real image", width="stretch")
        cols[1].image(upscale(framed(grey(mean)), side), caption="mask mean (white = always object)",
                      width="stretch")
        cols[2].image(upscale(framed(grey(std, 0.5)), side), caption="mask std (white = varies most)",
                      width="stretch")
        cols[3].metric("True pixels (mean)", f"{float(np.mean(r['pct'])):.1f} %",
                       help="Average share of mask pixels that are object, over these samples.")
        draw = {"image": lambda i, m: i, "mask": lambda i, m: framed(m), "overlay": overlay}.get(view, triptych)
        tiles = [draw(img, msk) for img, msk in zip(r["images"], r["masks"])]
        caps = r["samples"].captions()
        for lo in range(0, len(tiles), per_row):
            cols = st.columns(per_row)
            for c, t, cap in zip(cols, tiles[lo:lo + per_row], caps[lo:lo + per_row]):
                c.image(upscale(t, side), caption=cap, width="stretch")


def save(ws: Workspace, result: dict) -> None:
    from singanseg_core.sampling.zips import zip_sample_folder as samples_to_zip
    from singanseg_core.sampling.writer import write_sample_set

    p = result["params"]  # the shown samples' own settings, never the widgets' current ones
    redraw = p.get("redraw_empty", 0)
    default = sample_set_name(p["checkpoints"], p["gen_start_scale"], p["seed"], redraw)
    c1, c2 = st.columns([5, 2], vertical_alignment="bottom")
    name = derived_text_input("Save as (folder under samples/)", default, key="sm_save_name", container=c1,
                              max_chars=80, help="Follows the shown samples' start scale and seed until you type "
                              "a name of your own. A new folder is created; if the name is taken a suffix is "
                              "added.")
    if button("Save samples", key="sm_save", icon=":material/save:", action="sample-save", container=c2,
              help=f"Writes the {p['n']} sample(s) per checkpoint shown above "
                      f"({describe_sampling(p['gen_start_scale'], p['seed'], redraw)}): images, masks and manifest.csv."):
        models = [load_model(ws, ck) for ck in p["checkpoints"]]
        with ws.new_dir(ws.samples, name, "folder name") as folder, \
                bounded_sampling(models, p["n"], p["scale_h"], p["scale_v"], redraw), \
                st.spinner(f"Writing {p['n']} sample(s) per checkpoint..."):
            write_sample_set(models, folder, p["n"], p["gen_start_scale"], p["seed"], scale_h=p["scale_h"],
                             scale_v=p["scale_v"], redraw_empty=redraw)
        st.session_state["sm_saved"] = folder.name
    saved = st.session_state.get("sm_saved")
    if saved and (ws.samples / saved).is_dir():
        st.success(f"Saved to samples/{saved}.")
        st.download_button("Download zip (images/, masks/, manifest.csv)", samples_to_zip(ws.samples / saved),
                           file_name=f"{saved}.zip", mime="application/zip", key="sm_dl",
                           icon=":material/download:", on_click="ignore",
                           help="The saved set as a zip: images/, masks/ and manifest.csv.")


def from_checkpoints(ws: Workspace) -> None:
    unreadable_checkpoints_note(ws)
    names = ws.list_checkpoints(finished_only=True)
    if not names:
        st.info("No finished checkpoint in the workspace yet: train or import one on **Checkpoints**, or try "
                "the tab **Instant, no training**.")
        return
    params = settings(ws, names)
    if params is None:
        return
    if st.button("Generate", key="sm_go", type="primary", icon=":material/auto_awesome:",
                 help="Generate the samples with these settings."):
        st.session_state["sm_result"] = guarded(generate)(ws, params)
        st.session_state.pop("sm_saved", None)
    result = st.session_state.get("sm_result")
    if not result:
        st.caption("Press **Generate** to see samples.")
        return
    shown = result["params"]
    if shown != params:
        st.caption(f":material/info: Settings changed since these samples were generated ("
                   f"{describe_sampling(shown['gen_start_scale'], shown['seed'], shown.get('redraw_empty', 0))}); "
                   "they and **Save** keep those settings until you press Generate again.")
    n_total = sum(len(r["images"]) for r in result["results"].values())
    st.success(f"{n_total} samples in {result['seconds']:.2f} s.", icon=":material/check:")
    gallery(ws, result)
    st.divider()
    explore(ws, result)
    st.divider()
    guarded(save)(ws, result)


@guarded
def main() -> None:
    ws = page_header("Sample", ":material/auto_awesome:",
                     "Generate new image+mask pairs. Sampling runs right here (it is fast); everything is "
                     "reproducible from the seed.")
    tab_ck, tab_guide, tab_nn = st.tabs(["From a checkpoint", "Guide: put the object where you want",
                                         "Instant, no training (patch nearest neighbours)"])
    with tab_ck:
        from_checkpoints(ws)
    with tab_guide:
        guarded(guide_panel)(ws, ws.list_checkpoints(finished_only=True), key="gd")
    with tab_nn:
        guarded(patch_nn_panel)(ws, key="sm_nn")


main()
