"""Augmentation study: UNet++ trained on real, synthetic and real+synthetic data; IoU / F-score vs R (the paper)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from singanseg_core.errors import InputError
from singanseg_core.services import catalog
from singanseg_core.services.workspace import Workspace, safe_name
from ui.controls import button, delete_control
from ui.feedback import guarded
from ui.jobs import JOB_REFRESH_S, job_panel, submit_job
from ui.labels import SOURCE_HELP, SOURCE_LABELS
from ui.layout import page_header
from ui.figures import show, show_table
from ui.state import derived_text_input

ENCODERS = ["mobilenet_v2", "resnet18", "resnet34", "se_resnext50_32x4d"]
KIND_LABELS = {"small-data": "Small data (Table 2: R real images vs k·R synthetic)",
               "real-vs-synthetic": "Real vs synthetic (Table 1: k-fold, REAL vs FAKE-N)"}


def configure(ws: Workspace) -> None:
    from singanseg_core.studies import STUDY_PRESETS, StudyConfig
    from singanseg_core.studies.config import parse_counts
    from singanseg_core.studies.plan import default_r_values, describe_plan, max_r

    datasets = catalog.newest_first(ws, "datasets")
    if not datasets:
        st.info("Add a dataset on **Checkpoints → Add data** first.")
        return
    c1, c2, c3 = st.columns([2, 1, 2])
    kind = c1.selectbox("Study", list(KIND_LABELS), format_func=KIND_LABELS.get, key="au_kind",
                        help="Small data: how much do synthetic images help when only R real images exist? "
                             "Real vs synthetic: can synthetic data replace real data?")
    preset = c2.selectbox("Preset", ["demo", "paper"], key="au_preset",
                          help="demo: tiny GANs and a light UNet++, minutes on CPU. paper: the paper's settings "
                               "(GPU, hours to days).")
    dataset = c3.selectbox("Dataset", datasets, key="au_dataset",
                           help="Real image/mask pairs (newest first); a SinGAN-Seg model is trained per image the "
                                "study needs.")
    base = STUDY_PRESETS[(kind, preset)]
    n_pairs = len(ws.dataset_pairs(dataset))
    n_used = min(n_pairs, base.get("max_images") or n_pairs)
    sfx = f"{kind}_{preset}_{dataset}"  # keys per choice, so switching preset/study/dataset resets its defaults
    c1, c2, c3, c4 = st.columns([3, 2, 3, 2])
    if kind == "small-data":
        pool = max_r(n_used, StudyConfig.n_folds)
        r_default = default_r_values(base["r_values"], n_used, StudyConfig.n_folds)
        r_text = c1.text_input("R values (real images)", ", ".join(map(str, r_default)),
                               key=f"au_r_{sfx}", help=f"Numbers of real images from fold one (it has {pool} of the "
                                                       f"dataset's {n_pairs} images).")
        k = c2.number_input("k (synthetic per real image)", 1, 100, int(base["samples_per_image"]),
                            key=f"au_k_{sfx}", help="S = k·R synthetic pairs are generated from the R images' models.")
    else:
        r_text = c1.text_input("N values (samples per real image)", ", ".join(map(str, base["n_values"])),
                               key=f"au_n_{sfx}", help="FAKE-N trains on N synthetic samples per real training image.")
        k = None
    variants = c3.multiselect("Synthetic data", ["raw", "st-1:1", "st-1:1000"], default=base["variants"],
                              key=f"au_variants_{sfx}",
                              help="raw: SinGAN output; st-C:S: style-transferred with content:style weights C:S.")
    seeds_text = c4.text_input("UNet++ seeds", "0", key=f"au_seeds_{sfx}",
                               help="Every run is repeated once per seed (e.g. 0, 1, 2); the results then show the "
                                    "spread over seeds, i.e. how much of a difference is training noise.")
    source = st.radio("Synthetic pairs from", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get, horizontal=True,
                      key=f"au_source_{sfx}", help=SOURCE_HELP)
    seg_preset = base.get("seg_extra", {})
    c1, c2, c3 = st.columns(3)
    encoder = c1.selectbox("UNet++ encoder", ENCODERS, index=0 if preset == "demo" else len(ENCODERS) - 1,
                           key=f"au_enc_{sfx}",
                           help="Backbone of UNet++ (paper: se_resnext50_32x4d). Random init offline.")
    epochs = c2.number_input("Epochs", 1, 1000, int(seg_preset.get("epochs", 4)), key=f"au_epochs_{sfx}",
                             help="UNet++ training epochs per run (paper: 100 or 300).")
    size = c3.selectbox("Image size (px)", [64, 128, 256], index=0 if preset == "demo" else 1, key=f"au_size_{sfx}",
                        help="Images are resized to this square size for UNet++ (multiple of 32).")
    name = derived_text_input("Study name (folder under studies/)", f"{kind}-{dataset}", key="au_name",
                              max_chars=80, help="Follows the study kind and dataset until you type a name of your "
                                 "own. Reusing a name continues that study (finished runs are skipped) when the settings "
                                 "match; a study of that name with other settings is not touched and the launch is "
                                 "refused.")
    overrides: dict = {"variants": variants, "synthetic_source": source,
                       "seg_overrides": {"encoder_name": encoder, "epochs": int(epochs), "image_size": int(size)}}
    why_not, plan = None, None
    try:
        values = parse_counts(r_text, "R values" if kind == "small-data" else "N values")
        overrides["seeds"] = parse_counts(seeds_text, "UNet++ seeds", lo=0)
        if kind == "small-data":
            overrides.update(r_values=values, samples_per_image=int(k))
        else:
            overrides.update(n_values=values)
        plan = describe_plan(StudyConfig.from_preset(kind, preset, ws.datasets / dataset, **overrides), n_pairs)
        why_not = plan.problems[0] if plan.problems else None
    except InputError as err:
        why_not = str(err)
    if plan is not None:
        st.caption(f":material/calculate: {plan.describe()}.")
        for warning in plan.warnings:
            st.warning(warning, icon=":material/warning:")
    if button("Launch study", key="au_go", type="primary", icon=":material/science:", why_not=why_not,
              action="study",
              help="Runs as a background job: SinGAN models, samples, then one UNet++ run after another."):
        if any(v.startswith("st-") for v in variants):
            from singanseg_core.style.vgg import resolve_random_features

            overrides["st_random_features"] = resolve_random_features(None)[0]
        args = {"name": safe_name(name, "study name"), "kind": kind, "preset": preset, "dataset": dataset,
                "overrides": overrides}
        submit_job(ws, "study", args, title=f"study {args['name']} ({kind}, {preset})")
    job_panel(ws, ("study",), key="study", title="Study jobs")


def show_results(ws: Workspace) -> None:
    from singanseg_core.services import jobs

    running = any(j.active for j in jobs.list_jobs(ws, kind="study"))

    @st.fragment(run_every=JOB_REFRESH_S if running else None)
    def panel() -> None:  # re-reads the study folder every refresh while a study runs: results run by run
        guarded(study_view)(ws)

    panel()


def study_view(ws: Workspace) -> None:
    from singanseg_core.studies import load_study
    from singanseg_core.studies.plan import MIN_VALIDATION_IMAGES
    from singanseg_core.studies.results import read_study, seed_spread

    names = [n for n in catalog.newest_first(ws, "studies") if (ws.studies / n / "study.json").is_file()]
    if not names:
        st.caption("No studies yet. Launch one above; results appear here run by run.")
        return
    name = st.selectbox("Study", names, key="au_view", help="Earlier and running studies of this workspace, newest "
                                                            "first.")
    res = load_study(ws.resolve(Path("studies") / name, must_exist=True))
    st.caption(f"{res.config.kind}: {len(res.table)} run(s) finished, {len(res.pending)} pending · dataset "
               f"`{Path(res.config.data_dir).name}`")
    if res.table.empty:
        st.info("No finished run yet: results appear here as each UNet++ run finishes.")
    else:
        small_val = int(res.table["n_val"].min())
        if 0 < small_val < MIN_VALIDATION_IMAGES:
            st.warning(f"Validation on only {small_val} image(s): one image moves the mean by "
                       f"{100 / small_val:.0f} points or more; treat small differences as noise.",
                       icon=":material/warning:")
        metric = st.radio("Metric", ["iou", "fscore", "precision", "recall", "accuracy"], horizontal=True,
                          key="au_metric", help="Validation metric on the held-out real images.")
        show(res.figure(metric), key="au_chart")
        st.info(read_study(res.config.kind, res.table, metric), icon=":material/lightbulb:")
        show_table(res.summary if not res.summary.empty else res.table)
        spread = seed_spread(res.table, metric)
        if not spread.empty:
            st.markdown(f"**Spread over seeds** ({metric}: same data, only the UNet++ seed differs; largest range "
                        f"{float((spread['max'] - spread['min']).max()):.3f})")
            show_table(spread)
        st.download_button("Download results (CSV)", res.table.to_csv(index=False), file_name=f"{name}_results.csv",
                           mime="text/csv", key="au_dl", icon=":material/download:", on_click="ignore",
                           help="One row per finished UNet++ run with all metrics.")
    delete_control(ws, "studies", name, key="au_del")


@guarded
def main() -> None:
    ws = page_header("Augmentation study", ":material/science:",
                     "Does synthetic data help segmentation? UNet++ trained on real, synthetic and both.")
    with st.container(border=True):
        guarded(configure)(ws)
    st.subheader("Results")
    guarded(show_results)(ws)


main()
