"""How it works: one checkpoint's pyramid building one sample, coarse to fine (the teaching view).

Everything shown comes from ``SinGANSeg.trace`` (the very loop of sampling, with each scale's intermediates) and
the captions of ``analysis.teaching``; the same figure is ``singanseg explain`` on the command line.
"""

from __future__ import annotations

import io

import numpy as np
import streamlit as st

from singanseg_core.analysis import teaching
from singanseg_core.analysis.tiles import framed, grey, overlay, upscale
from singanseg_core.model.trace import MASK_THRESHOLD
from singanseg_core.services.workspace import Workspace
from ui.deep_links import SEED_MAX, open_deep_link
from ui.empty_seed import empty_seed_notice
from ui.explorers import start_scale_panel
from ui.feedback import guarded, unreadable_checkpoints_note
from ui.glossary import explain
from ui.guided_lesson import guided_pyramid
from ui.labels import describe_start_scale
from ui.layout import page_header
from ui.projector import projector, tile_side
from ui.resources import load_model
from ui.state import checkpoint_picker
from ui.training_record import training_record

COLUMNS = [("real", "Real image + mask"), ("noise", "Noise"), ("prev_up", "From the scale above"),
           ("output", "Output image"), ("mask", "Output mask channel")]


@st.cache_resource(show_spinner="Tracing the pyramid...", max_entries=16)
def _trace(_model, path: str, stamp: float, seed: int, k: int):  # noqa: ANN001, ANN202 - PyramidTrace
    return _model.trace(seed, k)


def choose(ws: Workspace) -> tuple[str, object, int, int] | None:
    unreadable_checkpoints_note(ws)
    names = ws.list_checkpoints(finished_only=True)
    if not names:
        st.info("No finished checkpoint in the workspace yet: train or import one on **Checkpoints**.")
        return None
    open_deep_link(ws, names, seed_key="hw_seed", start_key="hw_start", page="how_it_works")
    c1, c2, c3 = st.columns([2, 1, 2])
    name = checkpoint_picker(ws, names, "Checkpoint", key="hw_ck", container=c1,
                             help="The model to take apart: your newest trained (or last chosen) checkpoint, "
                                  "else the demo's showcase.")
    model = load_model(ws, name)
    seed = int(c2.number_input("Seed", 0, SEED_MAX, key="hw_seed",
                               help="Which random noise to draw: same seed, same sample (as on the Sample page)."))
    k = int(c3.slider("Start scale (gen_start_scale)", 0, model.num_scales, key="hw_start",
                      help=explain("Start scale", "Scales below it reuse the stored reconstruction noise (they "
                                   "copy the training image's layout); from it on, fresh noise is drawn.")))
    st.caption(describe_start_scale(name, model.scale_sizes, k))
    return name, model, seed, k


def pyramid(trace, n: int, side: int) -> None:  # noqa: ANN001 - PyramidTrace
    st.markdown(f"**Rows** — {teaching.TRACE_CAPTIONS['scale']}")
    st.markdown("\n".join(f"- **{title}**: {teaching.TRACE_CAPTIONS[key]}" for key, title in COLUMNS))
    big = projector()  # the scale's label above its row: the tiles get the whole width
    widths = [1] * len(COLUMNS) if big else [1.1] + [1] * len(COLUMNS)
    head = st.columns(widths)
    if not big:
        head[0].markdown("**Scale**")
    for col, (key, title) in zip(head[-len(COLUMNS):], COLUMNS):
        col.markdown(f"**{title}**")
    for s in trace.scales:
        label = teaching.scale_row_label(s, n)
        if big:
            st.markdown(f"**{label[0]}** · {label[1]} · noise {label[2]} · {label[3]}")
        row = st.columns(widths, vertical_alignment="center")
        if not big:
            row[0].markdown(f"**{label[0]}**  \n{label[1]}  \nnoise {label[2]}  \n{label[3]}")
        for col, img, (key, _) in zip(row[-len(COLUMNS):], teaching.scale_row_images(s, side), COLUMNS):
            col.image(img, width="stretch", caption=f"{s.size[1]}×{s.size[0]} px" if key == "real" else None)
    if any(s.used_stored_noise for s in trace.scales):
        st.caption(f":material/info: {teaching.TRACE_CAPTIONS['stored_noise']}")


def threshold_view(trace, side: int) -> None:  # noqa: ANN001 - PyramidTrace
    st.subheader("From the raw mask channel to the mask")
    st.caption(teaching.TRACE_CAPTIONS["raw_mask"])
    t = st.slider("Threshold", 0.05, 0.95, MASK_THRESHOLD, 0.05, key="hw_threshold",
                  help="Pixels whose raw mask value is above it count as object. Sampling uses 0.5.")
    mask, pct = trace.mask_at(t)
    raw = trace.raw_mask if trace.raw_mask is not None else np.zeros(trace.image.shape[:2], np.float32)
    cols = st.columns(4)
    cols[0].image(upscale(trace.image, side), caption="final image", width="stretch")
    cols[1].image(upscale(framed(grey(raw)), side), caption="raw mask channel (0 black … 1 white)",
                  width="stretch")
    cols[2].image(upscale(framed(mask), side), caption=f"mask at threshold {t:.2f}", width="stretch")
    cols[3].image(upscale(overlay(trace.image, mask), side), caption="overlay", width="stretch")
    st.metric("True pixels at this threshold", f"{pct:.1f} %",
              delta=f"{pct - trace.mask_at(MASK_THRESHOLD)[1]:+.1f} pp vs 0.5" if t != MASK_THRESHOLD else None,
              delta_color="off", help=explain("True-pixel %", "Here: the share of mask pixels above the "
                                               "threshold; Mask statistics histograms it over many samples."))


def reals(model, side: int) -> None:  # noqa: ANN001 - SinGANSeg
    with st.expander("The training pair the pyramid learned from", icon=":material/image:"):
        img, mask = model.real_image(), model.real_mask()
        cols = st.columns(3)
        cols[0].image(upscale(img, side), caption=f"real image ({img.width}×{img.height} px)", width="stretch")
        cols[1].image(upscale(framed(mask), side), caption="real mask", width="stretch")
        cols[2].image(upscale(overlay(img, mask), side), caption="overlay", width="stretch")


@guarded
def main() -> None:
    ws = page_header("How it works", ":material/school:",
                     "One SinGAN-Seg model building one sample, scale by scale: what each scale sees, the noise "
                     "it gets and what it adds. Everything here is computed by the same code as sampling.")
    picked = choose(ws)
    if picked is None:
        return
    name, model, seed, k = picked
    cfg = ws.checkpoints / name / "config.json"
    trace = _trace(model, str(cfg.parent), cfg.stat().st_mtime, seed, k)
    side = 256 if projector() else 160
    empty_seed_notice(model, name, seed, k, trace.mask_at(MASK_THRESHOLD)[1], seed_key="hw_seed")
    reals(model, tile_side())
    pyramid(trace, model.num_scales, side)
    st.divider()
    threshold_view(trace, tile_side())
    with st.expander("What the start scale does: this seed from every start scale", icon=":material/stacks:"):
        guarded(start_scale_panel)(model, seed, key="hw_grid")
    with st.expander("Guided: tell the model where the polyp goes (why the coarse scales decide the layout)",
                     icon=":material/ads_click:"):
        guarded(guided_pyramid)(model, str(cfg.parent), cfg.stat().st_mtime, seed)
    with st.expander("How this model was trained (its training record)", icon=":material/monitoring:"):
        training_record(cfg.parent, key="hw_record")

    def png() -> bytes:
        buf = io.BytesIO()
        teaching.trace_figure(trace, tile=side, threshold=float(st.session_state.get("hw_threshold", 0.5)),
                              name=name).save(buf, format="PNG")
        return buf.getvalue()

    st.download_button("Download this figure (PNG)", png, file_name=f"{name}_seed{seed}_start{k}_trace.png",
                       mime="image/png", key="hw_dl", icon=":material/download:", on_click="ignore",
                       help="The whole pyramid with captions as one picture (the same as `singanseg explain`).")


main()
