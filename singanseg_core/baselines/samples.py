"""Samples of a training-free baseline written as a samples folder (the engine's file names and ``manifest.csv``),
so statistics, style transfer, studies and the segmentation trainer read them like SinGAN-Seg samples."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pandas as pd

from ..errors import Cancelled, InputError
from ..files.atomic import atomic_directory, save_png
from ..model.config import name_problem
from ..sampling.manifest import MANIFEST_COLUMNS, read_manifest, sample_stem, write_manifest
from ..sampling.writer import check_sampling
from .patch_nn import PatchNN

__all__ = ["write_baseline_samples", "write_baseline_set"]


def write_baseline_samples(gen: PatchNN, out_dir: str | os.PathLike, n: int, seed: int = 0, name: str = "patchnn",
                           start_index: int = 0, source_path: str = "",
                           progress: Callable[[int, int], "bool | None"] | None = None) -> pd.DataFrame:
    """Generate samples ``start_index .. start_index + n - 1`` of ``gen`` into ``out_dir`` and merge them into its
    ``manifest.csv`` (``gen_start_scale`` 0; ``checkpoint`` = ``name``, ``checkpoint_path`` = ``source_path``).

    Sample ``i`` depends only on ``(seed, i)``. Not all-or-nothing by itself (new sets: :func:`write_baseline_set`).
    ``progress(done, n)`` returning ``False`` cancels (``Cancelled``). Returns the rows written.
    """
    check_sampling(n=n, seed=seed)
    problem = name_problem(name)
    if problem:
        raise InputError(f"baseline sample {problem}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for j in range(n):
        i = start_index + j
        batch = gen.sample(1, seed=seed, start_index=i)
        stem = sample_stem(name, 0, i)
        save_png(out / f"{stem}_img.png", batch.images[0])
        save_png(out / f"{stem}_mask.png", batch.masks[0])
        rows.append({"checkpoint": name, "checkpoint_path": source_path, "seed": seed, "gen_start_scale": 0,
                     "index": i, "image": f"{stem}_img.png", "mask": f"{stem}_mask.png",
                     "true_pixel_pct": round(float(batch.true_pixel_pct[0]), 4), "scale_h": 1.0, "scale_v": 1.0})
        if progress is not None and progress(j + 1, n) is False:
            raise Cancelled(f"baseline sampling cancelled after {j + 1} of {n} samples")
    new = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    old = read_manifest(out)
    if len(old):
        new_all = pd.concat([old[~old["image"].isin(new["image"])], new], ignore_index=True)
    else:
        new_all = new
    write_manifest(out, new_all)
    return new


def write_baseline_set(gen: PatchNN, out_dir: str | os.PathLike, n: int, seed: int = 0, name: str = "patchnn",
                       source_path: str = "", overwrite: bool = False,
                       progress: Callable[[int, int], "bool | None"] | None = None) -> pd.DataFrame:
    """A new samples folder of ``n`` baseline samples, all or nothing (as ``sampling.writer.write_sample_set``).

    Raises:
        InputError: a setting out of range, a bad name, or ``out_dir`` holds something already (unless
            ``overwrite``).
    """
    out = Path(out_dir)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} already exists; choose a new folder (or overwrite it)")
    check_sampling(n=n, seed=seed)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        return write_baseline_samples(gen, tmp, n, seed, name, source_path=source_path, progress=progress)
