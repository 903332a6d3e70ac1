"""Checkpoints: browse trained models, add image/mask data, train in the background, import legacy checkpoints."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from singanseg_core.analysis.tiles import framed, overlay, upscale
from singanseg_core.services import catalog
from singanseg_core.services.workspace import MAX_UPLOAD_MB, MAX_ZIP_MB, Workspace
from ui.access import shown_path, upload_limit, why_locked
from ui.controls import button, delete_control, rename_control
from ui.feedback import guarded, shown_settings
from ui.jobs import job_panel, submit_job
from ui.layout import page_header
from ui.projector import tile_side
from ui.resources import checkpoint_config, real_pair
from ui.state import derived_selectbox, derived_text_input, sticky_multiselect, warm_start_picker
from ui.figures import show_table
from ui.training_record import training_now, training_record, watch_training
from ui.training_time import estimate_caption, preset_help
from ui.uploads import add_uploaded_pairs, import_uploaded_zip


def browse(ws: Workspace) -> None:
    table = catalog.checkpoint_table(ws)
    if table.empty:
        st.info("No checkpoints yet: train one in the **Train** tab or import legacy ones.")
        return
    show_table(table)
    readable = table[table["scales"].notna()]["checkpoint"].tolist()
    if not readable:
        return
    name = st.selectbox("Checkpoint", readable, key="ck_pick",
                        help="Pick a checkpoint (newest first) to see its training image, mask, scales and settings.")
    path = ws.resolve(Path("checkpoints") / name, must_exist=True)
    cfg = checkpoint_config(ws, name)
    pair = real_pair(ws, name)
    if pair is not None:
        img, m = pair
        c1, c2, c3 = st.columns(3)
        c1.image(upscale(img, tile_side()), caption="real image", width="stretch")
        c2.image(upscale(framed(m), tile_side()), caption="real mask", width="stretch")
        c3.image(upscale(overlay(img, m), tile_side()), caption="overlay", width="stretch")
    st.markdown(f"**{len(cfg['sizes'])} scales** (1 = coarsest), scale factor {cfg['scale_factor']:.4f}, "
                f"{cfg['nc_im']} channels ({'image + mask' if cfg['nc_im'] == 4 else 'image only'})")
    show_table(catalog.scales_table(cfg))
    with st.expander("Training settings and source", expanded=True):
        show_table(shown_settings(ws, catalog.checkpoint_settings(cfg)))
    with st.expander("Training record (losses per scale, last sample and reconstruction)",
                     icon=":material/monitoring:"):
        training_record(path, key="ck_record", live=name in training_now(ws))
    with st.expander("Rename", icon=":material/edit:"):
        rename_control(ws, name, key="ck_rename")
    delete_control(ws, "checkpoints", name, key="ck_del")


def add_data(ws: Workspace) -> None:
    st.markdown("Add real image/mask pairs to a workspace dataset (Kvasir-SEG layout `images/` + `masks/`). "
                f"Single files up to {MAX_UPLOAD_MB} MB, zips up to {MAX_ZIP_MB} MB.")
    existing = catalog.newest_first(ws, "datasets")
    locked = bool(why_locked("upload"))  # and the server refuses a locked session's files (ui.server_guard)
    dataset = st.text_input("Dataset name", value="my-data", key="up_dataset", max_chars=60,
                            help="A new or existing dataset folder under datasets/ (letters, digits, . _ -). "
                                 f"Existing: {', '.join(existing) or 'none'}.")
    mode = st.radio("Upload as", ["image + mask files", "zip (Kvasir-SEG layout)"], horizontal=True, key="up_mode",
                    help="Files: images and masks are paired by file name (stem). Zip: the archive must hold "
                         "images/ and masks/ folders (at the top or in one folder, like Kvasir-SEG.zip).")
    if mode.startswith("image"):
        c1, c2 = st.columns(2)
        kinds = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"]
        images = c1.file_uploader("Images", type=kinds, accept_multiple_files=True, key="up_images", disabled=locked,
                                  max_upload_size=MAX_UPLOAD_MB, help="RGB images; each needs a mask with the same "
                                                                      "file stem.")
        masks = c2.file_uploader("Masks", type=kinds, accept_multiple_files=True, key="up_masks", disabled=locked,
                                 max_upload_size=MAX_UPLOAD_MB,
                                 help="Binary masks (white = object), same size as their image; grey levels are "
                                      "thresholded at 127 when training.")
        if button("Add pairs", key="up_add", icon=":material/upload:", type="primary", action="upload",
                  why_not=upload_limit(len(images) + len(masks or [])) if images
                  else "choose at least one image and its mask",
                  help="Check the files and copy them into the dataset (names are made unique)."):
            add_uploaded_pairs(ws, dataset, images or [], masks or [])
    else:
        zfile = st.file_uploader("Zip file", type=["zip"], key="up_zip", max_upload_size=MAX_ZIP_MB, disabled=locked,
                                 help="A zip with images/ and masks/ (e.g. kvasir-seg.zip). Links, absolute paths and "
                                      "'..' entries are refused.")
        if button("Import zip", key="up_zip_go", icon=":material/upload:", type="primary", action="upload",
                  why_not=upload_limit(1) if zfile is not None else "choose a zip file first",
                  help="Unpack into a new dataset folder (a unique name is chosen if it exists)."):
            import_uploaded_zip(ws, dataset, zfile)
    st.subheader("Datasets")
    table = catalog.dataset_table(ws)
    if table.empty:
        return
    show_table(table)
    pick = st.selectbox("Dataset to manage", table["dataset"].tolist(), key="ds_pick",
                        help="Newest first. Deleting a dataset keeps the checkpoints trained on it.")
    delete_control(ws, "datasets", pick, key="ds_del")


def train_tab(ws: Workspace) -> None:
    from singanseg_core.training.config import PRESETS, TrainConfig, default_preset
    from singanseg_core.training.prior import WARM_BUDGET_DIVISOR, warm_niter

    datasets = catalog.newest_first(ws, "datasets")
    if not datasets:
        st.info("Add a dataset first (tab **Add data**).")
        return
    dataset = st.selectbox("Dataset", datasets, key="tr_dataset", help="Real image/mask pairs to train on "
                                                                       "(newest dataset first).")
    pairs = {s: img for s, img, _ in ws.dataset_pairs(dataset)}
    stems = list(pairs)
    chosen = sticky_multiselect("Images to train on (one model each)", stems, key="tr_stems", default=stems[:1],
                                help="Each selected pair gets its own SinGAN-Seg model, trained one after another "
                                        "in a background job. Picks that exist in another dataset are kept when you "
                                        "switch.")
    c1, c2, c3, c4 = st.columns(4)
    r2 = st.columns(3)
    prior = warm_start_picker(ws, key="tr_prior", container=r2[2])
    preset = derived_selectbox("Preset", list(PRESETS), default_preset(len(chosen)), key="tr_preset", container=c1,
                               help=preset_help(ws, pairs[chosen[0]] if chosen else None, "auto"))
    base = PRESETS[preset]
    max_size = c2.number_input("Max size (px)", 32, 512, base.max_size, step=8, key=f"tr_max_{preset}",
                               help="Longest side of the finest scale; training time grows with its square.")
    niter = c3.number_input("Iterations per scale", 10, 4000, warm_niter(base.niter) if prior else base.niter,
                            step=10, key=f"tr_iter_{preset}{'_warm' if prior else ''}",
                            help=f"Paper: 2000; from a warm start 1/{WARM_BUDGET_DIVISOR} of the preset's. Fewer = "
                                 f"faster but blurrier samples. The learning rates drop x{base.gamma:g} at "
                                 + (f"{base.lr_drop_at:.0%} of the iterations." if base.lr_drop_at else
                                    f"iteration {base.lr_drop_epoch} (the original's rule)."))
    seed = c4.number_input("Seed", 0, 2**31 - 1, 0, key="tr_seed", help="Same seed, data and settings → same model.")
    c1, c2 = r2[0], r2[1]
    device = c1.radio("Device", ["auto", "cpu", "cuda"], horizontal=True, key="tr_device",
                      help="auto uses a GPU when there is one.")
    parallel = c2.select_slider("Models trained together", [1, 2, 4, 8, "auto"], value=1, key="tr_parallel",
                                help="Train several same-sized models in one batched group (faster on a GPU; "
                                     "auto = as many as fit in memory). 1 = one after another (best on few CPUs).")
    cfg = TrainConfig.from_preset(preset, max_size=int(max_size), niter=int(niter), seed=int(seed))
    st.caption(estimate_caption(ws, cfg, [pairs[s] for s in chosen], device))
    names = {s: s for s in chosen}
    if len(chosen) == 1:
        names[chosen[0]] = derived_text_input(
            "Checkpoint name", chosen[0], key="tr_name", max_chars=128,
            help="A friendly name for the model (its folder under checkpoints/ and the name in its config); "
                 "follows the chosen image until you type your own. With several images, each model is named "
                 "after its image.")
    taken = catalog.taken_names(ws, "checkpoints", names.values())
    fresh = True
    if taken:
        fresh = st.checkbox(f"Train into new checkpoint folders ({', '.join(taken)} exist)", value=True,
                            key="tr_fresh",
                            help="On: new folders with a -2, -3... suffix; existing checkpoints stay as they are. "
                                 "Off: finished checkpoints are skipped and partial ones continue from their last "
                                 "finished scale (same settings needed).")
    if button("Start training job", key="tr_go", type="primary", icon=":material/model_training:", action="train",
              why_not=None if chosen else "choose at least one image to train on",
              help="Runs in a background process; you can leave the page."):
        args = {"dataset": dataset, "stems": chosen, "names": names, "fresh": fresh, "preset": preset,
                "device": device, "parallel": parallel, "prior": prior,
                "overrides": {"max_size": int(max_size), "niter": int(niter), "seed": int(seed)}}
        shown = ", ".join(chosen[:3]) + (" …" if len(chosen) > 3 else "")
        submit_job(ws, "train", args, title=f"train {len(chosen)} model(s) on {dataset}: {shown}")
    job_panel(ws, ("train",), key="train")
    watch_training(ws, key="tr_watch")


def legacy_tab(ws: Workspace) -> None:
    st.markdown("Copy the published SinGAN-Seg checkpoints (`Gs.pth`, `Zs.pth`, `reals.pth`, `NoiseAmp.pth` per "
                f"model, e.g. `TrainedModels_1_clean/`) into `{shown_path(ws, ws.legacy)}`; they are read with a "
                "restricted unpickler (nothing is executed) and converted to the safe checkpoint format.")
    folders = catalog.legacy_folders(ws)
    if not folders:
        st.info(f"No folders in `{shown_path(ws, ws.legacy)}` yet.")
        return
    src = st.selectbox("Legacy folder", folders, key="lg_src",
                       help="A folder inside legacy/ (one model or a tree of models).")
    if button("Import", key="lg_go", icon=":material/move_to_inbox:", type="primary", action="import",
              help="Runs as a background job; already imported models are skipped."):
        submit_job(ws, "import-legacy", {"src": f"legacy/{src}"}, title=f"import legacy/{src}")
    job_panel(ws, ("import-legacy",), key="legacy")


@guarded
def main() -> None:
    ws = page_header("Checkpoints", ":material/inventory_2:",
                     "Trained SinGAN-Seg models of the workspace: one per real image+mask pair.")
    tabs = st.tabs(["Browse", "Add data", "Train", "Import legacy"])
    for tab, fn in zip(tabs, (browse, add_data, train_tab, legacy_tab)):
        with tab:
            guarded(fn)(ws)


main()
