"""Mask-guided generation: tell the model where the object goes.

SinGAN's paint-to-image / editing mechanism for the 4-channel image+mask pair: a guide pair (an RGB image and the
requested mask, the mask mapped to the model's [-1, 1] mask range) is shrunk to the size of scale ``k - 1`` and
stands in for that scale's output; scales ``k .. N-1`` then run as usual (fresh seeded noise) and add the detail
they learnt. A coarse ``k`` leaves the model more freedom (looks more like its own samples, follows the mask
less), a fine ``k`` follows the guide closely.

Without an RGB guide one is derived from the model's real (finest) training pair: the real polyp is removed
(:func:`inpaint` from the surrounding colours) and the requested region is filled either with the real polyp's
texture, its bounding box stretched onto the requested one (``"paste"``, the default), or with its mean colour
(``"repaint"``). ``bench/bench_guided.py`` measures both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..files.images import open_bounded, rgb_array, to_uint8_levels
from .samples import Samples
from .singanseg import SinGANSeg
from .trace import PyramidTrace, trace_pyramid

DERIVE_METHODS = ("paste", "repaint")   # how an RGB guide is made when none is given
MAX_GUIDE_PIXELS = 4096 * 4096          # a guide file is shrunk to the model's size: larger ones are refused
MAX_GUIDED_SAMPLES = 1000               # per call: guided sets are held in memory before they are written
HALF = 0.5                              # a requested (soft) mask's foreground: values above half
# The default inject scale, as a fraction of the pyramid's depth: bench/bench_guided.py on real polyps at 64 px
# (7 scales) measured inject scale 3 (0.43 of the way down) at IoU ~0.80 with the requested mask and a patch
# distance to the real image close to the model's own samples; coarser scales follow the mask less, finer ones
# copy the (blurrier) guide more. 0.4 of the depth lands on scale 3 of 7.
DEFAULT_INJECT_FRACTION = 0.4


@dataclass
class GuidedSamples(Samples):
    """:class:`Samples` of a guided call (``gen_start_scale`` = the inject scale) plus what was asked for.

    Attributes:
        requested_mask: ``(H, W)`` uint8 0/255, the requested mask at the output size (soft masks above half).
        guide_image: ``(H, W, 3)`` uint8, the RGB guide that was injected (given or derived), at the output size.
    """

    requested_mask: np.ndarray | None = None
    guide_image: np.ndarray | None = None

    @property
    def iou(self) -> np.ndarray:
        """``(N,)`` float64: each generated mask's IoU with the requested one (:func:`mask_iou`)."""
        return mask_iou(self.masks, self.requested_mask)


def mask_iou(masks: np.ndarray, requested: np.ndarray) -> np.ndarray:
    """Intersection over union of each mask in ``masks`` ``(N, H, W)`` (or one ``(H, W)``) with ``requested``
    ``(H, W)``; non-zero = foreground. Returns ``(N,)`` float64 in [0, 1]; two empty masks agree fully (1.0).

    Raises:
        InputError: the shapes differ.
    """
    m = np.asarray(masks) > 0
    if m.ndim == 2:
        m = m[None]
    r = np.asarray(requested) > 0
    if m.shape[1:] != r.shape:
        raise InputError(f"masks of {m.shape[1:]} px cannot be compared with a requested mask of {r.shape} px")
    inter = (m & r).reshape(len(m), -1).sum(axis=1)
    union = (m | r).reshape(len(m), -1).sum(axis=1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


# ----------------------------------------------------------------------------------------------- reading guides
def read_guide_mask(source: str | os.PathLike | bytes, what: str | None = None) -> np.ndarray:
    """A guide mask file as ``(H, W)`` float32 in [0, 1]: grey levels / 255 (16-bit scaled; colour files by their
    grey level, alpha ignored; a 0/1 label mask becomes 0/1). Soft masks keep their levels.

    Raises:
        InputError: unreadable, larger than :data:`MAX_GUIDE_PIXELS` (see ``files.images.open_bounded``).
    """
    levels = to_uint8_levels(open_bounded(source, what, max_pixels=MAX_GUIDE_PIXELS)).astype(np.float32)
    top = 1.0 if levels.max() == 1 else 255.0
    return levels / top


def read_guide_image(source: str | os.PathLike | bytes, what: str | None = None) -> np.ndarray:
    """A guide image file as ``(H, W, 3)`` uint8 RGB (bounded like :func:`read_guide_mask`)."""
    return rgb_array(open_bounded(source, what, max_pixels=MAX_GUIDE_PIXELS))


def check_inject_scale(model: SinGANSeg, inject_scale: int) -> int:
    """``inject_scale`` as an int if it is in ``1 .. num_scales - 1`` (scale 0 has no scale below to stand in for,
    and at ``num_scales`` no generator would run).

    Raises:
        InputError: out of range, or the model has fewer than 2 scales or no mask channel.
    """
    if model.config.nc_im < 4:
        raise InputError(f"{model.name}: guided generation needs a model with a mask channel (nc_im = 4)")
    top = model.num_scales - 1
    if top < 1:
        raise InputError(f"{model.name} has {model.num_scales} scale(s); guiding needs at least 2")
    if isinstance(inject_scale, bool) or not float(inject_scale).is_integer() or not 1 <= inject_scale <= top:
        raise InputError(f"inject scale must be an integer in 1..{top} for {model.name} ({model.num_scales} "
                         f"scales), got {inject_scale!r}")
    return int(inject_scale)


def default_inject_scale(num_scales: int) -> int:
    """The inject scale a person starts from: :data:`DEFAULT_INJECT_FRACTION` of ``num_scales`` (rounded), kept
    in ``1 .. num_scales - 1`` (1 for a model of fewer than 3 scales)."""
    return int(min(max(round(DEFAULT_INJECT_FRACTION * num_scales), 1), max(num_scales - 1, 1)))


# ----------------------------------------------------------------------------------------------- pixel helpers
def resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` or ``(H, W, C)`` float array resized to ``size = (h, w)`` (bilinear, antialiased when
    shrinking); float32."""
    t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    if tuple(t.shape[2:]) != tuple(size):
        t = F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    out = t[0, 0] if array.ndim == 2 else t[0].permute(1, 2, 0)
    return out.contiguous().numpy()


def inpaint(image: np.ndarray, hole: np.ndarray, smooth: int = 4) -> np.ndarray:
    """Fill ``hole`` (``(H, W)`` bool) of ``image`` (``(H, W, C)`` float) from the surrounding colours: the known
    region grows one pixel per pass, each new pixel the mean of its known 3x3 neighbours (at most ``H + W``
    passes), then ``smooth`` 3x3 mean passes inside the hole soften the streaks. Pixels outside the hole are
    unchanged.

    Raises:
        InputError: the hole covers the whole image (nothing to fill from).
    """
    hole = np.asarray(hole, bool)
    if hole.all():
        raise InputError("nothing to fill the region from: it covers the whole image")
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    known = torch.from_numpy(~hole).float()[None, None]
    ones = torch.ones(1, 1, 3, 3)
    x = x * known
    c = x.shape[1]
    for _ in range(sum(hole.shape)):
        if bool(known.all()):
            break
        total = F.conv2d(x, ones.expand(c, 1, 3, 3), padding=1, groups=c)
        count = F.conv2d(known, ones, padding=1)
        fresh = (count > 0) & (known == 0)
        x = torch.where(fresh, total / count.clamp(min=1), x)
        known = torch.where(fresh, torch.ones_like(known), known)
    inside = torch.from_numpy(hole)[None, None]
    for _ in range(smooth):
        mean = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        x = torch.where(inside, mean, x)
    return x[0].permute(1, 2, 0).contiguous().numpy()


def dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """``(H, W)`` bool mask grown by ``radius`` pixels (square neighbourhood)."""
    t = torch.from_numpy(np.asarray(mask, bool)).float()[None, None]
    return (F.max_pool2d(t, 2 * radius + 1, stride=1, padding=radius)[0, 0] > 0).numpy()


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` (end exclusive) of the true pixels of a non-empty ``(H, W)`` bool mask."""
    ys, xs = np.nonzero(mask)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def real_pair(model: SinGANSeg) -> tuple[np.ndarray, np.ndarray]:
    """The model's finest real scale: ``(H, W, 3)`` float32 RGB in [0, 1] and its ``(H, W)`` bool mask.

    Raises:
        InputError: the training mask is empty (no object to take colours or a shape from).
    """
    real = ((model.reals[-1][0].float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)
    rgb, mask = real[:3].permute(1, 2, 0).contiguous().numpy(), (real[3] > HALF).numpy()
    if not mask.any():
        raise InputError(f"{model.name}: its training mask is empty, so there is no object to take from; "
                         "give a guide image")
    return rgb, mask


def object_texture(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The object's bounding box of ``rgb`` with the pixels outside ``mask`` filled from the object's own colours
    (``(h, w, 3)`` float): a patch that can be stretched onto another shape without background at its edges."""
    y0, y1, x0, x1 = bbox(mask)
    return inpaint(rgb[y0:y1, x0:x1], ~mask[y0:y1, x0:x1], smooth=0)


def removed_background(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``rgb`` with the object (``mask`` grown by a pixel, its soft edge included) inpainted away."""
    return inpaint(rgb, dilate(mask, 1))


# ----------------------------------------------------------------------------------------------- the guide
def derive_guide_image(model: SinGANSeg, target: np.ndarray, method: str = "paste") -> np.ndarray:
    """An RGB guide ``(H, W, 3)`` float32 in [0, 1] for the requested ``target`` mask (``(H, W)`` float in [0, 1]
    at the model's output size), from the model's real pair: the real object removed, then the target region
    filled with the real object's texture (``"paste"``) or mean colour (``"repaint"``), blended by ``target``."""
    if method not in DERIVE_METHODS:
        raise InputError(f"unknown guide derivation {method!r}; choose one of {', '.join(DERIVE_METHODS)}")
    rgb, mask = real_pair(model)
    background = removed_background(rgb, mask)
    colour = rgb[mask].mean(axis=0)
    fill = np.empty_like(rgb)
    fill[:] = colour
    inside = target > HALF
    if method == "paste" and inside.any():
        y0, y1, x0, x1 = bbox(inside)
        fill[y0:y1, x0:x1] = resize(object_texture(rgb, mask), (y1 - y0, x1 - x0))
    t = target[..., None].astype(np.float32)
    return background * (1.0 - t) + fill * t


def prepare_mask(model: SinGANSeg, mask: np.ndarray, what: str = "guide mask", allow_empty: bool = False
                 ) -> np.ndarray:
    """A requested mask (any size; uint8 0..255 or float in [0, 1], binary or soft) at the model's output size,
    ``(H, W)`` float32 in [0, 1].

    Raises:
        InputError: not 2-D, no pixel above half at that size (empty; unless ``allow_empty``), or every pixel
            above half (all white: no background left to generate).
    """
    arr = np.asarray(mask)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise InputError(f"{what}: expected a single-channel mask, got an array of shape {arr.shape}")
    arr = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    h, w = model.scale_sizes[-1]
    out = resize(np.clip(arr, 0.0, 1.0), (h, w)).clip(0.0, 1.0)
    inside = out > HALF
    if not inside.any() and not allow_empty:
        raise InputError(f"{what}: empty at the model's {w}x{h} px (no pixel above half grey); draw the object "
                         "where it should go")
    if inside.all():
        raise InputError(f"{what}: all white at the model's {w}x{h} px; leave some background")
    return out


def guide_tensor(model: SinGANSeg, rgb: np.ndarray, mask: np.ndarray, inject_scale: int) -> torch.Tensor:
    """The injected pair: ``rgb`` ``(H, W, 3)`` in [0, 1] and ``mask`` ``(H, W)`` in [0, 1] mapped to [-1, 1] and
    shrunk to the size of scale ``inject_scale - 1``: ``(1, 4, h, w)`` on the model's device."""
    h, w = model.scale_sizes[inject_scale - 1]
    pair = np.concatenate([rgb, mask[..., None]], axis=2)
    small = torch.from_numpy(resize(pair, (h, w))).permute(2, 0, 1)[None]
    return (small.clamp(0.0, 1.0) * 2.0 - 1.0).to(model.device)


def build_guide(model: SinGANSeg, mask: np.ndarray, inject_scale: int, guide_image: np.ndarray | None = None,
                derive: str = "paste", what: str = "guide mask", allow_empty: bool = False
                ) -> tuple[int, np.ndarray, np.ndarray, torch.Tensor]:
    """Everything a guided call injects: ``(k, target, rgb, guide)`` with ``k`` the checked inject scale,
    ``target`` the requested mask (:func:`prepare_mask`), ``rgb`` the RGB guide ``(H, W, 3)`` float32 in [0, 1]
    (``guide_image`` resized, or derived by ``derive``) and ``guide`` the pair at scale ``k - 1``
    (:func:`guide_tensor`). Raises ``InputError`` as :func:`guided_sample`."""
    k = check_inject_scale(model, inject_scale)
    target = prepare_mask(model, mask, what, allow_empty)
    h, w = target.shape
    if guide_image is None:
        rgb = derive_guide_image(model, target, derive)
    else:
        arr = np.asarray(guide_image)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise InputError(f"guide image: expected (h, w, 3) uint8 RGB, got {arr.dtype} of shape {arr.shape}")
        rgb = resize(arr.astype(np.float32) / 255.0, (h, w)).clip(0.0, 1.0)
    return k, target, rgb, guide_tensor(model, rgb, target, k)


def guided_sample(model: SinGANSeg, mask: np.ndarray, inject_scale: int, guide_image: np.ndarray | None = None,
                  n: int = 1, seed: int | None = None, batch_size: int | None = None, derive: str = "paste",
                  what: str = "guide mask", allow_empty: bool = False) -> GuidedSamples:
    """``n`` samples that follow the requested ``mask`` (see the module docstring).

    Args:
        mask: ``(h, w)`` uint8 (0..255) or float ([0, 1]) at any size (stretched to the model's), binary or soft.
        inject_scale: the scale whose input is the guide, ``1 .. num_scales - 1`` (:func:`check_inject_scale`).
        guide_image: optional ``(h, w, 3)`` uint8 RGB at any size; ``None`` derives one (``derive``, one of
            :data:`DERIVE_METHODS`; :func:`derive_guide_image`).
        seed: same seed, same samples (sample ``i`` always gets the same noise, whatever ``batch_size``, to the
            last grey level on one device); ``None`` draws one.
        allow_empty: accept an empty mask (an edit that removes the object).
    Returns:
        :class:`GuidedSamples` at the model's output size.
    Raises:
        InputError: a bad mask or guide, an inject scale out of range, ``n`` outside 0..MAX_GUIDED_SAMPLES.
    """
    check_inject_scale(model, inject_scale)
    if isinstance(n, bool) or not 0 <= n <= MAX_GUIDED_SAMPLES:
        raise InputError(f"n must be in 0..{MAX_GUIDED_SAMPLES} for guided samples, got {n!r}")
    k, target, rgb, guide = build_guide(model, mask, inject_scale, guide_image, derive, what, allow_empty)
    h, w = target.shape
    seed = int(torch.randint(0, 2**31 - 1, (1,)).item()) if seed is None else int(seed)
    gen = torch.Generator().manual_seed(seed)
    batch_size = batch_size or model.default_batch_size()
    images, masks = [np.zeros((0, h, w, 3), np.uint8)], [np.zeros((0, h, w), np.uint8)]
    with torch.no_grad():
        for lo in range(0, n, batch_size):
            b = min(batch_size, n - lo)
            out = None
            for _, _, _, out in model._run_scales(model.draw_noise(b, gen), k, 1.0, 1.0, b,
                                                  injected=(k, guide.expand(b, -1, -1, -1))):
                pass
            img, msk, _ = model._to_arrays(out, False)
            images.append(img)
            masks.append(msk)
    requested = np.where(target > HALF, 255, 0).astype(np.uint8)
    guide_u8 = (rgb * 255.0).clip(0, 255).astype(np.uint8)
    return GuidedSamples(np.concatenate(images), np.concatenate(masks), None, k, seed,
                         requested_mask=requested, guide_image=guide_u8)


def guided_trace(model: SinGANSeg, mask: np.ndarray, inject_scale: int, seed: int = 0,
                 guide_image: np.ndarray | None = None, derive: str = "paste") -> PyramidTrace:
    """The teaching trace (:func:`.trace.trace_pyramid`) of sample 0 of
    ``guided_sample(model, mask, inject_scale, guide_image, seed=seed, derive=derive)``: the scales from the
    inject scale on, with the guide that entered there (same final image and mask as that sample)."""
    k, _, _, guide = build_guide(model, mask, inject_scale, guide_image, derive)
    return trace_pyramid(model, seed, k, injected=(k, guide))
