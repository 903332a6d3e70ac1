"""``StudyConfig``: everything that defines a study (the paper's Table 1 or Table 2 protocol), its presets,
and the synthetic-variant notation (``"raw"``, ``"st-1:1000"``)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import InputError
from ..ranges import format_range, range_problem
from ..segmentation import SegConfig

KINDS = ("small-data", "real-vs-synthetic")
SYNTHETIC_SOURCES = ("singan", "patchnn", "guided")   # where synthetic pairs come from (synthetic_source)
STUDY_FILE = "study.json"
RESULT_FILE = "result.json"
# Fields that may change between reruns of one study folder (they only add or remove runs, or are
# about where/how things run); every other field must match what the folder was started with.
RERUN_FREE_FIELDS = {"r_values", "n_values", "folds", "variants", "include_real", "include_mixed", "seeds",
                     "checkpoints_dir", "device", "keep_models", "st_random_features"}
MAX_COUNT = 100_000          # any R, N or seed a study may name (check_counts: 1..MAX_COUNT, seeds 0..)


@dataclass
class StudyConfig:
    """Everything that defines a study. Sizes in pixels, counts in images.

    ``variants``: synthetic data variants, ``"raw"`` (SinGAN output) and/or ``"st-C:S"`` (style transfer
    with content:style weights C:S, e.g. ``"st-1:1000"`` as the paper's Table 2).
    ``singan_preset`` + ``singan_overrides`` build the engine's :class:`TrainConfig`.
    ``max_images``: use only this many real images (a seeded choice), for quick demos.
    ``folds`` (real-vs-synthetic): 1-based validation folds to run, ``None`` = all.
    ``seeds``: UNet++ seeds; every run is repeated once per seed (``None`` = just ``seg.seed``), so the spread
    over seeds shows how much of a difference is training noise.
    ``synthetic_source``: ``"singan"`` (a SinGAN-Seg model per real image, the paper) or ``"patchnn"`` (the
    training-free patch nearest-neighbour baseline, ``baselines.PatchNN``, at the SinGAN config's ``min_size`` /
    ``max_size`` / ``scale_factor``; ``gen_start_scale`` and ``checkpoints_dir`` do not apply to it) or
    ``"guided"`` (the same SinGAN-Seg models, each sample guided by another layout: ``studies.layouts``; injected
    at ``inject_scale``, ``None`` = ``model.guided.default_inject_scale``; ``gen_start_scale`` does not apply).
    """

    kind: str
    data_dir: str
    n_folds: int = 3
    fold_seed: int = 0
    max_images: int | None = None
    # small-data
    r_values: list[int] = field(default_factory=lambda: [5, 10, 15, 20, 25, 30, 50])
    samples_per_image: int = 10
    include_real: bool = True
    include_mixed: bool = True
    # real-vs-synthetic
    n_values: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    folds: list[int] | None = None
    seeds: list[int] | None = None
    # synthetic data
    variants: list[str] = field(default_factory=lambda: ["raw"])
    synthetic_source: str = "singan"
    inject_scale: int | None = None
    gen_start_scale: int = 0
    sample_seed: int = 0
    singan_preset: str = "paper"
    singan_overrides: dict[str, Any] = field(default_factory=dict)
    checkpoints_dir: str | None = None
    st_steps: int = 1000
    st_size: int | None = None
    st_random_features: bool = False
    # segmentation
    seg: SegConfig = field(default_factory=SegConfig)
    keep_models: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.seg, dict):
            self.seg = SegConfig.from_dict(self.seg)
        if self.kind not in KINDS:
            raise InputError(f"unknown study kind {self.kind!r} (choose from {', '.join(KINDS)})")
        if self.n_folds < 2:
            raise InputError(f"n_folds must be at least 2, got {self.n_folds}")
        if self.synthetic_source not in SYNTHETIC_SOURCES:
            raise InputError(f"unknown synthetic_source {self.synthetic_source!r} "
                             f"(choose from {', '.join(SYNTHETIC_SOURCES)})")
        for v in self.variants:
            parse_variant(v)
        if not self.variants:
            raise InputError("variants must name at least one of 'raw', 'st-1:1000', ...")
        self.r_values = check_counts(self.r_values, "r_values")
        self.n_values = check_counts(self.n_values, "n_values")
        if self.seeds is not None:
            self.seeds = check_counts(self.seeds, "seeds", lo=0)

    @property
    def run_seeds(self) -> list[int]:
        """The UNet++ seeds every run is trained with (``seeds``, or just ``seg.seed``)."""
        return list(self.seeds) if self.seeds else [self.seg.seed]

    @classmethod
    def from_preset(cls, kind: str, preset: str, data_dir: str | os.PathLike, **overrides: Any) -> "StudyConfig":
        """``paper`` (the paper's protocol; GPU) or ``demo`` (a few minutes on 2 CPU cores)."""
        if kind not in KINDS:
            raise InputError(f"unknown study kind {kind!r} (choose from {', '.join(KINDS)})")
        if (kind, preset) not in STUDY_PRESETS:
            raise InputError(f"unknown preset {preset!r} for {kind} (choose from paper, demo)")
        base = dict(STUDY_PRESETS[(kind, preset)])
        seg_over = overrides.pop("seg_overrides", {}) or {}
        base["seg"] = SegConfig.from_preset(base.pop("seg_preset"), **{**base.pop("seg_extra", {}), **seg_over})
        return cls(kind=kind, data_dir=str(data_dir), **{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seg"] = self.seg.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StudyConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def singan_config(self):
        from ..training.config import TrainConfig

        return TrainConfig.from_preset(self.singan_preset, **self.singan_overrides)


STUDY_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("small-data", "paper"): dict(
        r_values=[5, 10, 15, 20, 25, 30, 50], samples_per_image=10, variants=["raw", "st-1:1000"],
        singan_preset="paper", seg_preset="paper", seg_extra=dict(epochs=100)),
    ("real-vs-synthetic", "paper"): dict(
        n_values=[1, 2, 3, 4, 5], variants=["raw", "st-1:1", "st-1:1000"],
        singan_preset="paper", seg_preset="paper", seg_extra=dict(epochs=300)),
    # ~2-4 minutes on 2 CPU cores: 4 tiny SinGANs (40 px, 60 iterations/scale), 6 UNet++ runs at 64 px.
    ("small-data", "demo"): dict(
        r_values=[2, 4], samples_per_image=4, variants=["raw"],
        singan_preset="paper", singan_overrides=dict(max_size=40, niter=60),
        seg_preset="demo", seg_extra=dict(epochs=4)),
    # 9 images (3 per fold), 9 tiny SinGANs, 3 folds x (REAL, FAKE-1, FAKE-2).
    ("real-vs-synthetic", "demo"): dict(
        max_images=9, n_values=[1, 2], variants=["raw"],
        singan_preset="paper", singan_overrides=dict(max_size=40, niter=60),
        seg_preset="demo", seg_extra=dict(epochs=4)),
}


def check_counts(values: Any, what: str, lo: int = 1, hi: int = MAX_COUNT) -> list[int]:
    """``values`` as a sorted list of distinct whole numbers in ``lo..hi`` (R, N or seed values of a study).

    Raises:
        InputError: naming ``what``, when the list is empty or holds anything else.
    """
    if not isinstance(values, (list, tuple)) or not values:
        raise InputError(f"{what}: give at least one whole number (got {values!r})")
    out = set()
    for v in values:
        if range_problem(v, lo, hi):  # the one number rule; the message speaks of the list's entries
            raise InputError(f"{what}: {v!r} is not a whole number in {format_range(lo, hi)}")
        out.add(int(v))
    return sorted(out)


def parse_counts(text: str, what: str, lo: int = 1, hi: int = MAX_COUNT) -> list[int]:
    """``"1, 2; 5"`` → ``[1, 2, 5]`` (sorted, distinct), checked by :func:`check_counts`.

    Raises:
        InputError: ``what: write whole numbers separated by commas, e.g. 1, 2, 3`` for anything else.
    """
    try:
        values = [int(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{what}: write whole numbers separated by commas, e.g. 1, 2, 3") from None
    return check_counts(values, what, lo, hi)


def parse_variant(variant: str) -> str | None:
    """``"raw"`` -> None; ``"st-1:1000"`` -> ``"1:1000"`` (the style-transfer ratio)."""
    if variant == "raw":
        return None
    if variant.startswith("st-") and ":" in variant:
        from ..style.config import parse_ratio

        parse_ratio(variant[3:])
        return variant[3:]
    raise InputError(f"unknown synthetic variant {variant!r}: use 'raw' or 'st-C:S' such as 'st-1:1000'")
