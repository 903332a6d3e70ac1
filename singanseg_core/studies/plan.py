"""Which UNet++ runs a study consists of: the seeded fold split and one ``RunSpec`` per training set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import InputError
from .config import StudyConfig

# --------------------------------------------------------------------------------------------
# Folds


def split_folds(stems: Sequence[str], n_folds: int = 3, seed: int = 0) -> list[list[str]]:
    """Seeded split of image ids into ``n_folds`` disjoint folds of (nearly) equal size.

    The ids are sorted first, so the split depends only on the set of ids and the seed. Within a fold
    the ids keep the shuffled order: the small-data study takes the first R of fold one, so its real
    sets are nested (R=5 is part of R=10).
    """
    ids = sorted(set(stems))
    if len(ids) != len(stems):
        raise InputError("image ids must be unique to split them into folds")
    if len(ids) < n_folds:
        raise InputError(f"{len(ids)} images cannot be split into {n_folds} folds")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [[ids[i] for i in order[f::n_folds]] for f in range(n_folds)]


# --------------------------------------------------------------------------------------------
# Runs


@dataclass(frozen=True)
class RunSpec:
    """One UNet++ training run of a study.

    ``train_data``: "real", "synthetic" or "mixed"; ``variant``: "" for real, else "raw"/"st-C:S".
    ``fold``: the validation fold (1-based; small-data always validates on 2..k and records 1, the
    fold it draws from). ``R``: real images used; ``N``: synthetic samples per real image (0 for real).
    ``train_stems``: the real images whose data (the image itself or its model's samples) is trained on.
    ``seed``: the UNet++ seed of this run (one run per seed of ``StudyConfig.run_seeds``).
    """

    run_id: str
    train_data: str
    variant: str
    fold: int
    R: int
    N: int
    train_stems: tuple[str, ...]
    val_stems: tuple[str, ...]
    seed: int = 0

    @property
    def train_set(self) -> str:
        """Paper-style name: REAL / FAKE-N (real-vs-synthetic) or real / synthetic / mixed."""
        if self.run_id.startswith("fold"):
            return "REAL" if self.train_data == "real" else f"FAKE-{self.N}"
        return self.train_data


def plan_runs(config: StudyConfig, folds: list[list[str]]) -> list[RunSpec]:
    """Every run a study consists of, in the order they are trained (cheap real runs first per group).

    Each run is repeated once per UNet++ seed (``config.run_seeds``); a run with a seed other than
    ``config.seg.seed`` gets ``-seed<s>`` appended to its id, so a study that adds seeds keeps its finished runs.
    """
    runs: list[RunSpec] = []
    seeds = config.run_seeds

    def add(run_id: str, *fields) -> None:  # noqa: ANN002
        for s in seeds:
            suffix = "" if s == config.seg.seed else f"-seed{s}"
            runs.append(RunSpec(run_id + suffix, *fields, seed=s))

    if config.kind == "small-data":
        pool, val = folds[0], tuple(s for f in folds[1:] for s in f)
        check_r_values(config.r_values, len(pool), f"data {config.data_dir}, {config.n_folds} folds")
        for r in config.r_values:
            stems = tuple(pool[:r])
            k = config.samples_per_image
            if config.include_real:
                add(f"R{r:03d}-real", "real", "", 1, r, 0, stems, val)
            for v in config.variants:
                add(f"R{r:03d}-synthetic-{slug(v)}", "synthetic", v, 1, r, k, stems, val)
                if config.include_mixed:
                    add(f"R{r:03d}-mixed-{slug(v)}", "mixed", v, 1, r, k, stems, val)
    else:
        chosen = config.folds or list(range(1, config.n_folds + 1))
        for f in chosen:
            if not 1 <= f <= config.n_folds:
                raise InputError(f"fold {f} does not exist (1..{config.n_folds})")
            val = tuple(folds[f - 1])
            train = tuple(s for i, fold in enumerate(folds, start=1) if i != f for s in fold)
            if config.include_real:
                add(f"fold{f}-REAL", "real", "", f, len(train), 0, train, val)
            for n in config.n_values:
                for v in config.variants:
                    add(f"fold{f}-FAKE-{n}-{slug(v)}", "synthetic", v, f, len(train), n, train, val)
    return runs


def slug(variant: str) -> str:
    """A variant as a file-name part: ``st-1:1000`` → ``st-1x1000``."""
    return variant.replace(":", "x")


# --------------------------------------------------------------------------------------------
# Fold arithmetic (what a study will look like before any data is read)

MIN_VALIDATION_IMAGES = 5    # fewer: one image moves the mean IoU by 20 points or more


def fold_sizes(n_images: int, n_folds: int) -> list[int]:
    """Images per fold of :func:`split_folds` for ``n_images`` ids (fold one first; sizes differ by at most 1)."""
    if n_folds < 1 or n_images < 0:
        raise InputError(f"cannot split {n_images} images into {n_folds} folds")
    return [len(range(f, n_images, n_folds)) for f in range(n_folds)]


def max_r(n_images: int, n_folds: int) -> int:
    """The largest R of a small-data study: the images of fold one (R real images are drawn from it)."""
    return fold_sizes(n_images, n_folds)[0] if n_folds >= 1 else 0


def check_r_values(r_values: list[int], pool: int, where: str = "") -> list[int]:
    """``r_values`` checked against the ``pool`` images of fold one; returns them.

    Raises:
        InputError: ``R=<r> real images requested but fold one has <pool>`` for the first R that does not fit.
    """
    for r in r_values:
        if not 1 <= r <= pool:
            raise InputError(f"R={r} real images requested but fold one has {pool}" + (f" ({where})" if where else ""))
    return r_values


def default_r_values(preset: list[int], n_images: int, n_folds: int) -> list[int]:
    """The preset's R values that fit fold one, completed to at least two values (so the result is a curve)
    with fold one's size and then 1, when fold one has two images or more."""
    pool = max_r(n_images, n_folds)
    values = [r for r in preset if r <= pool]
    for extra in (pool, 1):
        if len(values) < 2 and pool >= 1 and extra not in values:
            values.append(extra)
    return sorted(values) if pool >= 2 else [max(1, pool)]


@dataclass(frozen=True)
class StudyPlan:
    """What a study on ``n_images`` real images will do, before it runs.

    ``fold_sizes``: images per fold; ``pool``: fold one (where small-data R images come from); ``n_train`` /
    ``n_val``: real training / validation images per run (smallest first); ``runs``: UNet++ runs;
    ``problems``: reasons the study cannot start (empty when it can); ``warnings``: it can start, but a
    number will be unreliable (e.g. validation on fewer than :data:`MIN_VALIDATION_IMAGES` images).
    """

    n_images: int
    fold_sizes: tuple[int, ...]
    pool: int
    n_train: tuple[int, ...]
    n_val: tuple[int, ...]
    runs: int
    problems: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """One sentence for people, e.g. ``9 images in 3 folds (3, 3, 3); validation on 6 images; 6 UNet++ runs``."""
        if self.n_images < len(self.fold_sizes):
            return f"{self.n_images} image(s) for {len(self.fold_sizes)} folds"
        folds = ", ".join(map(str, self.fold_sizes))
        text = f"{self.n_images} images in {len(self.fold_sizes)} folds ({folds}); fold one holds {self.pool} " \
               f"(R ≤ {self.pool})"
        if self.n_val:
            val = f"{self.n_val[0]}" if len(self.n_val) == 1 else f"{self.n_val[0]}–{self.n_val[-1]}"
            text += f"; validation on {val} images; {self.runs} UNet++ run(s)"
        return text


def describe_plan(config: StudyConfig, n_pairs: int) -> StudyPlan:
    """The :class:`StudyPlan` of ``config`` on a dataset of ``n_pairs`` image/mask pairs (``max_images`` applied)."""
    n = min(n_pairs, config.max_images) if config.max_images is not None else n_pairs
    sizes = fold_sizes(n, config.n_folds)
    problems: list[str] = []
    warnings: list[str] = []
    n_train: list[int] = []
    n_val: list[int] = []
    runs = 0
    if n < config.n_folds:
        problems.append(f"{n} image(s) cannot be split into {config.n_folds} folds; add images")
    else:
        folds = split_folds([f"{i:06d}" for i in range(n)], config.n_folds, config.fold_seed)
        try:
            planned = plan_runs(config, folds)
        except InputError as err:
            problems.append(str(err))
            planned = []
        runs = len(planned)
        n_train = sorted({len(r.train_stems) for r in planned})
        n_val = sorted({len(r.val_stems) for r in planned})
        if n_val and n_val[0] < MIN_VALIDATION_IMAGES:
            warnings.append(f"validation on only {n_val[0]} image(s): one image changes the mean IoU by "
                            f"{100 / n_val[0]:.0f} points or more, so small differences are noise; use more images")
        if config.kind == "small-data" and sizes[0] < 2:
            warnings.append(f"fold one holds {sizes[0]} image(s): there is no curve over R to draw")
    return StudyPlan(n, tuple(sizes), sizes[0] if sizes else 0, tuple(n_train), tuple(n_val), runs,
                     tuple(problems), tuple(warnings))
