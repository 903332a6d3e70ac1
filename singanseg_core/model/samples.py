"""``Samples``: what sampling returns (uint8 images and 0/255 masks), and the one float → uint8 image rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Samples:
    """Output of :meth:`SinGANSeg.sample`.

    Attributes:
        images: ``(N, H, W, 3)`` uint8 RGB.
        masks: ``(N, H, W)`` uint8, 0 or 255 (mask channel > 0.5 after mapping to [0, 1]).
        raw_masks: ``(N, H, W)`` float32 in [0, 1] (the mask channel before thresholding), if asked for.
        gen_start_scale: the start scale actually used (after clamping).
        seed: the seed used.
        redraws: ``(N,)`` int64, how many times each sample was redrawn because its mask was empty (only when
            sampling with ``redraw_empty``; a sample at the cap whose mask is still empty is the first draw).
    """

    images: np.ndarray
    masks: np.ndarray
    raw_masks: np.ndarray | None
    gen_start_scale: int
    seed: int
    redraws: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def true_pixel_pct(self) -> np.ndarray:
        """Foreground percentage of each mask, ``(N,)`` float64 in [0, 100]."""
        return (self.masks > 0).reshape(len(self.masks), -1).mean(axis=1) * 100.0

    def captions(self) -> list[str]:
        """One caption per sample: ``#i · 3.2 % object[ · redrawn 2x]``."""
        redrawn = self.redraws if self.redraws is not None else np.zeros(len(self), np.int64)
        return [f"#{i} · {p:.1f} % object" + (f" · redrawn {r}x" if r else "")
                for i, (p, r) in enumerate(zip(self.true_pixel_pct, redrawn))]

    def redraw_note(self) -> str | None:
        """How many samples were redrawn and how many masks are still empty (``None`` without ``redraw_empty``)."""
        if self.redraws is None:
            return None
        still = int((self.true_pixel_pct == 0).sum())
        return (f"{int((self.redraws > 0).sum())} of {len(self)} sample(s) redrawn because their mask was empty; "
                f"{still} still empty")


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` in [-1, 1] → ``(N, H, W, C)`` uint8 by truncation (as the original's image writer)."""
    levels = (((x + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).to(torch.uint8)
    return levels.permute(0, 2, 3, 1).contiguous().cpu().numpy()
