"""The settings of one style-transfer run (``StyleTransferConfig``; its defaults reproduce the original) and
the content:style ratio notation ("1:1000")."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

from ..errors import InputError
from ..networks.vgg import VGG19_LAYERS

DEFAULT_STYLE_LAYERS: dict[str, float] = {
    "conv1_1": 0.75, "conv2_1": 0.5, "conv3_1": 0.25, "conv4_1": 0.25, "conv5_1": 0.25,
}
DEFAULT_CONTENT_LAYER = "conv5_1"
RATIO_PRESETS: dict[str, tuple[float, float]] = {"1:1": (1.0, 1.0), "1:1000": (1.0, 1000.0)}
DEFAULT_RATIO = "1:1000"

MIN_SIDE = 16  # four max-pools precede conv5_1: 16 px -> 1 px there
MAX_SIDE = 4096
MAX_STEPS = 100_000
# Allowed ranges (inclusive, whole numbers) of the settings a job or the CLI passes in (``ranges.check_number``).
STYLE_RANGES: dict[str, tuple[int, int]] = {"steps": (1, MAX_STEPS), "size": (MIN_SIDE, MAX_SIDE)}

Precision = Literal["auto", "fp32", "bf16", "fp16"]
OptimizerName = Literal["adam", "lbfgs"]
ProgressFn = Callable[[int, dict[str, float]], "bool | None"]



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
            matrices and losses stay float32; changes the result), "fp16" (the same on CUDA only) or
            "auto" = bf16 where the device supports it natively, else fp32. Checked against the hardware by
            ``device.autocast_dtype`` (an ``InputError`` where it cannot run).
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
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise InputError(f"precision {self.precision!r}: use 'auto', 'fp32', 'bf16' or 'fp16' (CUDA)")
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

