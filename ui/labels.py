"""The Sample page's wording: a sample set's (and a guided set's) default folder name, a one-line description of its settings, the
redraw option's help and what a generation start scale does to a checkpoint."""

from __future__ import annotations

from typing import Sequence

REDRAW_HELP = ("0 = off (the paper: every draw is kept). N = a sample whose mask comes out empty is drawn again "
               "from fresh seeded noise, up to N times; samples with an object are unchanged. Small objects at "
               "start scale 0 often come out empty; this keeps the draws that have one (the set's statistics "
               "change).")


def sample_set_name(checkpoints: Sequence[str], gen_start_scale: int, seed: int, redraw_empty: int = 0) -> str:
    """``<first checkpoint>[-etc]-s<K>-seed<S>[-redraw<N>]``: a default folder name that states the settings."""
    more = "-etc" if len(checkpoints) > 1 else ""
    return f"{checkpoints[0]}{more}-s{gen_start_scale}-seed{seed}" + (f"-redraw{redraw_empty}" if redraw_empty else "")


def guided_set_name(checkpoint: str, guide: str, inject_scale: int, seed: int) -> str:
    """``<checkpoint>-guided-<guide>-k<K>-seed<S>``: a guided set's default folder name (``K`` 1-based, as the
    Guide tab's inject-scale slider)."""
    return f"{checkpoint}-guided-{guide}-k{inject_scale + 1}-seed{seed}"


def describe_sampling(gen_start_scale: int, seed: int, redraw_empty: int = 0) -> str:
    """``start scale 0, seed 3[, empty masks redrawn up to 4x]``."""
    return f"start scale {gen_start_scale}, seed {seed}" + (f", empty masks redrawn up to {redraw_empty}x"
                                                            if redraw_empty else "")


def describe_start_scale(name: str, sizes: list[tuple[int, int]], k: int) -> str:
    """What ``gen_start_scale = k`` (0-based, as the paper's code) does to one checkpoint, in scales numbered
    1 (coarsest) .. n as everywhere else in the dashboard, with the sizes in px."""
    n = len(sizes)
    listing = " · ".join(f"{i}: {h}×{w}" for i, (h, w) in enumerate(sizes, start=1))
    if k <= 0:
        what = f"all {n} scales generated from fresh noise"
    elif k >= n:
        what = f"scales 1–{n} all follow the real image: a reconstruction"
    else:
        what = f"scales 1–{k} follow the real image, scales {k + 1}–{n} are generated"
    return f"**{name}** ({n} scales; {listing} px): {what}."


SOURCE_LABELS = {"singan": "SinGAN-Seg samples (the paper)",
                 "guided": "SinGAN-Seg guided to other layouts",
                 "patchnn": "patch nearest neighbours (no training)"}   # studies.config.SYNTHETIC_SOURCES
SOURCE_HELP = ("SinGAN-Seg: each real image's model draws its own samples. Guided: the same models, each sample "
               "asked to put the polyp where another training image of its fold has one (flipped, shifted, "
               "rescaled), so the UNet++ sees more layouts from the same real pairs. Patch nearest neighbours: a "
               "training-free baseline.")
