"""Cheap "does it still look like the model's own?" measures for guided samples (``model.guided``).

:func:`patch_nn_distance`: every generated RGB patch's distance to its nearest patch of the real image, averaged.
A SinGAN sample is made of the real image's patches rearranged, so its value is low; a guide that forced the model
off its patch distribution (a flat repainted blob, a blurred copy of a coarse guide) raises it. The model's own
unguided samples give the reference level. :func:`guide_distance`: how close a sample stays to its RGB guide; near
zero together with a high patch distance means the output is just the guide, blurred, not the model's work.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PATCH = 5               # px: patch side (at 64 px models a polyp's edge spans a few pixels)
MAX_PATCHES = 4096      # per image: patches beyond this are subsampled evenly (bounds the work at 4096² distances)


def _patches(image: np.ndarray, patch: int, max_patches: int) -> torch.Tensor:
    """``(P, 3 * patch²)`` float32 patches in [0, 1] of an ``(H, W, 3)`` uint8 image, at most ``max_patches``."""
    t = torch.from_numpy(np.ascontiguousarray(image)).float().div(255.0).permute(2, 0, 1)[None]
    cols = F.unfold(t, patch)[0].T
    if len(cols) > max_patches:
        cols = cols[torch.linspace(0, len(cols) - 1, max_patches).round().long()]
    return cols


def patch_nn_distance(images: np.ndarray, real: np.ndarray, patch: int = PATCH,
                      max_patches: int = MAX_PATCHES) -> np.ndarray:
    """Mean nearest-neighbour distance of the ``patch`` x ``patch`` RGB patches of each image in ``images``
    (``(N, H, W, 3)`` uint8) to those of ``real`` (``(h, w, 3)`` uint8), as the RMS per pixel value in [0, 1]
    units. Returns ``(N,)`` float64; low = made of the real image's patches."""
    ref = _patches(real, patch, max_patches)
    out = []
    for image in images:
        d = torch.cdist(_patches(image, patch, max_patches), ref).min(dim=1).values
        out.append(float(d.mean()) / np.sqrt(ref.shape[1]))
    return np.asarray(out, np.float64)


def guide_distance(images: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each image (``(N, H, W, 3)`` uint8) from the RGB ``guide`` (``(H, W, 3)`` uint8),
    in [0, 1] units: ``(N,)`` float64."""
    diff = np.abs(images.astype(np.float32) - guide.astype(np.float32)[None]) / 255.0
    return diff.reshape(len(images), -1).mean(axis=1).astype(np.float64)
