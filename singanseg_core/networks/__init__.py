"""The neural networks (``nn.Module`` only): SinGAN's per-scale generator and critic."""

from .singan import ConvBlock, Discriminator, Generator, fold_batchnorm, init_weights, nfc_for_scale, stack, unstack

__all__ = ["ConvBlock", "Discriminator", "Generator", "fold_batchnorm", "init_weights", "nfc_for_scale", "stack",
           "unstack"]
