"""Training-free baselines to compare SinGAN-Seg against (same inputs, same output type)."""

from .patch_nn import PatchNN, PatchNNConfig
from .samples import write_baseline_samples, write_baseline_set

__all__ = ["PatchNN", "PatchNNConfig", "write_baseline_samples", "write_baseline_set"]
