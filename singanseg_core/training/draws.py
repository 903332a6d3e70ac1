"""Every random number that training one scale uses, named by its role in the original algorithm.

The trainer never calls ``torch.randn`` itself: it asks a :class:`ScaleDraws` for "the noise of epoch e", "the
noise that makes the random 'prev' images of epochs e..e+b at lower scale i", "the gradient-penalty mix of D
step j". The default, :class:`SeededDraws`, draws them from one seeded ``torch.Generator`` per model and
scale (so a model's result depends only on its own seed, never on its group or on what ran before). Tests
replace it with the draws recorded from the authors' code to check that the update rule is theirs.

Every method returns per-model tensors stacked on dim 0 (``K`` models); shapes are unpadded.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, Sequence

import torch


class ScaleDraws(Protocol):
    """The random draws of one scale's training for ``K`` models."""

    def z_opt(self, epoch: int, size: tuple[int, int]) -> torch.Tensor:
        """Scale 0 only: the reconstruction noise redrawn every epoch, ``(K, 1, h, w)`` (expanded to nc later)."""

    def noise(self, epoch: int, channels: int, size: tuple[int, int]) -> torch.Tensor:
        """The epoch's generator noise ``(K, channels, h, w)`` (1 channel at scale 0, nc above)."""

    def prev_noise(self, epochs: range, d_steps: int, lower: int, channels: int,
                   size: tuple[int, int]) -> torch.Tensor:
        """Noise of frozen scale ``lower`` for the random 'prev' image of every D step of ``epochs``:
        ``(K, len(epochs) * d_steps, channels, h_lower, w_lower)``, ordered epoch-major then D step."""

    def gp_mix(self, epoch: int, step: int) -> torch.Tensor:
        """The gradient penalty's mixing scalar of D step ``step``, one per model: ``(K,)`` in [0, 1)."""


def scale_seed(seed: int, scale: int) -> int:
    """A per-scale seed, so a resumed run continues exactly as an uninterrupted one."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{scale}".encode()).digest()[:8], "little") & (2**63 - 1)


class SeededDraws:
    """Draws from one ``torch.Generator`` per model seeded with ``scale_seed(seed_k, scale)``, on ``device``.

    Draw order per model follows the calls (the trainer's order); a model's stream never sees another's.
    """

    def __init__(self, seeds: Sequence[int], scale: int, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.gens = [torch.Generator(device=self.device).manual_seed(scale_seed(s, scale)) for s in seeds]

    def _randn(self, *shape: int) -> torch.Tensor:
        return torch.stack([torch.randn(*shape, generator=g, device=self.device) for g in self.gens])

    def z_opt(self, epoch: int, size: tuple[int, int]) -> torch.Tensor:
        return self._randn(1, *size)

    def noise(self, epoch: int, channels: int, size: tuple[int, int]) -> torch.Tensor:
        return self._randn(channels, *size)

    def prev_noise(self, epochs: range, d_steps: int, lower: int, channels: int,
                   size: tuple[int, int]) -> torch.Tensor:
        return self._randn(len(epochs) * d_steps, channels, *size)

    def gp_mix(self, epoch: int, step: int) -> torch.Tensor:
        return torch.cat([torch.rand(1, generator=g, device=self.device) for g in self.gens])
