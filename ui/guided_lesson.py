"""How it works' guided pyramid: the same teaching figure for a sample told where the polyp goes.

The requested mask is the model's own training mask moved about (``model.layout``); the guide is derived from the
model and its real image (``model.guided``) and enters at the chosen scale in place of the output of the scale
below, so a lesson can show that the coarse scales decide the layout and the finer ones only add detail.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from singanseg_core.errors import InputError
from singanseg_core.model.layout import MaskTransform, apply_transform

# The layouts offered: each a change of the training mask a model of one image would rarely draw by itself.
LAYOUTS: dict[str, MaskTransform] = {
    "Mirrored left-right": MaskTransform(flip_h=True),
    "Mirrored top-bottom": MaskTransform(flip_v=True),
    "Smaller, moved to the lower left": MaskTransform(scale=0.6, dx=-0.2, dy=0.2),
    "Larger (1.5x about the image centre)": MaskTransform(scale=1.5),
}


@st.cache_resource(show_spinner="Tracing the guided pyramid...", max_entries=16)
def _guided(_model: Any, path: str, stamp: float, layout: str, inject: int, seed: int):  # noqa: ANN202
    from singanseg_core.model.guided import HALF, guided_trace, mask_iou, prepare_mask
    from singanseg_core.model.trace import MASK_THRESHOLD

    mask = apply_transform(np.asarray(_model.real_mask()), LAYOUTS[layout])
    trace = guided_trace(_model, mask, inject, seed)  # its final mask is guided_sample(..., n=1)'s: no second run
    iou = float(mask_iou(trace.mask_at(MASK_THRESHOLD)[0], prepare_mask(_model, mask) > HALF)[0])
    return trace, iou


def guided_pyramid(model: Any, path: str, stamp: float, seed: int, key: str = "hw_gd") -> None:
    """A toggle that shows the pyramid of a guided sample (guide row, entry scale marked) with its agreement."""
    from singanseg_core.analysis.teaching import trace_figure
    from singanseg_core.model.guided import DEFAULT_INJECT_FRACTION, default_inject_scale

    if model.config.nc_im < 4 or model.num_scales < 3:
        st.caption("Guided sampling needs a model with a mask channel and at least three scales.")
        return
    if not st.toggle("Show a guided sample's pyramid", key=f"{key}_on",
                     help="Tell this model where the polyp goes (its training mask moved) and see where the guide "
                          "enters the pyramid and what each finer scale adds."):
        return
    c1, c2 = st.columns(2)
    layout = c1.selectbox("Where the polyp should go", list(LAYOUTS), key=f"{key}_layout",
                          help="The model's own training mask, changed: a layout it would rarely draw by itself.")
    top = model.num_scales - 1
    inject = c2.slider("Inject scale (1-based scale the guide enters at)", 2, top + 1,
                       default_inject_scale(model.num_scales) + 1, key=f"{key}_k",
                       help=f"Coarser: the model's own look, the requested layout followed less; finer: followed "
                            f"closely, the guide's blur kept. The default is about {DEFAULT_INJECT_FRACTION:.0%} "
                            "into the pyramid.") - 1
    try:
        trace, iou = _guided(model, path, stamp, layout, inject, seed)
    except InputError as err:  # e.g. the moved mask left the image, or the model's own mask is empty
        st.warning(f"{layout}: {err}")
        return
    st.image(trace_figure(trace, name=model.name), width="stretch")
    st.caption(f"The guide (top row) stands in for the output of scale {inject} of {model.num_scales}: the scales "
               f"below it are not run, so the layout is the guide's. From scale {inject + 1} on each scale draws "
               f"fresh noise (seed {seed}) and adds detail at its size; the generated mask agrees with the requested "
               f"one at IoU {iou:.2f}. Enter finer and the guide's look stays; enter coarser and the model redraws "
               "more, the layout included — the coarse scales decide where the polyp is.")
