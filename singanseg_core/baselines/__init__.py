"""Training-free baselines to compare SinGAN-Seg against (same inputs, same output type)."""

from .patch_nn import PatchNN, PatchNNConfig

__all__ = ["PatchNN", "PatchNNConfig"]
