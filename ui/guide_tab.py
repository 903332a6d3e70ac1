"""The Sample page's Guide tab: tell a checkpoint where the object goes (``model.guided``, ``model.edit``).

The requested mask comes from one of three places: a real mask of a workspace dataset moved about
(``model.layout``), a drawing over the training image (``streamlit-drawable-canvas``), or the training polyp itself
dragged and resized (``model.edit``). Generated samples are shown with their masks against the requested one and
the agreement (IoU); the first sample's pyramid can be shown with the entry scale marked; the shown samples can be
saved as a guided sample set (``sampling.guided_writer``) behind the classroom gate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

from singanseg_core.errors import InputError
from singanseg_core.services.workspace import Workspace
from ui.controls import button
from ui.feedback import guarded
from ui.labels import guided_set_name
from ui.projector import tile_side, tiles_per_row
from ui.resources import load_model
from ui.state import derived_text_input
from ui.sampling_budget import bounded_sampling

MAX_GUIDE_SAMPLES = 32           # per Generate on this page (the CLI allows model.guided.MAX_GUIDED_SAMPLES)
CANVAS_SIDE = 256                # px: the drawing canvas's longest side
MAX_CANVAS_PIXELS = (4 * CANVAS_SIDE) ** 2  # a drawing sent back by the browser (up to 4x device pixel ratio)
MAX_CANVAS_BYTES = 4 * 2**20     # bytes of that drawing's PNG; anything larger is refused before decoding
SOURCES = ["A real mask from a dataset", "Draw it", "Move the training polyp"]


@dataclass
class GuideRequest:
    """What the person asked for: a mask (``(H, W)`` float in [0, 1]) or an edit of the training polyp.

    Attributes:
        mask: the requested mask (``None`` for an edit).
        edit: a ``model.edit.EditSpec`` (``None`` for a mask).
        guide: the manifest's record of the guide (``mask:<what>`` or ``edit:<spec>``).
        slug: a short name part for the default folder name.
        why_not: set when the request cannot be generated yet (said on the disabled button).
    """

    mask: np.ndarray | None = None
    edit: Any = None
    guide: str = ""
    slug: str = ""
    why_not: str | None = None
    signature: tuple = field(default_factory=tuple)


# ------------------------------------------------------------------------------------------- the three sources
def canvas_mask(png: bytes | None) -> np.ndarray | None:
    """The drawing the browser sent (an RGBA PNG: strokes over transparency) as ``(H, W)`` float32 in {0, 1}
    (drawn = 1); ``None`` when nothing was drawn. Bounded: at most :data:`MAX_CANVAS_BYTES` and
    :data:`MAX_CANVAS_PIXELS`.

    Raises:
        InputError: one line naming the drawing, when it is too large or not a PNG.
    """
    from singanseg_core.files.images import open_bounded

    if not png:
        return None
    if len(png) > MAX_CANVAS_BYTES:
        raise InputError(f"the drawing: {len(png) / 2**20:.1f} MB from the browser; at most "
                         f"{MAX_CANVAS_BYTES // 2**20} MB")
    img = open_bounded(png, "the drawing", max_pixels=MAX_CANVAS_PIXELS)
    alpha = np.asarray(img.getchannel("A") if "A" in img.getbands() else img.convert("L"))
    drawn = (alpha > 127).astype(np.float32)
    return drawn if drawn.any() else None


def from_dataset(ws: Workspace, key: str) -> GuideRequest:
    """A real mask of a workspace dataset, flipped / shifted / rescaled by the person."""
    from singanseg_core.model.guided import read_guide_mask
    from singanseg_core.model.layout import MaskTransform, apply_transform

    names = ws.list_datasets()
    if not names:
        return GuideRequest(why_not="no dataset in the workspace: upload image+mask pairs on Checkpoints")
    c1, c2 = st.columns(2)
    dataset = c1.selectbox("Dataset", names, key=f"{key}_ds", help="The dataset whose masks you can pick.")
    pairs = ws.dataset_pairs(dataset)
    if not pairs:
        return GuideRequest(why_not=f"dataset {dataset} holds no image+mask pair")
    stems = [p[0] for p in pairs]
    stem = c2.selectbox("Mask", stems, key=f"{key}_stem", help="The real mask to ask for (its polyp's shape).")
    c3, c4, c5, c6, c7 = st.columns(5)
    t = MaskTransform(
        flip_h=c3.checkbox("Flip left-right", key=f"{key}_fh", help="Mirror the mask left to right."),
        flip_v=c4.checkbox("Flip top-bottom", key=f"{key}_fv", help="Mirror the mask top to bottom."),
        dx=c5.slider("Shift x", -0.5, 0.5, 0.0, 0.05, key=f"{key}_dx",
                     help="Move the mask right (positive) or left, as a fraction of the image width."),
        dy=c6.slider("Shift y", -0.5, 0.5, 0.0, 0.05, key=f"{key}_dy",
                     help="Move the mask down (positive) or up, as a fraction of the image height."),
        scale=c7.slider("Scale", 0.25, 2.0, 1.0, 0.05, key=f"{key}_sc",
                        help="Shrink or enlarge the mask about the image centre."))
    path = dict((s, m) for s, _, m in pairs)[stem]
    mask = apply_transform(read_guide_mask(path, f"{dataset}/{path.name}"), t)
    moved = "" if t.describe() == "none" else f" ({t.describe()})"
    return GuideRequest(mask=mask, guide=f"mask:{dataset}/{path.name}{moved}",
                        slug=f"mask-{stem}" + ("-moved" if moved else ""), signature=(dataset, stem, t))


def from_drawing(model: Any, key: str) -> GuideRequest:
    """A mask drawn over the training image (a canvas :data:`CANVAS_SIDE` px on its longest side)."""
    from streamlit_drawable_canvas import st_canvas  # registers its component: only inside a running page

    image = model.real_image()
    w, h = image.size
    f = CANVAS_SIDE / max(w, h)
    cw, ch = max(1, round(w * f)), max(1, round(h * f))
    brush = st.slider("Brush size (px on the canvas)", 4, 48, 20, 2, key=f"{key}_brush",
                      help="Width of the brush you paint the object with.")
    st.caption("Paint the object where it should go, over the training image (undo and reset on the canvas's "
               "toolbar).")
    drawn = st_canvas(fill_color="rgba(255, 40, 120, 0.5)", stroke_width=int(brush),
                      stroke_color="rgba(255, 40, 120, 0.8)", background_image=image.resize((cw, ch)),
                      width=cw, height=ch, drawing_mode="freedraw", return_image_data=True, key=f"{key}_canvas")
    mask = canvas_mask(drawn.image_bytes)
    if mask is None:
        return GuideRequest(why_not="draw the object on the canvas first")
    digest = hashlib.sha256(mask.tobytes()).hexdigest()
    return GuideRequest(mask=mask, guide="mask:drawn", slug="drawn", signature=("drawn", digest))


def from_edit(model: Any, key: str) -> GuideRequest:
    """The training polyp moved and resized (``model.edit``: cut, paste, harmonised through the pyramid)."""
    from singanseg_core.model.edit import EditSpec

    h, w = model.scale_sizes[-1]
    c1, c2, c3 = st.columns(3)
    dx = c1.slider("Move x (px)", -(w - 1), w - 1, 0, key=f"{key}_mx",
                   help=f"Move the training polyp right (positive) or left, in pixels of the {w}x{h} px output.")
    dy = c2.slider("Move y (px)", -(h - 1), h - 1, 0, key=f"{key}_my",
                   help=f"Move the training polyp down (positive) or up, in pixels of the {w}x{h} px output.")
    scale = c3.slider("Size", 0.25, 2.5, 1.0, 0.05, key=f"{key}_ms",
                      help="Resize the training polyp about its centre.")
    spec = EditSpec(move=(int(dx), int(dy)), scale=float(scale))
    return GuideRequest(edit=spec, guide=f"edit:{spec.describe()}", slug="edit", signature=("edit", spec))


# ------------------------------------------------------------------------------------------- generate and show
def generate(model: Any, request: GuideRequest, inject: int, n: int, seed: int) -> dict:
    """The guided samples of ``request`` (with what they were asked for) for the page to keep."""
    from singanseg_core.model.edit import edit
    from singanseg_core.model.guided import guided_sample

    with bounded_sampling([model], n):  # the same caps as every other in-page sampling request
        if request.edit is not None:
            samples = edit(model, request.edit, inject, n=n, seed=seed)
        else:
            samples = guided_sample(model, request.mask, inject, n=n, seed=seed)
    return {"checkpoint": model.name, "inject": inject, "n": n, "seed": seed, "guide": request.guide,
            "slug": request.slug, "signature": request.signature, "mask": request.mask, "edit": request.edit,
            "samples": samples}


def agreement(result: dict) -> None:
    """The requested mask, each sample overlaid with its mask, and the IoU per sample and on average."""
    from singanseg_core.analysis.tiles import framed, overlay, upscale

    s, side = result["samples"], tile_side()
    iou = s.iou
    c1, c2, c3 = st.columns([1, 1, 2])
    c1.image(upscale(framed(s.requested_mask), side), caption="requested mask", width="stretch")
    c2.image(upscale(overlay(s.guide_image, s.requested_mask), side), caption="guide (injected)", width="stretch")
    c3.metric("Agreement with the requested mask (mean IoU)", f"{float(iou.mean()):.2f}",
              help="Intersection over union of each generated mask with the requested one (1 = the same "
                   "pixels), averaged over the samples shown.")
    per_row = tiles_per_row(False)
    for lo in range(0, len(s), per_row):
        cols = st.columns(per_row)
        for c, i in zip(cols, range(lo, min(lo + per_row, len(s)))):
            c.image(upscale(overlay(s.images[i], s.masks[i]), side), caption=f"#{i}: IoU {iou[i]:.2f}",
                    width="stretch")


def pyramid(model: Any, result: dict, key: str) -> None:
    """The teaching figure of the first shown sample: where the guide enters, what each finer scale adds."""
    from singanseg_core.analysis.teaching import trace_figure
    from singanseg_core.model.edit import edited_pair
    from singanseg_core.model.guided import guided_trace

    if not st.toggle("Show how the first sample was built, scale by scale", key=f"{key}_trace",
                     help="The pyramid figure of sample #0: the guide row, the scale it enters at, and what each "
                          "finer scale adds."):
        return
    if result["edit"] is not None:
        image, mask = edited_pair(model, result["edit"])
        trace = guided_trace(model, mask, result["inject"], result["seed"],
                             guide_image=(image * 255.0).clip(0, 255).astype(np.uint8))
    else:
        trace = guided_trace(model, result["mask"], result["inject"], result["seed"])
    st.image(trace_figure(trace, name=model.name), width="stretch")


def save(ws: Workspace, model: Any, result: dict, key: str) -> None:
    """Save the shown samples as a guided set (named after their own settings until the person types a name)."""
    from singanseg_core.sampling.guided_writer import GuideRecord, write_guided_set

    default = guided_set_name(result["checkpoint"], result["slug"], result["inject"], result["seed"])
    c1, c2 = st.columns([5, 2], vertical_alignment="bottom")
    name = derived_text_input("Save as (folder under samples/)", default, key=f"{key}_name", container=c1,
                              max_chars=80, help="Follows the shown samples' guide, inject scale and seed until "
                              "you type a name of your own. A new folder is created; if the name is taken a suffix "
                              "is added.")
    if button("Save guided samples", key=f"{key}_save", icon=":material/save:", action="sample-save", container=c2,
              help=f"Writes the {result['n']} sample(s) shown above with the requested mask, the guide and "
                   "manifest.csv (with each sample's IoU)."):
        record = GuideRecord(guide=result["guide"], guide_image="edit" if result["edit"] is not None
                             else "derived:paste")
        with ws.new_dir(ws.samples, name, "folder name") as folder:
            write_guided_set([model], folder, lambda _: result["samples"], record)
        st.session_state[f"{key}_saved"] = folder.name
    saved = st.session_state.get(f"{key}_saved")
    if saved and (ws.samples / saved).is_dir():
        st.success(f"Saved to samples/{saved}.")


def guide_panel(ws: Workspace, names: list[str], key: str = "gd") -> None:
    """The Guide tab: choose a checkpoint and a requested mask, generate, compare, save."""
    from singanseg_core.model.guided import DEFAULT_INJECT_FRACTION, check_inject_scale, default_inject_scale
    from singanseg_core.services.demo import default_checkpoint

    if not names:
        st.info("No finished checkpoint in the workspace yet: train or import one on **Checkpoints**.")
        return
    name = st.selectbox("Checkpoint", names, index=names.index(default_checkpoint(names)), key=f"{key}_ck",
                        help="The model that generates the guided samples.")
    model = load_model(ws, name)
    check_inject_scale(model, 1)  # one line when this model cannot be guided (no mask channel, one scale)
    top = model.num_scales - 1
    source = st.radio("Where the object should go", SOURCES, horizontal=True, key=f"{key}_src",
                      help="Pick a real mask (and move it), paint one over the training image, or move and resize "
                           "the training polyp itself.")
    if source == SOURCES[0]:
        request = from_dataset(ws, key)
    elif source == SOURCES[1]:
        request = from_drawing(model, key)
    else:
        request = from_edit(model, key)
    c1, c2, c3 = st.columns(3)
    inject = default_inject_scale(model.num_scales)
    if top > 1:
        inject = c1.slider("Inject scale (1-based scale the guide enters at)", 2, top + 1, inject + 1, key=f"{key}_k",
                           help=f"Coarser = the model's own look, the mask followed less; finer = the mask "
                                f"followed closely, the guide's blur kept. The default, about "
                                f"{DEFAULT_INJECT_FRACTION:.0%} into the pyramid, is where the guided benchmark on "
                                "real polyps found the requested mask followed (IoU about 0.8) with realism close "
                                "to the model's own samples.") - 1
    else:
        c1.caption(f"The guide enters at scale 2 of 2 ({name} has only two scales).")
    n = c2.number_input("Samples", 1, MAX_GUIDE_SAMPLES, 4, key=f"{key}_n",
                        help=f"How many guided samples to generate (at most {MAX_GUIDE_SAMPLES} on this page).")
    seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key=f"{key}_seed", help="Same guide and seed → same samples.")
    if button("Generate guided samples", key=f"{key}_go", type="primary", icon=":material/auto_awesome:",
              why_not=request.why_not, help="Generate samples that follow the requested mask."):
        st.session_state[f"{key}_result"] = guarded(generate)(model, request, int(inject), int(n), int(seed))
        st.session_state.pop(f"{key}_saved", None)
    result = st.session_state.get(f"{key}_result")
    if not result or result["checkpoint"] != name:
        st.caption("Press **Generate guided samples** to see them.")
        return
    if (result["signature"], result["inject"], result["n"], result["seed"]) != (request.signature, inject, n, seed):
        st.caption(":material/info: Settings changed since these samples were generated; they and **Save** keep "
                   f"those settings ({result['guide']}, inject scale {result['inject'] + 1}, seed "
                   f"{result['seed']}) until you generate again.")
    agreement(result)
    guarded(pyramid)(model, result, key)
    guarded(save)(ws, model, result, key)
