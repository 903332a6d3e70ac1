"""Image tiles for people to look at (plain numpy / PIL, no plotting library): a mask painted over its image, a
frame that keeps white masks visible, crisp enlargement, image/mask/overlay stacks and a before/after split.

Arrays are ``uint8``; RGB ``(H, W, 3)``, masks ``(H, W)`` with object > 127.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def overlay(image: np.ndarray | Image.Image, mask: np.ndarray | Image.Image, alpha: float = 0.45,
            color: tuple[int, int, int] = (255, 40, 120)) -> np.ndarray:
    """The image with the mask painted over it in ``color`` (``alpha`` opacity) and its outline drawn solid."""
    img = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image).astype(np.float32)
    m = np.asarray(mask.convert("L") if isinstance(mask, Image.Image) else mask) > 127
    out = img.copy()
    out[m] = (1 - alpha) * img[m] + alpha * np.array(color, np.float32)
    edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
    out[edge] = color
    return out.clip(0, 255).astype(np.uint8)


def framed(arr: np.ndarray | Image.Image, grey_level: int = 170) -> np.ndarray:
    """RGB copy with a 1-pixel grey frame, so white mask areas stay visible against the white page."""
    a = np.asarray(arr.convert("RGB") if isinstance(arr, Image.Image) else arr)
    if a.ndim == 2:
        a = np.dstack([a] * 3)
    return np.pad(a, ((1, 1), (1, 1), (0, 0)), constant_values=grey_level)


def upscale(arr: np.ndarray | Image.Image, min_side: int = 160) -> Image.Image:
    """Nearest-neighbour enlargement so small images are visible (pixels stay crisp)."""
    im = arr if isinstance(arr, Image.Image) else Image.fromarray(np.asarray(arr))
    k = max(1, int(np.ceil(min_side / max(1, min(im.size)))))
    return im.resize((im.width * k, im.height * k), Image.NEAREST) if k > 1 else im


def triptych(image: np.ndarray, mask: np.ndarray, gap: int = 4) -> np.ndarray:
    """Image, mask and overlay stacked top to bottom (framed, ``gap`` white px apart): one gallery tile that stays
    as wide as a column, so each panel is large even on a 1024-px projector."""
    panels = [framed(image), framed(mask), framed(overlay(image, mask))]
    white = np.full((gap, panels[0].shape[1], 3), 255, np.uint8)
    return np.vstack([panels[0], white, panels[1], white, panels[2]])


def before_after(before: np.ndarray, after: np.ndarray, at: float, min_side: int = 320,
                 line_px: int = 2) -> np.ndarray:
    """Both images enlarged (nearest neighbour, to ``min_side``), then left ``at`` fraction from ``after`` and the
    rest from ``before``, split by a white line of ``line_px`` pixels: drawn after enlarging, so it stays thin."""
    b = np.asarray(upscale(before, min_side))
    a = np.asarray(upscale(after, min_side))
    if a.shape != b.shape:
        a = np.asarray(Image.fromarray(a).resize((b.shape[1], b.shape[0]), Image.NEAREST))
    w = b.shape[1]
    x = int(round(min(max(at, 0.0), 1.0) * w))
    out = b.copy()
    out[:, :x] = a[:, :x]
    if 0 < x < w:
        lo = min(max(0, x - line_px // 2), w - line_px)
        out[:, lo:lo + line_px] = 255
    return out


def grey(arr: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """Float ``(H, W)`` in ``[0, vmax]`` → uint8 grey image."""
    return (np.clip(np.asarray(arr, np.float64) / vmax, 0, 1) * 255).astype(np.uint8)

