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
    """

    run_id: str
    train_data: str
    variant: str
    fold: int
    R: int
    N: int
    train_stems: tuple[str, ...]
    val_stems: tuple[str, ...]

    @property
    def train_set(self) -> str:
        """Paper-style name: REAL / FAKE-N (real-vs-synthetic) or real / synthetic / mixed."""
        if self.run_id.startswith("fold"):
            return "REAL" if self.train_data == "real" else f"FAKE-{self.N}"
        return self.train_data


def plan_runs(config: StudyConfig, folds: list[list[str]]) -> list[RunSpec]:
    """Every run a study consists of, in the order they are trained (cheap real runs first per group)."""
    runs: list[RunSpec] = []
    if config.kind == "small-data":
        pool, val = folds[0], tuple(s for f in folds[1:] for s in f)
        for r in config.r_values:
            if not 1 <= r <= len(pool):
                raise InputError(f"R={r} real images requested but fold one has {len(pool)} "
                                 f"(data {config.data_dir}, {config.n_folds} folds)")
            stems = tuple(pool[:r])
            k = config.samples_per_image
            if config.include_real:
                runs.append(RunSpec(f"R{r:03d}-real", "real", "", 1, r, 0, stems, val))
            for v in config.variants:
                runs.append(RunSpec(f"R{r:03d}-synthetic-{slug(v)}", "synthetic", v, 1, r, k, stems, val))
                if config.include_mixed:
                    runs.append(RunSpec(f"R{r:03d}-mixed-{slug(v)}", "mixed", v, 1, r, k, stems, val))
    else:
        chosen = config.folds or list(range(1, config.n_folds + 1))
        for f in chosen:
            if not 1 <= f <= config.n_folds:
                raise InputError(f"fold {f} does not exist (1..{config.n_folds})")
            val = tuple(folds[f - 1])
            train = tuple(s for i, fold in enumerate(folds, start=1) if i != f for s in fold)
            if config.include_real:
                runs.append(RunSpec(f"fold{f}-REAL", "real", "", f, len(train), 0, train, val))
            for n in config.n_values:
                for v in config.variants:
                    runs.append(RunSpec(f"fold{f}-FAKE-{n}-{slug(v)}", "synthetic", v, f, len(train), n, train, val))
    return runs


def slug(variant: str) -> str:
    """A variant as a file-name part: ``st-1:1000`` → ``st-1x1000``."""
    return variant.replace(":", "x")
