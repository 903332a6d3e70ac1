"""Training configuration: one dataclass with the paper's defaults, plus named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of SinGAN-Seg training (defaults = the paper / original code).

    Sizes are in pixels; learning rates per Adam step; ``niter`` is iterations (epochs) per scale.
    """

    nc_im: int = 4                 # 4 = RGB + mask (SinGAN-Seg); 3 = vanilla SinGAN
    nfc: int = 32                  # channels at scales 0-3; doubles every 4 scales
    max_nfc: int = 128
    ker_size: int = 3
    num_layer: int = 5
    min_size: int = 25
    max_size: int = 250
    scale_factor: float = 0.75     # initial; re-derived per image (see scales.compute_schedule)
    niter: int = 2000
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    beta1: float = 0.5
    gamma: float = 0.1             # LR multiplier at the milestone
    lr_drop_at: float = 0.8        # fraction of niter (0.8 x 2000 = 1600, the original's milestone)
    d_steps: int = 3
    lambda_grad: float = 0.1
    alpha: float = 10.0            # reconstruction loss weight
    noise_amp_init: float = 0.1
    faithful_resize: bool = True   # reproduce the original's uint8 round trip between scales
    prev_batch_epochs: int = 8     # epochs whose random "prev" images are generated in one batch (speed only)
    seed: int = 0

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "TrainConfig":
        """``paper`` (the paper's settings) or ``quick`` (a CPU demo: 64 px, 200 iterations per scale)."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def nc_z(self) -> int:
        return self.nc_im


PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "quick": TrainConfig(max_size=64, niter=200),
    "tiny": TrainConfig(max_size=40, niter=20),
}
