"""SinGAN's per-scale networks. Parameter names match the original so state_dicts line up.

Both networks are five 3x3 conv blocks without padding (each map shrinks by 10 px), BatchNorm and
LeakyReLU(0.2). The generator is residual: ``G(z, prev) = prev_cropped + tanh(convs(z))``.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """conv(3x3, no padding) → BatchNorm → LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, ker_size: int = 3) -> None:
        super().__init__()
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size=ker_size, stride=1, padding=0))
        self.add_module("norm", nn.BatchNorm2d(out_channels))
        self.add_module("LeakyRelu", nn.LeakyReLU(0.2, inplace=True))


def _body(nfc: int, ker_size: int, num_layer: int) -> nn.Sequential:
    # With min_nfc == nfc (SinGAN's schedule) every body block is nfc → nfc.
    body = nn.Sequential()
    for i in range(num_layer - 2):
        body.add_module(f"block{i + 1}", ConvBlock(nfc, nfc, ker_size))
    return body


class Generator(nn.Module):
    """Maps ``(noise + prev, prev)``, both ``(N, nc, h + 10, w + 10)``, to ``(N, nc, h, w)`` in ~[-1, 1]."""

    def __init__(self, nc_im: int = 4, nfc: int = 32, ker_size: int = 3, num_layer: int = 5) -> None:
        super().__init__()
        self.head = ConvBlock(nc_im, nfc, ker_size)
        self.body = _body(nfc, ker_size, num_layer)
        self.tail = nn.Sequential(nn.Conv2d(nfc, nc_im, kernel_size=ker_size, stride=1, padding=0), nn.Tanh())

    def forward(self, z: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        x = self.tail(self.body(self.head(z)))
        crop = (prev.shape[2] - x.shape[2]) // 2
        return x + prev[:, :, crop:prev.shape[2] - crop, crop:prev.shape[3] - crop]


class Discriminator(nn.Module):
    """WGAN critic: ``(N, nc, h, w)`` → patch scores ``(N, 1, h - 10, w - 10)``."""

    def __init__(self, nc_im: int = 4, nfc: int = 32, ker_size: int = 3, num_layer: int = 5) -> None:
        super().__init__()
        self.head = ConvBlock(nc_im, nfc, ker_size)
        self.body = _body(nfc, ker_size, num_layer)
        self.tail = nn.Conv2d(nfc, 1, kernel_size=ker_size, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(self.head(x)))


def init_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """SinGAN's init: conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0 (conv bias keeps torch's default)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            with torch.no_grad():
                m.weight.normal_(0.0, 0.02, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.normal_(1.0, 0.02, generator=generator)
                m.bias.zero_()


def nfc_for_scale(scale: int, nfc_init: int = 32, max_nfc: int = 128) -> int:
    """Channel width at a scale: doubles every 4 scales, capped (32, 32, 32, 32, 64, ..., 128)."""
    return min(nfc_init * 2 ** (scale // 4), max_nfc)


def fold_batchnorm(gen: Generator) -> Generator:
    """An inference copy of a frozen (eval-mode) generator with each BatchNorm folded into its conv.

    ``y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta`` becomes one conv with scaled weights and bias:
    the same function (to float rounding, ~1e-7), one memory pass less per block.
    """
    import copy

    out = copy.deepcopy(gen).eval()
    for block in [out.head, *out.body]:
        conv, bn = block.conv, block.norm
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        with torch.no_grad():
            conv.weight.mul_(scale[:, None, None, None])
            conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
        block.norm = nn.Identity()
    return out.requires_grad_(False)
