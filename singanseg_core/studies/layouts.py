"""The ``guided`` synthetic source of a study: which layout each guided sample is asked to draw.

A model trained on one real pair draws its polyp about where and how it was; guided samples (``model.guided``) ask
it for layouts it would rarely draw, so the segmenter sees more layouts made from the same real pairs. Sample ``i``
of the model of ``stem`` asks for the mask of a *donor*, one of the other images of ``stem``'s own fold taken in
turn (``stem`` itself when its fold has no other), moved by a seeded :func:`..model.layout.random_transform`.

No validation mask is ever used: in real-vs-synthetic a training image's whole fold is in the training set, and in
small-data every fold-one image (the pool R is drawn from) is kept out of validation; only the donors' masks are
read, never their images.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..model.layout import MaskTransform, random_transform


@dataclass(frozen=True)
class LayoutPlan:
    """What guided sample ``index`` of ``stem``'s model asks for: ``donor``'s mask after ``transform``."""

    stem: str
    index: int
    donor: str
    transform: MaskTransform

    def describe(self) -> str:
        """``mask:<donor> (<transform>)``: the manifest's ``guide`` record."""
        moved = self.transform.describe()
        return f"mask:{self.donor}" + ("" if moved == "none" else f" ({moved})")


def donors(stem: str, folds: Sequence[Sequence[str]]) -> list[str]:
    """The images whose masks guide ``stem``'s model: the others of its fold (sorted), or ``[stem]`` alone."""
    fold = next((f for f in folds if stem in f), [stem])
    return sorted(s for s in fold if s != stem) or [stem]


def plan_layouts(stem: str, folds: Sequence[Sequence[str]], indices: Sequence[int], seed: int) -> list[LayoutPlan]:
    """The layouts of samples ``indices`` of ``stem``'s model: sample ``i`` depends only on ``(stem, i, seed)``
    and the fold, so a study that asks for more samples keeps the ones it has."""
    pool = donors(stem, folds)
    out = []
    for i in indices:
        rng = np.random.default_rng([int(seed), zlib.crc32(stem.encode()), int(i)])
        out.append(LayoutPlan(stem, int(i), pool[int(i) % len(pool)], random_transform(rng)))
    return out


def layout_requests(model, stem: str, folds: Sequence[Sequence[str]], indices: Sequence[int], seed: int,  # noqa: ANN001
                    masks: Mapping[str, str | os.PathLike], inject_scale: int | None = None) -> list[tuple]:
    """The requests ``sampling.guided_writer.write_layout_samples`` writes for samples ``indices`` of ``model``
    (trained on ``stem``): each the guided sample of its :func:`plan_layouts` layout (``masks``: each donor's mask
    file), injected at ``inject_scale`` (``None`` = ``model.guided.default_inject_scale``), seeded by
    ``(seed, index)``. A layout moved out of the image asks for the donor's own layout instead."""
    from ..model.guided import default_inject_scale, guided_sample, read_guide_mask
    from ..model.layout import apply_transform
    from ..sampling.guided_writer import GuideRecord

    k = inject_scale or default_inject_scale(model.num_scales)
    out = []
    for plan in plan_layouts(stem, folds, indices, seed):
        donor = read_guide_mask(masks[plan.donor])
        moved = apply_transform(donor, plan.transform)
        if not (moved > 0.5).any():
            moved = donor
        make: Callable = (lambda m=moved, s=(int(seed) * 1_000_003 + plan.index) % 2**31:
                          guided_sample(model, m, k, n=1, seed=s))
        out.append((plan.index, GuideRecord(plan.describe(), guide_image="derived:paste"), make))
    return out


__all__ = ["LayoutPlan", "donors", "layout_requests", "plan_layouts"]
