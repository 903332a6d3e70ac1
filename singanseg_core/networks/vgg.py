"""VGG19's ``features`` as laid out by torchvision, and a feature extractor that taps named conv layers.

Only the modules: where the weights come from (pretrained, a file, or random) is ``style.vgg``'s business.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

# torchvision's vgg19 ``features`` configuration ("E"): channels per conv, "M" = max-pool.
_VGG19_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                               512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _vgg19_layout() -> tuple[dict[str, int], dict[int, tuple[int, int]]]:
    """Layer name -> index in ``features``, and conv index -> (out_channels, in_channels)."""
    names, shapes = {}, {}
    index, block, conv, in_ch = 0, 1, 1, 3
    for v in _VGG19_CFG:
        if v == "M":
            index += 1
            block, conv = block + 1, 1
            continue
        names[f"conv{block}_{conv}"] = index
        shapes[index] = (int(v), in_ch)
        in_ch = int(v)
        index += 2  # conv + ReLU
        conv += 1
    return names, shapes


VGG19_LAYERS, VGG19_CONV_SHAPES = _vgg19_layout()  # e.g. VGG19_LAYERS["conv5_1"] == 28


def vgg19_features_module() -> nn.Sequential:
    """An uninitialised (CPU) module laid out exactly as torchvision's ``vgg19().features``.

    Built on the meta device first, so construction neither costs time nor consumes random numbers.
    """
    layers: list[nn.Module] = []
    in_ch = 3
    with torch.device("meta"):
        for v in _VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_ch = int(v)
    return nn.Sequential(*layers).to_empty(device="cpu")



class VGGFeatures(nn.Module):
    """VGG19 truncated after the deepest requested layer's ReLU.

    ``forward(x)`` with ``x`` ``(N, 3, H, W)`` ImageNet-normalised returns ``{layer: (N, C, h, w)}``
    post-ReLU activations for the requested layers. Shares parameters with ``features``.
    """

    def __init__(self, features: nn.Sequential, layers: Sequence[str]):
        super().__init__()
        self.taps = {VGG19_LAYERS[name] + 1: name for name in layers}  # index of the ReLU after it
        last = max(self.taps)
        self.body = nn.Sequential(*list(features.children())[: last + 1])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in self.taps:
                out[self.taps[i]] = x
        return out

