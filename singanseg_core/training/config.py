"""Training configuration: one dataclass with the paper's defaults, plus named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..device import PRECISIONS
from ..errors import InputError
from ..ranges import SEED_RANGE, Range, check_number, is_integer_range


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
    lr_drop_epoch: int = 1600      # the original's absolute milestone: runs of <= 1600 iterations never drop
    lr_drop_at: float | None = None  # set: drop at this fraction of niter instead (ConSinGAN's rule; not the paper's)
    d_steps: int = 3
    lambda_grad: float = 0.1
    alpha: float = 10.0            # reconstruction loss weight
    noise_amp_init: float = 0.1
    faithful_resize: bool = True   # reproduce the original's uint8 round trip between scales
    prev_batch_epochs: int = 8     # epochs whose random "prev" images are generated in one batch (speed only)
    seed: int = 0
    # Faster paths: each changes the math (or only the speed) and is off by default.
    precision: str = "fp32"        # "fp32" | "bf16" | "fp16" (CUDA): autocast for the networks; see device.autocast
    compile: bool = False          # torch.compile the scale's G and D (the gradient penalty's pass stays eager)
    schedule: str = "sequential"   # "sequential" (the paper) | "concurrent" (ConSinGAN-style, training.concurrent)
    concurrent_depth: int = 3      # concurrent: stages trained together (the newest and the ones below it)
    concurrent_lr_scale: float = 0.1  # concurrent: learning-rate factor per stage below the newest
    gp_every: int = 1              # lazy regularisation: the gradient penalty on every k-th D step only, scaled by k
    # Warm start: a finished or partial checkpoint folder whose scale i starts this model's scale i (by index;
    # training.prior). None = every scale starts as the paper's (fresh, or from the scale below when as wide).
    init_from: str | None = None

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "TrainConfig":
        """``paper`` (the paper's settings), ``quick`` (a CPU model of a polyp for demos: 64 px, coarsest 16 px,
        200 iterations per scale; see ``bench/bench_quick_preset.py``), ``live`` (a 128 px model of one image
        while a class waits; see ``bench/bench_time_to_model.py``) or ``tiny`` (tests);
        ``describe_preset`` says it in one line."""
        try:
            base = PRESETS[name]
        except (KeyError, TypeError):
            raise InputError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InputError(f"unknown training setting(s) {', '.join(unknown)}")
        return replace(base, **{k: v for k, v in overrides.items() if v is not None}).validated()

    def validated(self) -> "TrainConfig":
        """This config, or an ``InputError`` naming the first setting outside its allowed range."""
        whole = {}
        for name, (lo, hi) in TRAIN_RANGES.items():
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            checked = check_number(name, value, lo, hi)
            if is_integer_range(lo, hi) and not isinstance(value, int):
                whole[name] = checked  # 2000.0 (e.g. from JSON) is the integer 2000
        if self.nc_im not in (3, 4):
            raise InputError(f"nc_im must be 3 (RGB) or 4 (RGB + mask), got {self.nc_im!r}")
        if self.min_size > self.max_size:
            raise InputError(f"min_size ({self.min_size}) must not exceed max_size ({self.max_size})")
        if self.ker_size % 2 == 0:
            raise InputError(f"ker_size must be odd, got {self.ker_size}")
        if not isinstance(self.faithful_resize, bool):
            raise InputError(f"faithful_resize must be true or false, got {self.faithful_resize!r}")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.compile, bool):
            raise InputError(f"compile must be true or false, got {self.compile!r}")
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from.strip()):
            raise InputError(f"init_from must be a checkpoint folder, got {self.init_from!r}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        return replace(self, **whole) if whole else self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def nc_z(self) -> int:
        return self.nc_im

    @property
    def pyramid_scale_factor(self) -> float:
        """The initial scale factor the pyramid is built with (re-derived per image by ``compute_schedule``):
        ``scale_factor``, squared for the concurrent schedule (fewer, larger scales: about half as many)."""
        return self.scale_factor ** 2 if self.schedule == "concurrent" else self.scale_factor


# Allowed ranges (inclusive; both ends int = whole numbers) of the numeric settings; the CLI, the jobs and the
# dashboard all check these (``ranges.check_number``).
TRAIN_RANGES: dict[str, Range] = {
    "nfc": (1, 512), "max_nfc": (1, 1024), "ker_size": (1, 7), "num_layer": (3, 8), "min_size": (11, 1024),
    "max_size": (11, 4096), "scale_factor": (0.1, 0.95), "niter": (1, 1_000_000), "lr_g": (1e-8, 1.0),
    "lr_d": (1e-8, 1.0), "beta1": (0.0, 0.999), "gamma": (0.0, 1.0), "lr_drop_epoch": (1, 1_000_000),
    "lr_drop_at": (0.0, 1.0), "d_steps": (1, 100), "lambda_grad": (0.0, 1e6), "alpha": (0.0, 1e6),
    "noise_amp_init": (0.0, 100.0), "prev_batch_epochs": (1, 1000), "seed": SEED_RANGE,
    "concurrent_depth": (1, 16), "concurrent_lr_scale": (0.0, 1.0), "gp_every": (1, 100),
}
_OPTIONAL = {"lr_drop_at"}  # None = not used
SCHEDULES = ("sequential", "concurrent")

PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    # Chosen with bench/bench_quick_preset.py (empty masks) and bench/bench_fidelity.py (UNet++ IoU); see "Quick
    # preset" in bench/RESULTS.md. A coarsest scale of 16 px (7 scales to 64 px) is about one receptive field (11 px),
    # so the coarsest networks see the whole layout and small polyps rarely vanish from the draws (1 % empty masks at
    # start scale 0 vs 9 % with the paper's 25 px and 20 % with 40 px). The price is diversity: its data trains a
    # UNet++ less well than the 25 px pyramid's (IoU 0.297 vs 0.327 at 200 it/scale); use `paper` settings for studies.
    "quick": TrainConfig(max_size=64, min_size=16, niter=200),
    "tiny": TrainConfig(max_size=40, niter=20),
    # A model of one uploaded image while a class waits (target: <= 60 s to a saved checkpoint on 2 quiet CPU
    # cores at 128 px, <= 5 % empty masks on small polyps). From timings of the trainer and trials on the smallest
    # polyps ("Live preset" and "Time to a model" in bench/RESULTS.md): the critic is 3/4 of an iteration, so one
    # critic step per iteration with twice the generator's learning rate (two time scales) and the gradient penalty
    # (40 % of a critic step) on every 4th step only, scaled by 4; one width (nfc 32: a 64-channel scale costs
    # ~2.5x); 120 iterations per scale with the drop at 80 %. The paper's scale factor (0.75: 8 scales from 16 to
    # 128 px) stays: farther-apart scales (0.6) were faster but lost small polyps (25/32 empty masks), and so did
    # fewer iterations (100: 8/32). What it trades: a quarter of the paper's critic work and 6 % of its iterations.
    "live": TrainConfig(max_size=128, min_size=16, max_nfc=32, niter=120, d_steps=1, lr_d=1e-3, gp_every=4,
                        lr_drop_at=0.8),
}
PRESET_USES = {"paper": "the paper's models", "quick": "demos", "tiny": "trying the workflow",
               "live": "one uploaded image while a class waits"}
# What a preset gives up against `paper` (said in its help; measured in bench/RESULTS.md), from its own values.
PRESET_TRADES = {
    "quick": lambda c: f"a {c.min_size} px coarsest scale keeps small polyps but varies layouts less",
    "tiny": lambda c: "a toy model, blurry",
    "live": lambda c: (f"{c.d_steps} critic step(s), its penalty on 1 step in {c.gp_every}, "
                       f"{c.niter} instead of {PRESETS['paper'].niter} iterations per scale"),
}


def default_preset(n_images: int) -> str:
    """The preset a training form starts with: ``live`` for one image (a model while the class waits), ``quick``
    for several."""
    return "live" if n_images == 1 else "quick"


def describe_preset(name: str, seconds: float | None = None) -> str:
    """One line for help texts, from the preset's own values, e.g. ``quick: 64 px, coarsest 16 px, 200 it/scale
    (demos)``; with ``seconds`` (an estimate for this machine, ``training.time_estimate``) also ``about 2 min
    here``, and what it trades against ``paper`` (:data:`PRESET_TRADES`). No time is ever quoted from another
    machine."""
    c = PRESETS[name]
    use = PRESET_USES[name]
    if seconds is not None:
        from .time_estimate import describe_estimate

        use = f"{use}; {describe_estimate(seconds)} here"
    trades = f"; trades: {PRESET_TRADES[name](c)}" if name in PRESET_TRADES else ""
    return f"{name}: {c.max_size} px, coarsest {c.min_size} px, {c.niter} it/scale ({use}{trades})"
