"""The teaching view of a SinGAN-Seg pyramid: what every scale sees and makes for one sample.

:func:`trace_pyramid` runs the very loop of :meth:`SinGANSeg.generate` (``SinGANSeg._run_scales``) for one
sample with the noise :meth:`SinGANSeg.sample` draws for the same seed, and keeps each scale's intermediates,
so its final image and mask are exactly ``sample(1, gen_start_scale, seed=seed)``'s. With ``injected`` it traces
a guided sample instead (``model.guided``: the guide stands in for the output of the scale below the inject scale,
and only the scales from there on run), equal to ``guided_sample(..., n=1, seed=seed)``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .samples import tensor_to_uint8

if TYPE_CHECKING:
    from .singanseg import SinGANSeg

MASK_THRESHOLD = 0.5   # the threshold sampling uses (``Samples.masks``)


@dataclass
class ScaleTrace:
    """One scale of a traced sample (arrays are host numpy; C = nc_im, 4 for SinGAN-Seg: RGB + mask).

    Attributes:
        scale: 0-based index, coarse to fine (show it as ``model.training_log.scale_label``).
        size: ``(h, w)`` px of this scale.
        real: ``(h, w, C)`` uint8, the training image (RGB) and mask at this scale.
        noise: ``(h, w)`` float32, channel 0 of the noise map used here, before its amplitude (standard normal
            where fresh; at scale 0 all channels are this one).
        noise_amp: the amplitude the noise is multiplied by (1 at scale 0; finer scales get less).
        used_stored_noise: True below ``gen_start_scale``, where the stored reconstruction noise ``z_opt`` is used.
        prev_up: ``(h, w, C)`` float32 in [-1, 1], the output of the scale below upsampled to this size, which
            this scale refines (zeros at scale 0).
        output: ``(h, w, C)`` float32, nominally in [-1, 1]: this scale's generator output, ``prev_up`` plus a tanh
            residual, so it can overshoot (the next scale's resize and the image rule clamp it).
    """

    scale: int
    size: tuple[int, int]
    real: np.ndarray
    noise: np.ndarray
    noise_amp: float
    used_stored_noise: bool
    prev_up: np.ndarray
    output: np.ndarray


@dataclass
class PyramidTrace:
    """A traced sample: every scale, and the final image and raw mask.

    Attributes:
        seed, gen_start_scale: as passed to :meth:`SinGANSeg.sample` (start scale after clamping).
        scales: one :class:`ScaleTrace` per scale, coarse to fine.
        raw_mask: ``(H, W)`` float32 in [0, 1], the final mask channel before thresholding (``None`` for a
            3-channel model).
        image: ``(H, W, 3)`` uint8, the final image (as ``Samples.images[0]``).
        inject_scale: for a guided sample, the 0-based scale where the guide entered (``scales`` then start
            there); ``None`` for a plain sample.
        guide: ``(h, w, C)`` float32 in [-1, 1], the injected guide pair at the size of the scale below
            ``inject_scale`` (``None`` for a plain sample).
    """

    seed: int
    gen_start_scale: int
    scales: list[ScaleTrace]
    raw_mask: np.ndarray | None
    image: np.ndarray
    inject_scale: int | None = None
    guide: np.ndarray | None = None

    @property
    def num_scales(self) -> int:
        """The model's number of scales (the finest traced scale is always its last)."""
        return self.scales[-1].scale + 1 if self.scales else 0

    def mask_at(self, threshold: float = MASK_THRESHOLD) -> tuple[np.ndarray, float]:
        """The mask at ``threshold`` (pixels whose raw mask value is above it): ``(H, W)`` uint8 0/255 and its
        true-pixel percentage. At 0.5 it equals ``Samples.masks[0]``."""
        if self.raw_mask is None:
            empty = np.zeros(self.image.shape[:2], np.uint8)
            return empty, 0.0
        mask = np.where(self.raw_mask > float(threshold), 255, 0).astype(np.uint8)
        return mask, float((mask > 0).mean() * 100.0)


def _hwc(x: torch.Tensor) -> np.ndarray:
    """``(1, C, h, w)`` → ``(h, w, C)`` float32 numpy."""
    return x[0].permute(1, 2, 0).float().cpu().numpy().copy()


@torch.no_grad()
def trace_pyramid(model: "SinGANSeg", seed: int = 0, gen_start_scale: int = 0,
                  injected: tuple[int, torch.Tensor] | None = None) -> PyramidTrace:
    """Run ``model`` for one sample of ``seed`` from ``gen_start_scale`` and keep every scale's intermediates.

    ``injected = (k, guide)``: a guided sample, ``guide`` ``(1, nc_im, h, w)`` in [-1, 1] at the size of scale
    ``k - 1`` (``model.guided.build_guide``); scales ``k ..`` are traced, with fresh noise from ``k`` on whatever
    ``gen_start_scale`` says (as ``guided_sample`` runs them)."""
    k, _ = model.clamp_start_scale(injected[0] if injected is not None else gen_start_scale)
    cfg, pad = model.config, model.config.pad
    noise = model.draw_noise(1, torch.Generator().manual_seed(int(seed)))
    scales: list[ScaleTrace] = []
    out = None
    for n, z, prev_p, out in model._run_scales(noise, k, 1.0, 1.0, 1, injected=injected):
        h, w = cfg.sizes[n]
        scales.append(ScaleTrace(
            scale=n, size=(h, w), real=tensor_to_uint8(model.reals[n])[0],
            noise=z[0, 0, pad:pad + h, pad:pad + w].float().cpu().numpy().copy(),
            noise_amp=float(cfg.noise_amp[n]), used_stored_noise=n < k,
            prev_up=_hwc(prev_p[:, :, pad:pad + h, pad:pad + w]), output=_hwc(out)))
    final = out.contiguous()
    image = tensor_to_uint8(final[:, :3])[0]
    raw = ((final[0, 3] + 1.0) / 2.0).clamp(0.0, 1.0).float().cpu().numpy() if cfg.nc_im >= 4 else None
    guide = None if injected is None else _hwc(injected[1][:1].to(torch.float32))
    return PyramidTrace(int(seed), k, scales, raw, image, None if injected is None else k, guide)


__all__ = ["MASK_THRESHOLD", "PyramidTrace", "ScaleTrace", "trace_pyramid"]
