"""The scale pyramid of SinGAN: its schedule (``adjust_scales2image``) and the real image at every scale
(``creat_reals_pyramid``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .imresize import imresize, output_length


@dataclass(frozen=True)
class ScaleSchedule:
    """Pyramid geometry for one training image.

    Attributes:
        input_size: ``(H, W)`` of the full-resolution input, pixels.
        scale1: factor that brings the longest side to at most ``max_size`` (≤ 1).
        resized_size: ``(h, w)`` after ``scale1`` (the finest scale).
        stop_scale: index of the finest scale; there are ``stop_scale + 1`` scales.
        scale_factor: the adjusted ratio between consecutive scales (< 1).
        sizes: ``(h, w)`` of every scale, coarse to fine.
    """

    input_size: tuple[int, int]
    scale1: float
    resized_size: tuple[int, int]
    stop_scale: int
    scale_factor: float
    sizes: tuple[tuple[int, int], ...]

    @property
    def num_scales(self) -> int:
        return self.stop_scale + 1


def compute_schedule(height: int, width: int, min_size: int = 25, max_size: int = 250,
                     scale_factor_init: float = 0.75) -> ScaleSchedule:
    """Scale schedule exactly as the original ``adjust_scales2image`` + ``creat_reals_pyramid``.

    ``num = ceil(log_s0(min_size / min(H, W))) + 1``, ``stop = num - ceil(log_s0(min(max_size, max(H, W)) /
    max(H, W)))``, the image is resized by ``min(max_size / max(H, W), 1)`` and the scale factor is
    re-derived as ``(min_size / min(h, w)) ** (1 / stop)``; scale ``i`` has size
    ``ceil(h * factor ** (stop - i))``.
    """
    if min(height, width) < min_size:
        raise ValueError(f"image of {width}x{height} px is smaller than the coarsest scale ({min_size} px)")
    longest, shortest = max(height, width), min(height, width)
    num_scales = math.ceil(math.log(math.pow(min_size / shortest, 1), scale_factor_init)) + 1
    scale2stop = math.ceil(math.log(min(max_size, longest) / longest, scale_factor_init))
    stop_scale = num_scales - scale2stop
    if stop_scale < 1:
        raise ValueError(
            f"image of {width}x{height} px gives {stop_scale + 1} scale(s) with min_size={min_size}, "
            f"max_size={max_size}: it needs a larger image or a smaller min_size")
    scale1 = min(max_size / longest, 1)
    h, w = output_length(height, scale1), output_length(width, scale1)
    scale_factor = math.pow(min_size / min(h, w), 1 / stop_scale)
    sizes = []
    for i in range(stop_scale + 1):
        s = math.pow(scale_factor, stop_scale - i)
        sizes.append((output_length(h, s), output_length(w, s)))
    return ScaleSchedule((height, width), scale1, (h, w), stop_scale, scale_factor, tuple(sizes))


def build_pyramid(image: torch.Tensor, schedule: ScaleSchedule, faithful: bool = True) -> list[torch.Tensor]:
    """``(N, C, H, W)`` full-resolution input in [-1, 1] → the real image at every scale, coarse to fine.

    The input is first resized by ``schedule.scale1`` (longest side ≤ max_size), then scale ``i`` is that image
    resized by ``scale_factor ** (stop_scale - i)``; the finest level goes through the resize too (factor 1), as
    the original's (a uint8 round trip when ``faithful``).
    """
    real = imresize(image, schedule.scale1, faithful=faithful)
    reals = [imresize(real, math.pow(schedule.scale_factor, schedule.stop_scale - i), faithful=faithful)
             for i in range(schedule.stop_scale + 1)]
    for r, size in zip(reals, schedule.sizes):
        assert tuple(r.shape[2:]) == tuple(size), (r.shape, size)
    return reals
