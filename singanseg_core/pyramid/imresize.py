"""MATLAB-style antialiased bicubic resizing (Keys kernel, a = -0.5), in torch, on any device.

The original SinGAN code resizes between scales with a numpy port of MATLAB's ``imresize``: the
tensor is turned into uint8 on the CPU, resized dimension by dimension in float64 and normalised
back. We do the same math as two small matrix products on the tensor's device:
``out = R_h @ x @ R_w.T``, where each ``R`` is an ``(out, in)`` matrix of kernel weights computed
once per (length, scale) and cached.

Two behaviours of the original are reproduced when ``faithful=True`` (the default):

* the input is quantised to uint8 by truncation before resizing (``torch2uint8``), and the result
  is mapped back to [-1, 1] with a clamp;
* taps that fall left of the first pixel get weight 0 and the remaining weights are renormalised,
  while taps right of the last pixel are mirrored. (The original builds tap indices with an
  unsigned cast, so negative indices wrap to huge numbers whose kernel weight is 0 on x86-64.)

``faithful=False`` keeps full float precision and mirrors both borders symmetrically.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

__all__ = ["output_length", "resize_matrix", "imresize", "to_uint8", "from_uint8_scale"]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's 'cubic'), support [-2, 2]."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def output_length(in_length: int, scale: float) -> int:
    """Length after resizing by ``scale``: ``ceil(in_length * scale)`` in float64, as the original."""
    return int(math.ceil(in_length * scale))


@lru_cache(maxsize=512)
def _resize_matrix_np(in_length: int, out_length: int, scale: float, faithful: bool) -> np.ndarray:
    antialias = scale < 1.0
    width = 4.0 / scale if antialias else 4.0
    taps = int(math.ceil(width)) + 2

    # Output pixel centres mapped into input coordinates (1-based pixel centres, as MATLAB).
    centres = np.arange(1, out_length + 1, dtype=np.float64) / scale + 0.5 * (1.0 - 1.0 / scale)
    first = np.floor(centres - width / 2.0)
    positions = first[:, None] + np.arange(taps)[None, :] - 1.0  # 0-based input indices, may be <0
    distance = centres[:, None] - positions - 1.0
    weights = scale * _cubic(scale * distance) if antialias else _cubic(distance)
    if faithful:
        weights = np.where(positions < 0, 0.0, weights)
    sums = weights.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    weights = weights / sums

    period = 2 * in_length
    idx = np.mod(positions.astype(np.int64), period)
    idx = np.where(idx >= in_length, period - 1 - idx, idx)

    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.repeat(np.arange(out_length), taps)
    np.add.at(matrix, (rows, idx.reshape(-1)), weights.reshape(-1))
    return matrix


def resize_matrix(in_length: int, out_length: int, scale: float, faithful: bool = True,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The ``(out_length, in_length)`` matrix that resizes one dimension by ``scale``."""
    return _matrix_cached(in_length, out_length, float(scale), bool(faithful), str(torch.device(device)), dtype)


@lru_cache(maxsize=1024)
def _matrix_cached(in_length: int, out_length: int, scale: float, faithful: bool, device: str,
                   dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(_resize_matrix_np(in_length, out_length, scale, faithful)).to(device=device, dtype=dtype)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` float → integer levels 0..255 by truncation (the original's ``torch2uint8``), kept as float."""
    return torch.trunc(255.0 * ((x + 1.0) / 2.0).clamp(0.0, 1.0))


def from_uint8_scale(levels: torch.Tensor) -> torch.Tensor:
    """Values on the 0..255 scale (float64 allowed) → float32 in [-1, 1] with clamp (``np2torch``)."""
    return (((levels / 255.0).to(torch.float32)) - 0.5).mul(2.0).clamp(-1.0, 1.0)


def imresize(x: torch.Tensor, scale: float, faithful: bool = True) -> torch.Tensor:
    """Resize ``x`` of shape ``(N, C, H, W)`` in [-1, 1] by ``scale`` (both dimensions).

    Output size is ``ceil(H * scale) x ceil(W * scale)``. With ``faithful=True`` the result equals
    the original's numpy ``imresize`` up to float64 summation order (it is computed in float64).
    """
    if scale == 1.0 and not faithful:
        return x
    n, c, h, w = x.shape
    out_h, out_w = output_length(h, scale), output_length(w, scale)
    if faithful:
        src = to_uint8(x).to(torch.float64)
        dtype = torch.float64
    else:
        src, dtype = x, x.dtype
    if scale != 1.0:
        rh = resize_matrix(h, out_h, scale, faithful, x.device, dtype)
        rw = resize_matrix(w, out_w, scale, faithful, x.device, dtype)
        src = torch.matmul(torch.matmul(rh, src), rw.transpose(0, 1))
    return from_uint8_scale(src) if faithful else src
