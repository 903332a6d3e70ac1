"""Neural style transfer, step 2 of SinGAN-Seg.

A generated image is the *content*, the real training image of its checkpoint the *style*. Only
the RGB image is restyled; the generated mask is never touched (the folder variant copies it byte
for byte).

The algorithm follows the SinGAN-Seg authors' setup (Gatys et al. with their choices):

* VGG19 ``features`` with frozen ImageNet weights, inputs normalised with the ImageNet mean/std.
* Activations are taken *after* the ReLU that follows each named conv layer (the original stores
  the conv output, but torchvision's next ReLU is in-place, so what it uses is post-ReLU).
* Style layers conv1_1..conv5_1 weighted 0.75/0.5/0.25/0.25/0.25, content layer conv5_1
  (configurable; Gatys used conv4_2).
* Gram matrices are unnormalised ``F @ F.T``; a layer's style loss is
  ``weight * mean((G - G_target)**2) / (C * H * W)``; the content loss is the MSE of the content
  layer's activations.
* ``total = content_weight * content + style_weight * style``; presets 1:1 and 1:1000 (the paper).
* 1000 steps of Adam (lr 0.01) starting from the content image; L-BFGS as an option.

What is done differently, for speed only: VGG runs only up to the deepest layer needed, the
style/content targets (and target Gram matrices) are computed once without gradients, several
pairs are optimised in one batch (each image's loss is summed, so with Adam every image follows
exactly its own single-image trajectory), Gram matrices get a one-matmul backward, and on request
(``precision="bf16"`` or ``"auto"``) bf16 autocast for the VGG convolutions where the hardware supports
it natively (CUDA with bf16, CPUs with AVX512-BF16 or AMX), with Gram matrices and losses in float32.
The default is fp32, the original's math; bf16 changes pixels (mean |diff| ~0.05 on [0, 1] after 1000
steps) for ~1.7x speed on such CPUs. On a CPU the fp32 convolutions already run near peak, so fp32 alone
is only ~10-15 % faster than the original (see ``bench/RESULTS.md``).

Weights: torchvision's ``VGG19_Weights.IMAGENET1K_V1`` through torchvision's own cache, or a local
state_dict file (``weights=`` argument, ``SINGANSEG_VGG19_WEIGHTS`` env var, ``--vgg-weights``),
validated key by key. ``random_features=True`` builds a seeded, randomly initialised VGG19 for tests
and offline demos; every result made with it says so in its metadata.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from .errors import Cancelled, InputError, SinGANSegError
from .io_utils import atomic_write_bytes, atomic_write_json, atomic_write_text

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

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


VGG19_LAYERS, _VGG19_CONV_SHAPES = _vgg19_layout()  # e.g. VGG19_LAYERS["conv5_1"] == 28

DEFAULT_STYLE_LAYERS: dict[str, float] = {
    "conv1_1": 0.75, "conv2_1": 0.5, "conv3_1": 0.25, "conv4_1": 0.25, "conv5_1": 0.25,
}
DEFAULT_CONTENT_LAYER = "conv5_1"
RATIO_PRESETS: dict[str, tuple[float, float]] = {"1:1": (1.0, 1.0), "1:1000": (1.0, 1000.0)}
DEFAULT_RATIO = "1:1000"

WEIGHTS_ENV_VAR = "SINGANSEG_VGG19_WEIGHTS"
MIN_SIDE = 16  # four max-pools precede conv5_1: 16 px -> 1 px there

Precision = Literal["auto", "fp32", "bf16"]
OptimizerName = Literal["adam", "lbfgs"]
ProgressFn = Callable[[int, dict[str, float]], "bool | None"]


class VGGWeightsError(SinGANSegError):
    """Pretrained VGG19 weights are missing, unreadable, or not a vgg19 state_dict."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def parse_ratio(ratio: str | float | tuple[float, float]) -> tuple[float, float]:
    """``"1:1000"`` / ``(1, 1000)`` / ``1000`` (style weight per unit content) -> (content_w, style_w)."""
    if isinstance(ratio, str):
        if ratio in RATIO_PRESETS:
            return RATIO_PRESETS[ratio]
        parts = ratio.split(":")
        try:
            if len(parts) == 2:
                cw, sw = float(parts[0]), float(parts[1])
            elif len(parts) == 1:
                cw, sw = 1.0, float(parts[0])
            else:
                raise ValueError
        except ValueError:
            raise InputError(f"ratio {ratio!r} is not 'CONTENT:STYLE' (e.g. '1:1000') or a number") from None
    elif isinstance(ratio, (tuple, list)):
        cw, sw = float(ratio[0]), float(ratio[1])
    else:
        cw, sw = 1.0, float(ratio)
    if not (math.isfinite(cw) and math.isfinite(sw)) or cw < 0 or sw < 0 or cw + sw == 0:
        raise InputError(f"ratio {ratio!r}: weights must be finite, non-negative, not both zero")
    return cw, sw


def format_ratio(content_weight: float, style_weight: float) -> str:
    return f"{content_weight:g}:{style_weight:g}"


@dataclass
class StyleTransferConfig:
    """Every knob of one style-transfer run; the defaults reproduce the original.

    Attributes:
        content_weight, style_weight: loss weights (the ratio preset "1:1000" is 1 and 1000).
        steps: optimiser steps (Adam) or loss evaluations (L-BFGS, line-search evaluations count).
        optimizer: "adam" (original) or "lbfgs".
        lr: learning rate; ``None`` = 0.01 for Adam (original), 1.0 for L-BFGS.
        content_layer: VGG19 layer name for the content loss ("conv5_1" original, "conv4_2" Gatys).
        style_layers: layer name -> weight.
        size: processing size in pixels for the longer side (aspect kept), ``None`` = native
            size; the result is resized back to the content image's size.
        seed: seeds everything random (the random VGG weights when ``random_features``).
        precision: "fp32" (default, the original's math), "bf16" (autocast for the VGG convs; Gram
            matrices and losses stay float32; changes the result) or "auto" = bf16 where the device
            supports it natively, else fp32.
        early_stop: stop when the total loss has not improved by ``early_stop_rel_tol`` (relative)
            for ``early_stop_patience`` steps. Off by default, for fidelity.
        lbfgs_history: L-BFGS history size.
        progress_every: call the progress callback every this many steps (and at the last).
    """

    content_weight: float = 1.0
    style_weight: float = 1000.0
    steps: int = 1000
    optimizer: OptimizerName = "adam"
    lr: float | None = None
    content_layer: str = DEFAULT_CONTENT_LAYER
    style_layers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STYLE_LAYERS))
    size: int | None = None
    seed: int = 0
    precision: Precision = "fp32"
    early_stop: bool = False
    early_stop_patience: int = 50
    early_stop_rel_tol: float = 1e-4
    lbfgs_history: int = 100
    progress_every: int = 1

    @classmethod
    def from_ratio(cls, ratio: str | float | tuple[float, float] = DEFAULT_RATIO, **kwargs: Any) -> "StyleTransferConfig":
        cw, sw = parse_ratio(ratio)
        return cls(content_weight=cw, style_weight=sw, **kwargs).validated()

    @property
    def ratio(self) -> str:
        return format_ratio(self.content_weight, self.style_weight)

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return float(self.lr)
        return 0.01 if self.optimizer == "adam" else 1.0

    @property
    def layers(self) -> list[str]:
        """All VGG layers the losses read, shallowest first."""
        names = set(self.style_layers) | {self.content_layer}
        return sorted(names, key=VGG19_LAYERS.__getitem__)

    def validated(self) -> "StyleTransferConfig":
        unknown = [n for n in [self.content_layer, *self.style_layers] if n not in VGG19_LAYERS]
        if unknown:
            raise InputError(f"unknown VGG19 layer(s) {unknown}; valid: {', '.join(VGG19_LAYERS)}")
        if self.optimizer not in ("adam", "lbfgs"):
            raise InputError(f"optimizer {self.optimizer!r}: use 'adam' or 'lbfgs'")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise InputError(f"precision {self.precision!r}: use 'auto', 'fp32' or 'bf16'")
        if int(self.steps) < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.size is not None and int(self.size) < MIN_SIDE:
            raise InputError(f"size must be >= {MIN_SIDE} px (VGG19 pools 4 times before conv5_1), got {self.size}")
        parse_ratio((self.content_weight, self.style_weight))
        return self

    def to_metadata(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["lr"] = self.learning_rate
        return d


# --------------------------------------------------------------------------------------------
# VGG19 weights
# --------------------------------------------------------------------------------------------


def _torchvision_weights_file() -> Path:
    """Where ``torchvision``'s own cache keeps ``VGG19_Weights.IMAGENET1K_V1`` (no download)."""
    from torchvision.models import VGG19_Weights

    filename = os.path.basename(VGG19_Weights.IMAGENET1K_V1.url)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _how_to_provide() -> str:
    return (
        "Provide pretrained VGG19 weights in one of these ways: "
        "(1) on a machine with internet run `python -c \"import torchvision; "
        "torchvision.models.vgg19(weights='IMAGENET1K_V1')\"` and copy the file "
        f"{_torchvision_weights_file().name} into {_torchvision_weights_file().parent}; "
        f"(2) set {WEIGHTS_ENV_VAR}=/path/to/vgg19.pth (a torchvision vgg19 state_dict, .pth or "
        ".safetensors); (3) pass --vgg-weights PATH (CLI) or weights=PATH (Python). "
        "For tests and offline demos only, --random-features / random_features=True uses random, "
        "not pretrained, VGG19 weights."
    )


def vgg_weights_status() -> tuple[bool, str]:
    """Whether pretrained VGG19 weights can be used without downloading, and a sentence saying so.

    Checks ``$SINGANSEG_VGG19_WEIGHTS`` (exists, not validated: that reads the file) and the
    torchvision cache. Never downloads anything.
    """
    env = os.environ.get(WEIGHTS_ENV_VAR)
    if env:
        if Path(env).is_file():
            return True, f"Pretrained VGG19 weights: {env} (from {WEIGHTS_ENV_VAR})."
        return False, f"{WEIGHTS_ENV_VAR} points to {env}, which does not exist. " + _how_to_provide()
    cached = _torchvision_weights_file()
    if cached.is_file():
        return True, f"Pretrained VGG19 weights: torchvision cache ({cached})."
    return False, f"Pretrained VGG19 weights not found (torchvision cache {cached}, {WEIGHTS_ENV_VAR} unset). " + _how_to_provide()


def validate_vgg19_state_dict(state: Any, source: str = "weights") -> dict[str, torch.Tensor]:
    """Check a vgg19 state_dict and return its ``features`` part with keys ``"{index}.weight|bias"``.

    Accepts a full torchvision ``vgg19`` state_dict (``features.N.weight`` ..., classifier keys are
    ignored), a ``features``-only one (``N.weight``), or either wrapped in ``{"state_dict": ...}``.
    Raises ``VGGWeightsError`` naming ``source`` and the first problems found.
    """
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise VGGWeightsError(f"{source}: not a state_dict (expected a mapping of tensor names to tensors)")
    prefix = "features." if any(str(k).startswith("features.") for k in state) else ""
    out, problems = {}, []
    for index, (c_out, c_in) in sorted(_VGG19_CONV_SHAPES.items()):
        for kind, shape in (("weight", (c_out, c_in, 3, 3)), ("bias", (c_out,))):
            key = f"{prefix}{index}.{kind}"
            t = state.get(key)
            if t is None:
                problems.append(f"missing {key}")
            elif not isinstance(t, torch.Tensor) or not t.is_floating_point():
                problems.append(f"{key} is not a float tensor")
            elif tuple(t.shape) != shape:
                problems.append(f"{key} has shape {tuple(t.shape)}, expected {shape}")
            else:
                out[f"{index}.{kind}"] = t.float()
    if problems:
        more = f" (+{len(problems) - 4} more)" if len(problems) > 4 else ""
        raise VGGWeightsError(
            f"{source} is not a torchvision vgg19 state_dict: {'; '.join(problems[:4])}{more}"
        )
    return out


def load_vgg19_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read and validate a local vgg19 weights file (``.pth``/``.pt`` weights-only, or ``.safetensors``)."""
    path = Path(path)
    if not path.is_file():
        raise VGGWeightsError(f"VGG19 weights file {path} does not exist. " + _how_to_provide())
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            # weights_only: never unpickle arbitrary objects from a user-supplied file.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any reader failure is the file's problem
        import pickle

        why = (
            "not a torch file, or it holds objects other than tensors (refused: only plain "
            "state_dicts are loaded, never arbitrary pickles)"
            if isinstance(err, pickle.UnpicklingError) or "weights_only" in str(err)
            else f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
        )
        raise VGGWeightsError(f"VGG19 weights file {path} cannot be read as a weights-only state_dict ({why})") from None
    return validate_vgg19_state_dict(state, source=f"VGG19 weights file {path}")


@dataclass
class VGG19Backbone:
    """Frozen VGG19 ``features`` on a device, plus where its weights came from.

    Attributes:
        features: ``nn.Sequential`` of torchvision's vgg19 features (eval, no grad).
        source: human-readable origin ("torchvision IMAGENET1K_V1 (...)", a file, or random).
        random_features: True when the weights are random, i.e. results are for tests/demos only.
    """

    features: nn.Sequential
    source: str
    random_features: bool
    seed: int | None = None

    @property
    def device(self) -> torch.device:
        return next(self.features.parameters()).device


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


def _make_vgg19_features(state: dict[str, torch.Tensor] | None, seed: int | None) -> nn.Sequential:
    """VGG19 features with ``state`` loaded, or random when ``state`` is None.

    Random weights follow torchvision's VGG initialisation (Kaiming normal, fan_out, ReLU gain;
    zero biases) drawn from a generator seeded with ``seed``; the caller's global RNG is untouched.
    """
    features = vgg19_features_module()
    if state is None:
        gen = torch.Generator().manual_seed(int(seed or 0))
        with torch.no_grad():
            for m in features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=gen)
                    nn.init.zeros_(m.bias)
    else:
        features.load_state_dict(state)
    features.eval()
    for p in features.parameters():
        p.requires_grad_(False)
    return features


_CACHE: dict[tuple, VGG19Backbone] = {}
_CACHE_LOCK = threading.Lock()


def load_vgg19(
    weights: str | os.PathLike | None = None,
    random_features: bool = False,
    seed: int = 0,
    device: str | torch.device | None = None,
    allow_download: bool = True,
) -> VGG19Backbone:
    """Load (and cache in memory) the VGG19 feature extractor.

    Order: ``random_features`` -> ``weights`` file -> ``$SINGANSEG_VGG19_WEIGHTS`` -> torchvision's
    ``VGG19_Weights.IMAGENET1K_V1`` (its cache, or a download when ``allow_download``). Raises
    ``VGGWeightsError`` with instructions when none works.
    """
    device = torch.device(device) if device is not None else default_device()
    env = os.environ.get(WEIGHTS_ENV_VAR)
    if random_features:
        key: tuple = ("random", int(seed))
    elif weights is not None or env:
        p = Path(weights if weights is not None else env).expanduser().resolve()
        key = ("file", str(p), p.stat().st_mtime_ns if p.exists() else 0)
    else:
        key = ("torchvision",)
    key = key + (str(device),)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if random_features:
            features = _make_vgg19_features(None, seed)
            backbone = VGG19Backbone(features, f"random VGG19 weights (seed {seed}), NOT pretrained", True, int(seed))
        elif key[0] == "file":
            path = key[1]
            origin = "" if weights is not None else f" (from {WEIGHTS_ENV_VAR})"
            features = _make_vgg19_features(load_vgg19_state_dict(path), None)
            backbone = VGG19Backbone(features, f"VGG19 weights file {path}{origin}", False)
        else:
            features = _load_torchvision_features(allow_download)
            backbone = VGG19Backbone(features, "torchvision VGG19_Weights.IMAGENET1K_V1", False)
        backbone.features.to(device)
        _CACHE[key] = backbone
        return backbone


def _load_torchvision_features(allow_download: bool) -> nn.Sequential:
    import torchvision
    from torchvision.models import VGG19_Weights

    cached = _torchvision_weights_file()
    if not cached.is_file() and not allow_download:
        raise VGGWeightsError(f"Pretrained VGG19 weights are not in the torchvision cache ({cached}). " + _how_to_provide())
    try:
        with torch.random.fork_rng(devices=[]):  # its constructor draws random init weights
            model = torchvision.models.vgg19(weights=VGG19_Weights.IMAGENET1K_V1)
    except Exception as err:  # noqa: BLE001 - offline machines fail in many ways (URLError, OSError, ...)
        raise VGGWeightsError(
            f"Pretrained VGG19 weights are not in the torchvision cache ({cached}) and could not be "
            f"downloaded ({type(err).__name__}: {str(err)[:160]}). " + _how_to_provide()
        ) from None
    features = validate_vgg19_state_dict(model.features.state_dict(), "torchvision cache")
    return _make_vgg19_features(features, None)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------------------------
# Features and losses
# --------------------------------------------------------------------------------------------


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


class _Gram(torch.autograd.Function):
    """``G = F @ F.T`` with a one-matmul backward, ``dF = (dG + dG.T) @ F``.

    Autograd's generic ``bmm`` backward would run two matmuls (one per operand, unaware that both
    are ``F``); the Gram matrices are a sizeable share of a step once the convs run in bf16.
    """

    @staticmethod
    def forward(ctx, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(f)
        return torch.bmm(f, f.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (f,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), f)


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, C, C)`` unnormalised Gram matrices, computed in float32."""
    return _Gram.apply(feat.float().flatten(2))


def _losses(
    feats: dict[str, torch.Tensor],
    content_target: torch.Tensor,
    gram_targets: dict[str, torch.Tensor],
    cfg: StyleTransferConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image content and style losses, each ``(N,)`` float32."""
    pred = feats[cfg.content_layer].float()
    content = (pred - content_target).pow(2).flatten(1).mean(1)
    style = torch.zeros_like(content)
    for name, weight in cfg.style_layers.items():
        f = feats[name]
        _, c, h, w = f.shape
        style = style + weight * (gram_matrix(f) - gram_targets[name]).pow(2).flatten(1).mean(1) / (c * h * w)
    return content, style


def _cpu_has_bf16() -> bool:
    """Native bf16 dot products (AVX512-BF16 or AMX); oneDNN would merely emulate bf16 elsewhere."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except Exception:  # noqa: BLE001 - private helpers may move between torch versions
        return False


def resolve_precision(precision: Precision, device: torch.device) -> Literal["fp32", "bf16"]:
    """"auto" -> "bf16" on CUDA with bf16 support or CPUs with native bf16 instructions, else "fp32"."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if _cpu_has_bf16() else "fp32"
    return "fp32"


def _memory_format(images: torch.Tensor, precision: Literal["fp32", "bf16"]) -> torch.memory_format:
    """NHWC (channels_last) where oneDNN / cuDNN run VGG's convolutions faster: on CUDA, in bf16, and for
    fp32 work of at least 256x256 pixels per step (measured on a 2-core AVX-512 CPU: 1.2x for a batch of 8
    at 128 px, 1.05x at 256 px, 0.93x for one 128 px image). Same math; only the memory layout changes."""
    n, _, h, w = images.shape
    if images.device.type == "cuda" or precision == "bf16" or n * h * w >= 256 * 256:
        return torch.channels_last
    return torch.contiguous_format


# --------------------------------------------------------------------------------------------
# Optimisation
# --------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    image: torch.Tensor  # (N, 3, H, W) in [0, 1]
    content_loss: list[float]
    style_loss: list[float]
    steps_run: int
    history: list[dict[str, float]]
    stopped_early: bool


class _BudgetSpent(Exception):
    pass


def _optimize(
    extractor: VGGFeatures,
    content: torch.Tensor,
    style: torch.Tensor,
    cfg: StyleTransferConfig,
    precision: Literal["fp32", "bf16"],
    progress: ProgressFn | None,
) -> _Outcome:
    """Optimise ``(N, 3, H, W)`` images in [0, 1] (content and style already the same size)."""
    device = content.device
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    amp = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        if precision == "bf16" else nullcontext()
    )

    fmt = _memory_format(content, precision)
    extractor.to(memory_format=fmt)  # in place and idempotent; the cached module keeps the last format
    c_norm = (content - mean) / std
    with torch.no_grad(), amp:
        feats = extractor(torch.cat([c_norm, (style - mean) / std]).contiguous(memory_format=fmt))
    n = content.shape[0]
    content_target = feats[cfg.content_layer][:n].float()
    gram_targets = {name: gram_matrix(feats[name][n:]) for name in cfg.style_layers}
    del feats

    # The optimised pixels stay contiguous (L-BFGS flattens gradients with .view); VGG gets an NHWC copy.
    x = c_norm.clone().requires_grad_(True)
    cw, sw = float(cfg.content_weight), float(cfg.style_weight)
    history: list[dict[str, float]] = []
    state = {"evals": 0, "best": math.inf, "best_step": 0, "best_x": None, "last": None}

    # L-BFGS (not in the original) takes large steps that leave [0, 1]; it optimises the loss of
    # the clamped image, so the loss it reports is the loss of the image it returns. Adam keeps the
    # original's unconstrained pixels (clamped only at the end).
    lo, hi = (0.0 - mean) / std, (1.0 - mean) / std
    clamp_in_loss = cfg.optimizer == "lbfgs"

    def evaluate() -> torch.Tensor:
        with amp:
            feats = extractor((torch.clamp(x, lo, hi) if clamp_in_loss else x).contiguous(memory_format=fmt))
        content_l, style_l = _losses(feats, content_target, gram_targets, cfg)
        total = (cw * content_l + sw * style_l).sum()
        state["evals"] += 1
        state["last"] = (content_l.detach(), style_l.detach())
        return total

    def report(step: int, total: torch.Tensor) -> None:
        c_l, s_l = state["last"]
        losses = {"content": float(c_l.sum()), "style": float(s_l.sum()), "total": float(total)}
        history.append({"step": step, **losses})
        if progress is not None and progress(step, losses) is False:
            raise Cancelled(f"style transfer cancelled at step {step} of {cfg.steps}")

    def needs_report(step: int) -> bool:
        return step % max(1, cfg.progress_every) == 0 or step == cfg.steps

    stopped_early = False
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam([x], lr=cfg.learning_rate)
        for step in range(1, cfg.steps + 1):
            opt.zero_grad(set_to_none=True)
            total = evaluate()
            total.backward()
            opt.step()
            if needs_report(step) or cfg.early_stop:
                report(step, total.detach())
            if cfg.early_stop and _plateaued(state, float(total.detach()), step, cfg):
                stopped_early = True
                break
        steps_run = state["evals"]
        final = x.detach()
        # Losses reported are those of the last evaluated image (one Adam step before `final`),
        # exactly as the original prints them.
    else:
        opt = torch.optim.LBFGS(
            [x], lr=cfg.learning_rate, max_iter=cfg.steps, max_eval=cfg.steps + 25,
            history_size=cfg.lbfgs_history, line_search_fn="strong_wolfe",
            tolerance_grad=0.0, tolerance_change=0.0,
        )

        def closure() -> torch.Tensor:
            if state["evals"] >= cfg.steps:
                raise _BudgetSpent
            opt.zero_grad(set_to_none=True)
            total = evaluate()
            total.backward()
            value = float(total.detach())
            if value < state["best"]:  # L-BFGS probes worse points in line searches: keep the best
                state["best"], state["best_x"] = value, x.detach().clone()
                state["best_losses"] = state["last"]
            step = state["evals"]
            if needs_report(step) or cfg.early_stop:
                report(step, total.detach())
            if cfg.early_stop and _plateaued(state, value, step, cfg):
                raise _BudgetSpent
            return total

        while state["evals"] < cfg.steps:
            before = state["evals"]
            try:
                opt.step(closure)
            except _BudgetSpent:
                stopped_early = state["evals"] < cfg.steps
                break
            if state["evals"] - before <= 1:  # converged: no progress possible
                break
        steps_run = state["evals"]
        final = state["best_x"] if state["best_x"] is not None else x.detach()
        if state.get("best_losses") is not None:
            state["last"] = state["best_losses"]

    c_l, s_l = state["last"]
    image = (final * std + mean).clamp(0.0, 1.0)
    return _Outcome(image, c_l.tolist(), s_l.tolist(), steps_run, history, stopped_early)


def _plateaued(state: dict, value: float, step: int, cfg: StyleTransferConfig) -> bool:
    """Early stop: no relative improvement > ``early_stop_rel_tol`` for ``early_stop_patience`` steps."""
    best = state.get("es_best", math.inf)
    if not math.isfinite(best) or value < best * (1.0 - cfg.early_stop_rel_tol):
        state["es_best"], state["es_step"] = value, step
        return False
    return step - state["es_step"] >= cfg.early_stop_patience


# --------------------------------------------------------------------------------------------
# Images in, images out
# --------------------------------------------------------------------------------------------

def open_rgb(path: str | os.PathLike, role: str = "image") -> Image.Image:
    """Open an image file as RGB, or raise ``InputError`` naming the file and the problem."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{role} {path} does not exist")
    if not path.is_file():
        raise InputError(f"{role} {path} is not a file")
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise InputError(f"{role} {path} is not a readable image ({type(err).__name__})") from None


def _to_tensor(img: Any, role: str) -> tuple[torch.Tensor, bool]:
    """-> ``(3, H, W)`` float32 in [0, 1] and whether the input was a tensor."""
    if isinstance(img, (str, os.PathLike)):
        img = open_rgb(img, role)
    if isinstance(img, Image.Image):
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(arr.transpose(2, 0, 1).copy()), False
    if isinstance(img, torch.Tensor):
        t = img.detach()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3:
            raise InputError(f"{role} tensor must be (3, H, W) or (1, 3, H, W) in [0, 1], got {tuple(img.shape)}")
        return t.float().cpu().clamp(0, 1), True
    raise InputError(f"{role} must be a PIL image, a (3, H, W) tensor or a path, got {type(img).__name__}")


def processing_shape(height: int, width: int, size: int | None) -> tuple[int, int]:
    """``(h, w)`` the VGG sees: longer side = ``size`` (aspect kept) or native; each side >= 16."""
    if size is not None:
        scale = size / max(height, width)
        height, width = round(height * scale), round(width * scale)
    return max(MIN_SIDE, int(height)), max(MIN_SIDE, int(width))


def _resize(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``(N, 3, H, W)`` -> ``(N, 3, *hw)``, antialiased bilinear (torchvision ``Resize``'s choice)."""
    if tuple(t.shape[-2:]) == tuple(hw):
        return t
    return F.interpolate(t, size=hw, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """``(3, H, W)`` in [0, 1] -> RGB PIL image (rounded to uint8)."""
    arr = (t.detach().cpu().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(arr), mode="RGB")


@dataclass
class StyleTransferResult:
    """One restyled image.

    Attributes:
        image: PIL RGB image if the content was a PIL image or path, else a ``(3, H, W)`` float
            tensor in [0, 1]; always the content image's size.
        content_loss, style_loss, total_loss: at the last evaluation (unweighted content/style).
        steps_run: steps actually run (fewer than ``config.steps`` after an early stop).
        seconds: wall time of the optimisation of the batch this image was in.
        history: ``[{"step", "content", "style", "total"}, ...]`` (summed over its batch).
        metadata: config, weights source, ``random_features``, precision, device, sizes.
    """

    image: Image.Image | torch.Tensor
    content_loss: float
    style_loss: float
    total_loss: float
    steps_run: int
    seconds: float
    history: list[dict[str, float]]
    metadata: dict[str, Any]

    @property
    def random_features(self) -> bool:
        return bool(self.metadata.get("random_features"))


def transfer_style_batch(
    contents: Sequence[Any],
    styles: Sequence[Any],
    config: StyleTransferConfig | None = None,
    *,
    vgg: VGG19Backbone | None = None,
    weights: str | os.PathLike | None = None,
    random_features: bool = False,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    progress: ProgressFn | None = None,
    allow_download: bool = True,
) -> list[StyleTransferResult]:
    """Restyle ``contents[i]`` with ``styles[i]``, several pairs per forward pass.

    Pairs whose processing shape matches are batched ``batch_size`` at a time; each style is
    resized to its content's processing size (as the original). With Adam each image's result
    equals its single-image run (losses are summed per image); with L-BFGS a batch shares one
    line search. ``progress(step, losses)`` receives the losses summed over the current batch;
    returning ``False`` raises ``Cancelled``.
    """
    cfg = (config or StyleTransferConfig()).validated()
    if len(contents) != len(styles):
        raise InputError(f"{len(contents)} content images but {len(styles)} style images")
    if vgg is None:
        vgg = load_vgg19(weights, random_features, cfg.seed, device, allow_download)
    dev = vgg.device
    precision = resolve_precision(cfg.precision, dev)
    extractor = VGGFeatures(vgg.features, cfg.layers)

    loaded = []
    for i, (c, s) in enumerate(zip(contents, styles)):
        ct, was_tensor = _to_tensor(c, f"content image #{i}" if not isinstance(c, (str, os.PathLike)) else "content image")
        st, _ = _to_tensor(s, f"style image #{i}" if not isinstance(s, (str, os.PathLike)) else "style image")
        hw = processing_shape(ct.shape[1], ct.shape[2], cfg.size)
        loaded.append((ct, st, hw, was_tensor))

    groups: dict[tuple[int, int], list[int]] = {}
    for i, (_, _, hw, _) in enumerate(loaded):
        groups.setdefault(hw, []).append(i)

    results: list[StyleTransferResult | None] = [None] * len(loaded)
    # Nothing below is random: the seed only matters for random VGG weights.
    for hw, idx in groups.items():
        for start in range(0, len(idx), max(1, batch_size)):
            chunk = idx[start : start + max(1, batch_size)]
            content = torch.stack([_resize(loaded[i][0][None], hw)[0] for i in chunk]).to(dev)
            style = torch.stack([_resize(loaded[i][1][None], hw)[0] for i in chunk]).to(dev)
            t0 = time.perf_counter()
            out = _optimize(extractor, content, style, cfg, precision, progress)
            seconds = time.perf_counter() - t0
            for j, i in enumerate(chunk):
                ct, _, _, was_tensor = loaded[i]
                img = _resize(out.image[j : j + 1].float().cpu(), tuple(ct.shape[1:]))[0]
                c_l, s_l = out.content_loss[j], out.style_loss[j]
                results[i] = StyleTransferResult(
                    image=img if was_tensor else tensor_to_pil(img),
                    content_loss=c_l,
                    style_loss=s_l,
                    total_loss=cfg.content_weight * c_l + cfg.style_weight * s_l,
                    steps_run=out.steps_run,
                    seconds=seconds,
                    history=out.history,
                    metadata={
                        **cfg.to_metadata(),
                        "random_features": vgg.random_features,
                        "weights": vgg.source,
                        "precision": precision,
                        "device": str(dev),
                        "processing_size": list(hw),
                        "output_size": [int(ct.shape[1]), int(ct.shape[2])],
                        "batch": len(chunk),
                        "stopped_early": out.stopped_early,
                    },
                )
    return results  # type: ignore[return-value]


def transfer_style(
    content: Any,
    style: Any,
    ratio: str | float | tuple[float, float] = DEFAULT_RATIO,
    steps: int = 1000,
    optimizer: OptimizerName = "adam",
    size: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    *,
    vgg: VGG19Backbone | None = None,
    weights: str | os.PathLike | None = None,
    random_features: bool = False,
    device: str | torch.device | None = None,
    allow_download: bool = True,
    **options: Any,
) -> StyleTransferResult:
    """Restyle one image: ``content`` (generated) takes the style of ``style`` (real).

    Args:
        content, style: PIL images, paths, or ``(3, H, W)`` / ``(1, 3, H, W)`` tensors in [0, 1].
        ratio: content:style weights, "1:1000" (paper, default), "1:1", "a:b", or a number.
        steps: Adam steps / L-BFGS evaluations (original: 1000).
        optimizer: "adam" (original) or "lbfgs".
        size: processing size of the longer side in px (e.g. 128, 256); ``None`` = native.
        seed: seed for everything random (including random VGG weights).
        progress: ``progress(step, {"content", "style", "total"})``; return ``False`` to cancel.
        vgg / weights / random_features / device / allow_download: see ``load_vgg19``.
        **options: any other ``StyleTransferConfig`` field (precision, content_layer, early_stop, ...).

    Returns:
        ``StyleTransferResult``; ``.image`` is PIL for PIL/path input, a ``(3, H, W)`` tensor for
        tensor input, at the content image's size.
    """
    cfg = StyleTransferConfig.from_ratio(ratio, steps=int(steps), optimizer=optimizer, size=size, seed=int(seed), **options)
    return transfer_style_batch(
        [content], [style], cfg, vgg=vgg, weights=weights, random_features=random_features,
        device=device, batch_size=1, progress=progress, allow_download=allow_download,
    )[0]


def encode_png(image: Image.Image, metadata: dict[str, Any] | None = None) -> bytes:
    """PNG bytes, with ``metadata`` as JSON in a ``singanseg_style`` text chunk."""
    info = PngImagePlugin.PngInfo()
    if metadata:
        info.add_text("singanseg_style", json.dumps(metadata, sort_keys=True, default=str))
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info, compress_level=1)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Samples folder (manifest.csv) variant
# --------------------------------------------------------------------------------------------

MANIFEST = "manifest.csv"
ST_COLUMNS = [
    "st_image", "st_source_image", "st_style_image", "st_ratio", "st_content_weight", "st_style_weight",
    "st_steps", "st_steps_run", "st_optimizer", "st_size", "st_precision", "st_content_layer", "st_seed",
    "st_random_features", "st_weights", "st_content_loss", "st_style_loss",
]


def styled_name(image_name: str) -> str:
    """``"<id>_s0_0_img.png"`` -> ``"<id>_s0_0_img_st.png"`` (stem + ``_st.png``)."""
    return f"{Path(image_name).stem}_st.png"


@dataclass
class _Job:
    row: dict[str, str]
    content: Path
    style: Path
    mask: Path | None
    out_image: Path
    out_mask: Path | None


def _read_manifest(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise InputError(f"{path} does not exist (style-batch reads the sampler's {MANIFEST})")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path} cannot be read as CSV ({type(err).__name__}: {err})") from None
    missing = [c for c in ("checkpoint", "image") if c not in columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {missing}; expected the sampler's manifest columns")
    return columns, rows


def _style_image_for(row: dict[str, str], real_dir: Path | None, manifest: Path, line: int) -> Path:
    if real_dir is not None:
        ckpt = row["checkpoint"]
        found = sorted(p for p in real_dir.glob(f"{ckpt}.*") if p.is_file())
        if not found:
            raise InputError(f"no style image {real_dir}/{ckpt}.* for checkpoint {ckpt!r} ({manifest} line {line})")
        return found[0]
    ckpt_path = row.get("checkpoint_path") or ""
    if not ckpt_path:
        raise InputError(f"{manifest} line {line}: empty checkpoint_path; pass --real-dir DIR with <checkpoint>.* images")
    p = Path(ckpt_path)
    if not p.is_absolute():
        p = manifest.parent / p
    return p / "real.png"


def style_transfer_samples(
    samples_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: StyleTransferConfig | None = None,
    *,
    real_dir: str | os.PathLike | None = None,
    vgg: VGG19Backbone | None = None,
    weights: str | os.PathLike | None = None,
    random_features: bool = False,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    progress: Callable[[int, int, str], "bool | None"] | None = None,
    step_progress: ProgressFn | None = None,
    allow_download: bool = True,
) -> Path:
    """Restyle every generated image of a samples folder; return the new ``manifest.csv`` path.

    The style of a row is ``<checkpoint_path>/real.png`` or, with ``real_dir``,
    ``<real_dir>/<checkpoint>.*``. Writes into ``out_dir``: ``<image stem>_st.png`` per row, the mask
    copied byte for byte under its own name, ``manifest.csv`` with the input columns (``image`` now
    names the restyled file, ``mask`` the copy) plus ``st_*`` columns, and ``style_transfer.json``.
    All inputs are checked before anything is written; each file is written atomically; rows whose
    output already exists are skipped (resumable). ``progress(done, total, name)`` is called after
    each image; returning ``False`` raises ``Cancelled`` (finished images and the manifest so far stay).
    """
    cfg = (config or StyleTransferConfig()).validated()
    samples_dir, out_dir = Path(samples_dir), Path(out_dir)
    manifest = samples_dir / MANIFEST
    columns, rows = _read_manifest(manifest)
    rdir = Path(real_dir) if real_dir is not None else None
    if rdir is not None and not rdir.is_dir():
        raise InputError(f"--real-dir {rdir} is not a folder")
    if out_dir.resolve() == samples_dir.resolve():
        raise InputError(f"output folder {out_dir} must differ from the samples folder")

    # Previous results in out_dir (resume): keep their st_* values.
    previous: dict[str, dict[str, str]] = {}
    if (out_dir / MANIFEST).is_file():
        try:
            _, prev_rows = _read_manifest(out_dir / MANIFEST)
            previous = {r.get("st_source_image", ""): r for r in prev_rows}
        except InputError:
            previous = {}

    jobs: list[_Job] = []
    for line, row in enumerate(rows, start=2):
        name = row["image"]
        if not name:
            raise InputError(f"{manifest} line {line}: empty image name")
        content = samples_dir / name
        mask_name = row.get("mask") or ""
        mask = samples_dir / mask_name if mask_name else None
        if mask is not None and not mask.is_file():
            raise InputError(f"mask {mask} listed in {manifest} line {line} does not exist")
        out_image = out_dir / styled_name(name)
        job = _Job(row, content, _style_image_for(row, rdir, manifest, line), mask,
                   out_image, out_dir / Path(mask_name).name if mask else None)
        if not out_image.exists():  # check inputs that will be read (decoding them catches non-images)
            open_rgb(job.content, "content image")
            open_rgb(job.style, f"style image for checkpoint {row['checkpoint']!r}")
        jobs.append(job)

    if vgg is None and any(not j.out_image.exists() for j in jobs):
        vgg = load_vgg19(weights, random_features, cfg.seed, device, allow_download)
    out_dir.mkdir(parents=True, exist_ok=True)

    out_columns = [c for c in columns if c not in ST_COLUMNS] + ST_COLUMNS
    finished: dict[int, dict[str, str]] = {}

    def record(i: int, res: StyleTransferResult | None) -> None:
        job = jobs[i]
        row = dict(job.row)
        src = str(job.content)
        if res is None:  # resumed: reuse the earlier manifest's st_* values when it has them
            prev = previous.get(src, {})
            st = {k: prev.get(k, "") for k in ST_COLUMNS}
        else:
            md = res.metadata
            st = {
                "st_ratio": md["ratio"], "st_content_weight": md["content_weight"],
                "st_style_weight": md["style_weight"], "st_steps": md["steps"], "st_steps_run": res.steps_run,
                "st_optimizer": md["optimizer"], "st_size": md["size"] if md["size"] is not None else "native",
                "st_precision": md["precision"], "st_content_layer": md["content_layer"], "st_seed": md["seed"],
                "st_random_features": md["random_features"], "st_weights": md["weights"],
                "st_content_loss": f"{res.content_loss:.6g}", "st_style_loss": f"{res.style_loss:.6g}",
            }
        st.update(st_image=job.out_image.name, st_source_image=src, st_style_image=str(job.style))
        row.update({k: str(v) for k, v in st.items()})
        row["image"] = job.out_image.name
        if job.out_mask is not None:
            row["mask"] = job.out_mask.name
            if not job.out_mask.exists() or job.out_mask.read_bytes() != job.mask.read_bytes():
                atomic_write_bytes(job.out_mask, job.mask.read_bytes())
        finished[i] = row

    def write_manifest() -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=out_columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for i in sorted(finished):
            writer.writerow(finished[i])
        atomic_write_text(out_dir / MANIFEST, buf.getvalue())

    todo = [i for i, j in enumerate(jobs) if not j.out_image.exists()]
    for i, j in enumerate(jobs):
        if j.out_image.exists():
            record(i, None)
    done = len(jobs) - len(todo)
    try:
        for start in range(0, len(todo), max(1, batch_size)):
            chunk = todo[start : start + max(1, batch_size)]
            results = transfer_style_batch(
                [jobs[i].content for i in chunk], [jobs[i].style for i in chunk], cfg,
                vgg=vgg, batch_size=batch_size, progress=step_progress,
            )
            for i, res in zip(chunk, results):
                md = dict(res.metadata, source_image=str(jobs[i].content), style_image=str(jobs[i].style))
                atomic_write_bytes(jobs[i].out_image, encode_png(res.image, md))
                record(i, res)
                done += 1
                if progress is not None and progress(done, len(jobs), jobs[i].out_image.name) is False:
                    raise Cancelled(f"style-batch cancelled after {done} of {len(jobs)} images")
    finally:
        write_manifest()
    atomic_write_json(out_dir / "style_transfer.json", {
        **cfg.to_metadata(),
        "samples_dir": str(samples_dir),
        "real_dir": str(rdir) if rdir else None,
        "random_features": bool(vgg.random_features) if vgg is not None else None,
        "weights": vgg.source if vgg is not None else "(all outputs existed; nothing computed)",
        "images": len(jobs),
        "computed": len(todo),
    })
    return out_dir / MANIFEST
