"""Editing the training pair: move, scale, duplicate or remove the real object (cut and paste of image and mask
together; removal inpaints the region from the surrounding colours), then harmonise the edit through the pyramid
from an inject scale (``model.guided``: the edited pair is the guide)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .guided import GuidedSamples, bbox, guided_sample, real_pair, removed_background, resize
from .singanseg import SinGANSeg

SCALE_RANGE = (0.1, 4.0)    # object size factor
MAX_DUPLICATES = 8          # extra copies of the object


@dataclass(frozen=True)
class EditSpec:
    """An edit of the real object, in pixels of the model's output size.

    Attributes:
        move: ``(dx, dy)`` of the object (positive = right, down).
        scale: size factor about the object's centre.
        duplicates: more copies, each at ``(dx, dy)`` from the object's original place (scaled like it).
        remove: take the object away (nothing else may be asked for then).
    """

    move: tuple[int, int] = (0, 0)
    scale: float = 1.0
    duplicates: tuple[tuple[int, int], ...] = ()
    remove: bool = False

    def check(self, size: tuple[int, int]) -> None:
        """Raise ``InputError`` for a factor out of :data:`SCALE_RANGE`, too many duplicates, an offset larger
        than the image ``size = (h, w)``, or ``remove`` combined with another change."""
        h, w = size
        lo, hi = SCALE_RANGE
        if not (np.isfinite(self.scale) and lo <= self.scale <= hi):
            raise InputError(f"edit scale must be in {lo:g}..{hi:g}, got {self.scale!r}")
        if len(self.duplicates) > MAX_DUPLICATES:
            raise InputError(f"at most {MAX_DUPLICATES} duplicates, got {len(self.duplicates)}")
        for dx, dy in (self.move, *self.duplicates):
            if abs(dx) >= w or abs(dy) >= h:
                raise InputError(f"offset {dx},{dy} px leaves the {w}x{h} px image")
        if self.remove and (self.move != (0, 0) or self.scale != 1.0 or self.duplicates):
            raise InputError("remove takes the object away; it cannot be combined with move, scale or duplicate")

    def describe(self) -> str:
        """``move=5,-3;scale=1.5;duplicate=10,0`` or ``remove`` (``none`` for no change): the manifest's record."""
        if self.remove:
            return "remove"
        parts = ([f"move={self.move[0]},{self.move[1]}"] if self.move != (0, 0) else []) + \
            ([f"scale={self.scale:g}"] if self.scale != 1.0 else []) + \
            [f"duplicate={dx},{dy}" for dx, dy in self.duplicates]
        return ";".join(parts) or "none"


def edited_pair(model: SinGANSeg, spec: EditSpec) -> tuple[np.ndarray, np.ndarray]:
    """The real pair after ``spec``: ``(H, W, 3)`` float32 RGB in [0, 1] and ``(H, W)`` float32 mask in {0, 1}.

    Raises:
        InputError: a bad spec (:meth:`EditSpec.check`), an empty training mask, or every copy outside the image.
    """
    rgb, mask = real_pair(model)
    h, w = mask.shape
    spec.check((h, w))
    image = removed_background(rgb, mask)
    out_mask = np.zeros((h, w), np.float32)
    if spec.remove:
        return image, out_mask
    y0, y1, x0, x1 = bbox(mask)
    ch, cw = max(1, round((y1 - y0) * spec.scale)), max(1, round((x1 - x0) * spec.scale))
    cut = resize(np.concatenate([rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1, None]], axis=2).astype(np.float32),
                 (ch, cw))
    cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
    for dx, dy in (spec.move, *spec.duplicates):
        top, left = round(cy + dy - ch / 2.0), round(cx + dx - cw / 2.0)
        ty0, ty1, tx0, tx1 = max(top, 0), min(top + ch, h), max(left, 0), min(left + cw, w)
        if ty0 >= ty1 or tx0 >= tx1:
            continue
        piece = cut[ty0 - top:ty1 - top, tx0 - left:tx1 - left]
        alpha = piece[..., 3:].clip(0.0, 1.0)
        image[ty0:ty1, tx0:tx1] = image[ty0:ty1, tx0:tx1] * (1.0 - alpha) + piece[..., :3] * alpha
        out_mask[ty0:ty1, tx0:tx1] = np.maximum(out_mask[ty0:ty1, tx0:tx1], alpha[..., 0])
    if not (out_mask > 0.5).any():
        raise InputError(f"the edit {spec.describe()} puts every copy of the object outside the {w}x{h} px image")
    return image, out_mask


def edit(model: SinGANSeg, spec: EditSpec, inject_scale: int, n: int = 1, seed: int | None = None,
         batch_size: int | None = None) -> GuidedSamples:
    """``n`` harmonised versions of the edited training pair (:func:`edited_pair` injected at ``inject_scale``;
    see :func:`.guided.guided_sample` for the seed, batch and error rules). ``requested_mask`` is the edited mask
    (empty after ``remove``)."""
    image, mask = edited_pair(model, spec)
    guide = (image * 255.0).clip(0, 255).astype(np.uint8)
    return guided_sample(model, mask, inject_scale, guide_image=guide, n=n, seed=seed, batch_size=batch_size,
                         what=f"edit {spec.describe()}", allow_empty=spec.remove)
