"""Moving a requested mask about: flip, shift and rescale a layout before it guides a model (``model.guided``).

The Guide tab applies one :class:`MaskTransform` a person chose to a real mask; the studies' ``guided`` source
draws one per sample (:func:`random_transform`) so the segmenter sees layouts the models would rarely draw.
Shifts are fractions of the mask's width / height, so a transform means the same on any mask size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

SHIFT_RANGE = (-0.5, 0.5)     # dx, dy: fraction of the width / height
SCALE_RANGE = (0.25, 2.0)     # size factor about the image centre
RANDOM_SHIFT = 0.25           # random_transform: shifts drawn in +-RANDOM_SHIFT
RANDOM_SCALE = (0.75, 1.33)   # random_transform: factors drawn log-uniformly in this range


@dataclass(frozen=True)
class MaskTransform:
    """A layout change of a mask.

    Attributes:
        flip_h: mirror left-right; flip_v: mirror top-bottom (applied first).
        dx, dy: shift right / down as a fraction of the width / height, in :data:`SHIFT_RANGE`.
        scale: size factor about the image centre, in :data:`SCALE_RANGE` (applied before the shift).
    """

    flip_h: bool = False
    flip_v: bool = False
    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0

    def check(self) -> None:
        """Raise ``InputError`` (one line) for a shift or scale out of range or not finite."""
        lo, hi = SHIFT_RANGE
        for name, v in (("shift x", self.dx), ("shift y", self.dy)):
            if not (np.isfinite(v) and lo <= v <= hi):
                raise InputError(f"{name} must be a fraction of the image in {lo:g}..{hi:g}, got {v!r}")
        lo, hi = SCALE_RANGE
        if not (np.isfinite(self.scale) and lo <= self.scale <= hi):
            raise InputError(f"mask scale must be in {lo:g}..{hi:g}, got {self.scale!r}")

    def describe(self) -> str:
        """``flip-h;shift=0.1,-0.05;scale=1.2`` (``none`` for no change): for file names and manifests."""
        parts = (["flip-h"] if self.flip_h else []) + (["flip-v"] if self.flip_v else []) + \
            ([f"shift={self.dx:g},{self.dy:g}"] if (self.dx, self.dy) != (0.0, 0.0) else []) + \
            ([f"scale={self.scale:g}"] if self.scale != 1.0 else [])
        return ";".join(parts) or "none"


def apply_transform(mask: np.ndarray, t: MaskTransform) -> np.ndarray:
    """``mask`` (``(H, W)``, any dtype) after ``t``: ``(H, W)`` float32 in [0, 1] (uint8 masks divided by 255);
    what leaves the image is cut off, what comes in is background.

    Raises:
        InputError: a transform out of range, a mask that is not 2-D.
    """
    from .guided import resize

    t.check()
    arr = np.asarray(mask)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise InputError(f"expected a single-channel mask, got an array of shape {arr.shape}")
    m = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    m = np.clip(m, 0.0, 1.0)
    if t.flip_h:
        m = m[:, ::-1]
    if t.flip_v:
        m = m[::-1]
    h, w = m.shape
    sh, sw = max(1, round(h * t.scale)), max(1, round(w * t.scale))
    scaled = resize(np.ascontiguousarray(m), (sh, sw))
    top = (h - sh) // 2 + round(t.dy * h)
    left = (w - sw) // 2 + round(t.dx * w)
    out = np.zeros((h, w), np.float32)
    y0, y1, x0, x1 = max(top, 0), min(top + sh, h), max(left, 0), min(left + sw, w)
    if y0 < y1 and x0 < x1:
        out[y0:y1, x0:x1] = scaled[y0 - top:y1 - top, x0 - left:x1 - left]
    return out.clip(0.0, 1.0)


def random_transform(rng: np.random.Generator) -> MaskTransform:
    """A seeded layout change: each flip with probability 1/2, shifts uniform in +-:data:`RANDOM_SHIFT`, a
    log-uniform factor in :data:`RANDOM_SCALE`."""
    lo, hi = RANDOM_SCALE
    flip_h, flip_v = (bool(b) for b in rng.random(2) < 0.5)
    dx, dy = (float(v) for v in rng.uniform(-RANDOM_SHIFT, RANDOM_SHIFT, 2))
    scale = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return MaskTransform(flip_h, flip_v, round(dx, 3), round(dy, 3), round(scale, 3))


__all__ = ["MaskTransform", "RANDOM_SCALE", "RANDOM_SHIFT", "SCALE_RANGE", "SHIFT_RANGE", "apply_transform",
           "random_transform"]
