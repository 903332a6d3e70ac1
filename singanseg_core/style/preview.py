"""A fast, in-page style-transfer preview: a few images restyled small and quickly, with the loss curves.

Built on :func:`.transfer.transfer_style_batch` (the same losses and optimisers as the full run) with preview
settings: a small processing size (never larger than the images), few steps, L-BFGS by default, every image in
one batch. The full-quality run over a samples folder stays a background job (``style.folder``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..errors import InputError
from .config import DEFAULT_RATIO, OptimizerName, Precision, ProgressFn, StyleTransferConfig
from .transfer import transfer_style_batch
from .vgg import resolve_random_features

RATIO_EXPLANATION = ("The content:style ratio weighs keeping the generated picture's shapes (content) against "
                     "taking on the real image's colours and textures (style): at 1:1 the sample barely changes, "
                     "at 1:1000 (the paper's setting) the real image's texture is painted over the sample while "
                     "its layout, and so its mask, stays where it was.")
# Preview defaults (64 px, 12 L-BFGS steps). Its time depends on the images, the steps and how busy the machine is:
# 4 demo samples took 36-52 s on 2 CPU cores shared with other work (load 9-12, random VGG features, bf16); the
# dashboard shows each machine's own estimate from its past runs (services.timings); `bench/bench_teaching.py`.
PREVIEW_SIZE = 64
PREVIEW_STEPS = 12
MAX_PREVIEW_IMAGES = 64
MAX_PREVIEW_STEPS = 1000


@dataclass
class StylePreview:
    """What :func:`preview_style` returns.

    Attributes:
        images: restyled images, ``(H, W, 3)`` uint8 each, at the input images' own sizes.
        history: the losses during the run, ``[{"step", "content", "style", "total"}, ...]`` summed over the
            images (unweighted content and style, weighted total), one entry per step.
        seconds: wall time of the whole preview (including loading VGG19 the first time).
        random_features: True when VGG19 had random weights (then the result only shows the mechanics).
        note: one sentence saying what was used (sizes, steps, optimiser, ratio, VGG weights).
    """

    images: list[np.ndarray]
    history: list[dict[str, float]]
    seconds: float
    random_features: bool
    note: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _rgb(arr: Any, role: str) -> Image.Image:
    a = np.asarray(arr)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise InputError(f"{role} must be an (H, W, 3) uint8 array, got {a.dtype} {a.shape}")
    return Image.fromarray(np.ascontiguousarray(a))


def preview_batches(images: Sequence[np.ndarray]) -> int:
    """How many batches :func:`preview_style` runs for ``images`` (one per distinct image size)."""
    return len({np.asarray(a).shape[:2] for a in images})


def preview_style(images: Sequence[np.ndarray], style: np.ndarray, ratio: str | float = DEFAULT_RATIO,
                  size: int = PREVIEW_SIZE, steps: int = PREVIEW_STEPS, optimizer: OptimizerName = "lbfgs",
                  progress: ProgressFn | None = None, random_features: bool | None = None, seed: int = 0,
                  precision: Precision = "auto", device: str = "cpu") -> StylePreview:
    """Restyle ``images`` with ``style`` (the real training image) quickly, for a side-by-side preview.

    Args:
        images: generated images, ``(H, W, 3)`` uint8 each (at most :data:`MAX_PREVIEW_IMAGES`).
        style: the style image, ``(H, W, 3)`` uint8.
        ratio: content:style weights, e.g. "1:1000" (see :data:`RATIO_EXPLANATION`).
        size: processing size of the longer side, px; an image smaller than that is processed at its own size.
        steps: optimiser steps (L-BFGS: loss evaluations; most of the drop of the loss happens in the first
            line search, about 8 evaluations).
        optimizer: "lbfgs" (converges in few steps) or "adam" (the original's, slow to converge).
        progress: ``progress(step, {"content", "style", "total"})`` after every step; ``False`` cancels
            (raises ``Cancelled``). Images of k different sizes run as k batches, one after another, and
            ``step`` counts on through them, up to ``k * steps`` (see :func:`preview_batches`).
        random_features: ``None`` = pretrained VGG19 when available without downloading, else random features
            (:func:`.vgg.resolve_random_features`, the dashboard's rule); ``True`` / ``False`` force it.
        precision: "auto" (bf16 convolutions where the CPU/GPU has native bf16, else fp32), "fp32" or "bf16".
    Returns:
        :class:`StylePreview`.
    """
    t0 = time.perf_counter()
    if not images:
        raise InputError("choose at least one image to restyle")
    if len(images) > MAX_PREVIEW_IMAGES:
        raise InputError(f"a preview restyles at most {MAX_PREVIEW_IMAGES} images, got {len(images)}")
    if not 1 <= int(steps) <= MAX_PREVIEW_STEPS:
        raise InputError(f"steps must be in 1..{MAX_PREVIEW_STEPS} for a preview, got {steps}")
    contents = [_rgb(a, f"image #{i}") for i, a in enumerate(images)]
    style_img = _rgb(style, "style image")
    use_random, why = resolve_random_features(random_features)
    # One batch per image size, each processed at min(size, its longer side): a preview never enlarges.
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(contents):
        by_size.setdefault(c.size, []).append(i)
    results: list[Any] = [None] * len(contents)
    history: dict[int, dict[str, float]] = {}
    for b, ((w, h), idx) in enumerate(by_size.items()):
        cfg = StyleTransferConfig.from_ratio(ratio, steps=int(steps), optimizer=optimizer,
                                             size=min(int(size), max(w, h)), seed=int(seed), precision=precision)
        counted = None if progress is None else (lambda step, losses, b=b: progress(b * int(steps) + step, losses))
        batch = transfer_style_batch([contents[i] for i in idx], [style_img] * len(idx), cfg,
                                     random_features=use_random, device=device, batch_size=len(idx),
                                     progress=counted, allow_download=False)
        for i, r in zip(idx, batch):
            results[i] = r
        for entry in batch[0].history:   # summed over the batch already; batches of other sizes add up
            row = history.setdefault(int(entry["step"]), {"step": int(entry["step"]), "content": 0.0,
                                                           "style": 0.0, "total": 0.0})
            for key in ("content", "style", "total"):
                row[key] += float(entry[key])
    out = [np.asarray(r.image.convert("RGB"), dtype=np.uint8) for r in results]
    shape = results[0].metadata["processing_size"]
    note = (f"{len(out)} image(s) restyled at {shape[1]}x{shape[0]} px with {results[0].steps_run} "
            f"{'L-BFGS' if cfg.optimizer == 'lbfgs' else 'Adam'} steps, ratio {cfg.ratio}, "
            f"{results[0].metadata['precision']}; "
            + (why if use_random else f"VGG19: {results[0].metadata['weights']}"))
    return StylePreview(out, [history[k] for k in sorted(history)], time.perf_counter() - t0, use_random, note,
                        {k: v for k, v in results[0].metadata.items() if k != "style_layers"})


__all__ = ["MAX_PREVIEW_IMAGES", "PREVIEW_SIZE", "PREVIEW_STEPS", "RATIO_EXPLANATION", "StylePreview", "preview_batches",
           "preview_style"]
