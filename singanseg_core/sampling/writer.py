"""Writing samples to disk: ``<id>_s<K>_<i>_img.png`` + ``<id>_s<K>_<i>_mask.png`` + ``manifest.csv``.

:func:`write_sample_set` is how a new sample set is made (the Sample page, ``singanseg sample`` and the sample
job all use it): it is all-or-nothing. :func:`write_samples` adds samples of one model to a folder (studies
extend their own sample folders with it). The allowed ranges of every sampling setting live here
(:func:`check_sampling`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import torch

from ..device import autocast_dtype
from ..errors import Cancelled, InputError
from ..files.atomic import atomic_directory, save_png
from ..model.config import MAX_SCALES
from ..model.singanseg import SinGANSeg
from ..ranges import SEED_RANGE, Range, check_in
from .manifest import MANIFEST_COLUMNS, read_manifest, sample_stem, stored_path, write_manifest

MAX_SAMPLES = 100_000          # per model and call
SCALE_RANGE = (0.25, 4.0)      # output width / height relative to the training size
MAX_BATCH = 4096               # samples per forward pass
MAX_REDRAWS = 32               # redraws of one empty-mask sample (bounds the work at 33 draws per sample)
SAMPLING_RANGES: dict[str, Range] = {
    "n": (1, MAX_SAMPLES), "gen_start_scale": (0, MAX_SCALES), "seed": SEED_RANGE,
    "scale_h": SCALE_RANGE, "scale_v": SCALE_RANGE, "batch_size": (1, MAX_BATCH), "redraw_empty": (0, MAX_REDRAWS),
}
REDRAWS_COLUMN = "redraws"     # manifest column of sets sampled with redraw_empty > 0


def check_sampling(**values: float | int | None) -> None:
    """Raise ``InputError`` naming the first setting outside :data:`SAMPLING_RANGES` (``None`` = default)."""
    for key, value in values.items():
        if value is not None:
            check_in(SAMPLING_RANGES, key, value)


def write_samples(model: SinGANSeg, out_dir: str | os.PathLike, n: int, gen_start_scale: int = 0, seed: int = 0,
                  batch_size: int | None = None, scale_h: float = 1.0, scale_v: float = 1.0, start_index: int = 0,
                  progress: Callable[[int, int], "bool | None"] | None = None, workers: int = 2,
                  precision: str = "fp32", compile: bool = False, redraw_empty: int = 0) -> pd.DataFrame:
    """Generate ``n`` samples of ``model`` into ``out_dir`` and merge them into its ``manifest.csv``.

    Sample ``i`` (``start_index ≤ i < start_index + n``) is the same for a given seed whatever the batch size.
    PNGs are encoded on ``workers`` threads while the next batch is generated. Returns the rows written.
    Not all-or-nothing by itself (a failure leaves the files written so far): new sets go through
    :func:`write_sample_set`. ``precision`` and ``compile`` are :meth:`SinGANSeg.sample`'s faster paths
    (off by default); ``redraw_empty`` its redrawing of empty-mask samples (off by default; when on, each row
    records its redraws in the ``redraws`` column).
    """
    check_sampling(n=n, gen_start_scale=gen_start_scale, seed=seed, scale_h=scale_h, scale_v=scale_v,
                   batch_size=batch_size, redraw_empty=redraw_empty)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k, _ = model.clamp_start_scale(gen_start_scale)
    batch_size = batch_size or model.default_batch_size()
    rows = []
    gen = torch.Generator().manual_seed(int(seed))
    for lo in range(0, start_index, batch_size):  # skip earlier indices so sample i never depends on start_index
        model.draw_noise(min(batch_size, start_index - lo), gen, scale_v, scale_h)
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    futures = []
    total = start_index + n
    try:
        for lo in range(start_index, total, batch_size):
            hi = min(lo + batch_size, total)
            noise = model.draw_noise(hi - lo, gen, scale_v, scale_h)
            batch = model.sample(hi - lo, k, scale_h=scale_h, scale_v=scale_v, seed=seed, noise=noise,
                                 batch_size=batch_size, precision=precision, compile=compile,
                                 redraw_empty=redraw_empty, first_index=lo)
            pct = batch.true_pixel_pct
            for j in range(hi - lo):
                i = lo + j
                stem = sample_stem(model.name, k, i)
                futures.append(pool.submit(save_png, out / f"{stem}_img.png", batch.images[j]))
                futures.append(pool.submit(save_png, out / f"{stem}_mask.png", batch.masks[j]))
                rows.append({"checkpoint": model.name, "checkpoint_path": stored_path(model.path, out),
                             "seed": seed, "gen_start_scale": k, "index": i, "image": f"{stem}_img.png",
                             "mask": f"{stem}_mask.png", "true_pixel_pct": round(float(pct[j]), 4),
                             "scale_h": scale_h, "scale_v": scale_v,
                             **({REDRAWS_COLUMN: int(batch.redraws[j])} if batch.redraws is not None else {})})
            done = [f for f in futures if f.done()]
            for f in done:  # a full disk stops the run at once, not after all the sampling
                f.result()
            if progress is not None and progress(hi - start_index, n) is False:
                raise Cancelled(f"sampling cancelled after {hi - start_index} of {n} samples")
        for f in futures:
            f.result()
    finally:
        for f in futures:
            f.cancel()
        pool.shutdown(wait=True)
    new = pd.DataFrame(rows, columns=MANIFEST_COLUMNS + ([REDRAWS_COLUMN] if redraw_empty else []))
    old = read_manifest(out)
    if len(old):
        keep = ~old["image"].isin(new["image"])
        new_all = pd.concat([old[keep], new], ignore_index=True)
    else:
        new_all = new
    write_manifest(out, new_all)
    return new


def check_new_set(models: Sequence[SinGANSeg], out_dir: str | os.PathLike, overwrite: bool) -> Path:
    """``out_dir`` as a path if a new set of ``models`` may be written there: ``InputError`` for no models, two
    with one name, or an ``out_dir`` that holds something already (unless ``overwrite``)."""
    out = Path(out_dir)
    if not models:
        raise InputError("no checkpoints to sample from")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise InputError(f"two checkpoints are named {next(x for x in names if names.count(x) > 1)!r}: their "
                         "sample files would overwrite each other; sample them into separate folders")
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} already exists; choose a new folder (or overwrite it)")
    return out


def write_sample_set(models: Sequence[SinGANSeg], out_dir: str | os.PathLike, n: int, gen_start_scale: int = 0,
                     seed: int = 0, batch_size: int | None = None, scale_h: float = 1.0, scale_v: float = 1.0,
                     progress: Callable[[str, int, int], "bool | None"] | None = None,
                     overwrite: bool = False, workers: int = 2, precision: str = "fp32",
                     compile: bool = False, redraw_empty: int = 0) -> pd.DataFrame:
    """A new sample set: ``n`` samples of every model in ``models`` in ``out_dir``, all or nothing.

    Everything (PNGs and ``manifest.csv``) is written into a temporary sibling folder that is renamed to
    ``out_dir`` only when complete, so a cancel, a crash or a full disk leaves ``out_dir`` as it was and nothing
    half-written behind. ``out_dir`` must not exist, or be an empty folder reserved for it
    (``Workspace.reserve_dir``), unless ``overwrite`` (then it is replaced, only at the end).

    Args:
        progress: ``progress(model name, samples done, n)``; returning ``False`` cancels (``Cancelled``).
        precision, compile: the faster sampling paths of :meth:`SinGANSeg.sample` (off by default).
        redraw_empty: redraw a sample whose mask is empty up to this many times (:meth:`SinGANSeg.sample`; 0 =
            off, the paper).
    Returns:
        The manifest of the new set (one row per sample, models in the given order).
    Raises:
        InputError: a setting out of range (:func:`check_sampling`), no models, two models with one name,
            ``out_dir`` holds something already, or the disk is full. Cancelled.
    """
    check_sampling(n=n, gen_start_scale=gen_start_scale, seed=seed, scale_h=scale_h, scale_v=scale_v,
                   batch_size=batch_size, redraw_empty=redraw_empty)
    for model in models:  # an unsupported precision fails before the folder is touched
        autocast_dtype(model.device, precision)
    out = check_new_set(models, out_dir, overwrite)
    frames = []
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for model in models:
            relay = None if progress is None else (lambda d, t, name=model.name: progress(name, d, t))
            frames.append(write_samples(model, tmp, n, gen_start_scale, seed, batch_size, scale_h, scale_v,
                                        progress=relay, workers=workers, precision=precision, compile=compile,
                                        redraw_empty=redraw_empty))
    return pd.concat(frames, ignore_index=True)
