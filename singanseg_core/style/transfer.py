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

import io
import json
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, PngImagePlugin

from ..device import autocast_dtype, cpu_has_bf16
from ..errors import Cancelled, InputError
from ..files.images import open_bounded
from ..networks.vgg import VGGFeatures
from .config import (DEFAULT_RATIO, MIN_SIDE, OptimizerName, Precision, ProgressFn, StyleTransferConfig)
from .vgg import VGG19Backbone, load_vgg19

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def resolve_precision(precision: Precision, device: torch.device) -> Literal["fp32", "bf16", "fp16"]:
    """"auto" -> "bf16" on CUDA with bf16 support or CPUs with native bf16 instructions, else "fp32"; an explicit
    precision is checked by the device rule (``device.autocast_dtype``: ``InputError`` where it cannot run)."""
    if precision != "auto":
        autocast_dtype(device, precision)
        return precision  # type: ignore[return-value]
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_bf16() else "fp32"
    return "fp32"


def _memory_format(images: torch.Tensor, precision: str) -> torch.memory_format:
    """NHWC (channels_last) where oneDNN / cuDNN run VGG's convolutions faster: on CUDA, in bf16, and for
    fp32 work of at least 256x256 pixels per step (measured on a 2-core AVX-512 CPU: 1.2x for a batch of 8
    at 128 px, 1.05x at 256 px, 0.93x for one 128 px image). Same math; only the memory layout changes."""
    n, _, h, w = images.shape
    if images.device.type == "cuda" or precision != "fp32" or n * h * w >= 256 * 256:
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
    precision: Literal["fp32", "bf16", "fp16"],
    progress: ProgressFn | None,
) -> _Outcome:
    """Optimise ``(N, 3, H, W)`` images in [0, 1] (content and style already the same size)."""
    device = content.device
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    dtype = autocast_dtype(device, precision)
    amp = nullcontext() if dtype is None else torch.autocast(device_type=device.type, dtype=dtype)

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
    """Open an image file as RGB (bounded, EXIF-oriented), or raise ``InputError`` naming the role and file."""
    return open_bounded(path, f"{role} {path}").convert("RGB")


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

