"""Writing samples to disk: ``<id>_s<K>_<i>_img.png`` + ``<id>_s<K>_<i>_mask.png`` + ``manifest.csv``."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from ..errors import Cancelled
from ..files.atomic import save_png
from ..model.singanseg import SinGANSeg
from .manifest import MANIFEST_COLUMNS, read_manifest, sample_stem, write_manifest

def write_samples(model: SinGANSeg, out_dir: str | os.PathLike, n: int, gen_start_scale: int = 0, seed: int = 0,
                  batch_size: int | None = None, scale_h: float = 1.0, scale_v: float = 1.0, start_index: int = 0,
                  progress: Callable[[int, int], "bool | None"] | None = None, workers: int = 2) -> pd.DataFrame:
    """Generate ``n`` samples of ``model`` into ``out_dir`` and merge them into its ``manifest.csv``.

    Sample ``i`` (``start_index ≤ i < start_index + n``) is the same for a given seed whatever the batch size.
    PNGs are encoded on ``workers`` threads while the next batch is generated. Returns the rows written.
    """
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
                                 batch_size=batch_size)
            pct = batch.true_pixel_pct
            for j in range(hi - lo):
                i = lo + j
                stem = sample_stem(model.name, k, i)
                futures.append(pool.submit(save_png, out / f"{stem}_img.png", batch.images[j]))
                futures.append(pool.submit(save_png, out / f"{stem}_mask.png", batch.masks[j]))
                rows.append({"checkpoint": model.name, "checkpoint_path": str(model.path) if model.path else "",
                             "seed": seed, "gen_start_scale": k, "index": i, "image": f"{stem}_img.png",
                             "mask": f"{stem}_mask.png", "true_pixel_pct": round(float(pct[j]), 4),
                             "scale_h": scale_h, "scale_v": scale_v})
            if progress is not None and progress(hi - start_index, n) is False:
                raise Cancelled(f"sampling cancelled after {hi - start_index} of {n} samples")
        for f in futures:
            f.result()
    finally:
        pool.shutdown(wait=True)
    new = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    old = read_manifest(out)
    if len(old):
        keep = ~old["image"].isin(new["image"])
        new_all = pd.concat([old[keep], new], ignore_index=True)
    else:
        new_all = new
    write_manifest(out, new_all)
    return new
