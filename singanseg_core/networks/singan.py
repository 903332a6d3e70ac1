"""SinGAN's per-scale networks. Parameter names match the original, so state_dicts line up with its checkpoints.

Both networks are five 3x3 conv blocks without padding (each map shrinks by 10 px), BatchNorm and LeakyReLU(0.2).
The generator is residual: ``G(z, prev) = crop(prev) + tanh(convs(z))``.

Every network can hold ``models = K`` independent copies stacked channel-wise (each conv with ``groups=K``,
BatchNorm over ``K*C`` channels): model ``k`` owns channels ``k*C .. (k+1)*C - 1`` of every tensor. With batch 1
(SinGAN trains on one image) this is exactly K separate networks, which is how several models train as one
computation. ``models = 1`` is the plain network; its state_dict is the original's.
"""

from __future__ import annotations

import copy
from typing import Sequence, TypeVar

import torch
from torch import nn


def noise_pad(ker_size: int, num_layer: int) -> int:
    """Pixels each side that ``num_layer`` unpadded ``ker_size`` convs take off a map (5 x 3x3: 5 px): the
    padding of every noise map and generator input, so the output has the real image's size."""
    return (ker_size - 1) * num_layer // 2


class ConvBlock(nn.Sequential):
    """conv(3x3, no padding, ``groups=models``) → BatchNorm → LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, ker_size: int = 3, models: int = 1) -> None:
        super().__init__()
        self.add_module("conv", nn.Conv2d(models * in_channels, models * out_channels, kernel_size=ker_size,
                                          stride=1, padding=0, groups=models))
        self.add_module("norm", nn.BatchNorm2d(models * out_channels))
        self.add_module("LeakyRelu", nn.LeakyReLU(0.2, inplace=True))


def _body(nfc: int, ker_size: int, num_layer: int, models: int) -> nn.Sequential:
    # With min_nfc == nfc (SinGAN's schedule) every body block is nfc → nfc.
    body = nn.Sequential()
    for i in range(num_layer - 2):
        body.add_module(f"block{i + 1}", ConvBlock(nfc, nfc, ker_size, models))
    return body


class _Trunk(nn.Module):
    """What G and D share: ``head`` (nc → nfc) and ``body`` (nfc → nfc) conv blocks, for ``models`` stacked models."""

    def __init__(self, nc_im: int, nfc: int, ker_size: int, num_layer: int, models: int) -> None:
        super().__init__()
        self.models, self.nc_im, self.nfc = models, nc_im, nfc
        self.ker_size, self.num_layer = ker_size, num_layer
        self.head = ConvBlock(nc_im, nfc, ker_size, models)
        self.body = _body(nfc, ker_size, num_layer, models)

    def _tail_conv(self, out_channels: int) -> nn.Conv2d:
        return nn.Conv2d(self.models * self.nfc, self.models * out_channels, kernel_size=self.ker_size, stride=1,
                         padding=0, groups=self.models)


class Generator(_Trunk):
    """``(noise + prev, prev)``, both ``(N, K*nc, h + 10, w + 10)`` → ``(N, K*nc, h, w)`` in ~[-1, 1]."""

    def __init__(self, nc_im: int = 4, nfc: int = 32, ker_size: int = 3, num_layer: int = 5, models: int = 1) -> None:
        super().__init__(nc_im, nfc, ker_size, num_layer, models)
        self.tail = nn.Sequential(self._tail_conv(nc_im), nn.Tanh())

    def forward(self, z: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        x = self.tail(self.body(self.head(z)))
        crop = (prev.shape[2] - x.shape[2]) // 2
        return x + prev[:, :, crop:prev.shape[2] - crop, crop:prev.shape[3] - crop]


class Discriminator(_Trunk):
    """WGAN critic: ``(N, K*nc, h, w)`` → patch scores ``(N, K, h - 10, w - 10)`` (channel k = model k)."""

    def __init__(self, nc_im: int = 4, nfc: int = 32, ker_size: int = 3, num_layer: int = 5, models: int = 1) -> None:
        super().__init__(nc_im, nfc, ker_size, num_layer, models)
        self.tail = self._tail_conv(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(self.head(x)))


Net = TypeVar("Net", Generator, Discriminator)


def stack(nets: Sequence[Net]) -> Net:
    """K single-model networks of one kind and width (on one device) → one network holding all K."""
    first = nets[0]
    with torch.device("meta"):  # no init and no random draws: the weights come next
        out = type(first)(first.nc_im, first.nfc, first.ker_size, first.num_layer, models=len(nets))
    out = out.to_empty(device=next(first.parameters()).device)
    states = [n.state_dict() for n in nets]
    # num_batches_tracked is one counter per BatchNorm; it is equal across models (same schedule, same niter).
    out.load_state_dict({key: states[0][key].clone() if key.endswith("num_batches_tracked")
                         else torch.cat([s[key] for s in states]) for key in states[0]})
    return out


def unstack(net: Net) -> list[Net]:
    """A K-model network → K single-model networks (CPU, eval mode, frozen), each with the original's keys."""
    host = {key: v.detach().cpu() for key, v in net.state_dict().items()}
    out = []
    for i in range(net.models):
        with torch.device("meta"):
            single = type(net)(net.nc_im, net.nfc, net.ker_size, net.num_layer)
        state = {key: v.clone() if key.endswith("num_batches_tracked") else v.chunk(net.models)[i].clone()
                 for key, v in host.items()}
        single.load_state_dict(state, assign=True)
        out.append(single.eval().requires_grad_(False))
    return out


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
    out = copy.deepcopy(gen).eval()
    for block in [out.head, *out.body]:
        conv, bn = block.conv, block.norm
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        with torch.no_grad():
            conv.weight.mul_(scale[:, None, None, None])
            conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
        block.norm = nn.Identity()
    return out.requires_grad_(False)
