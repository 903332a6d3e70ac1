"""Writing samples to disk: ``<id>_s<K>_<i>_img.png`` + ``<id>_s<K>_<i>_mask.png`` + ``manifest.csv``."""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from .errors import Cancelled
from .io_utils import atomic_write_bytes, save_png
from .model import SinGANSeg

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ["checkpoint", "checkpoint_path", "seed", "gen_start_scale", "index", "image", "mask",
                    "true_pixel_pct", "scale_h", "scale_v"]


def sample_stem(checkpoint: str, gen_start_scale: int, index: int) -> str:
    return f"{checkpoint}_s{gen_start_scale}_{index}"


def read_manifest(folder: str | os.PathLike) -> pd.DataFrame:
    """The manifest of a samples folder (empty frame with the standard columns if there is none)."""
    path = Path(folder) / MANIFEST_NAME
    if not path.exists():
        return pd.DataFrame(columns=MANIFEST_COLUMNS)
    return pd.read_csv(path)


def write_manifest(folder: str | os.PathLike, frame: pd.DataFrame) -> Path:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    return atomic_write_bytes(Path(folder) / MANIFEST_NAME, buf.getvalue().encode())


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


def samples_to_zip(folder: str | os.PathLike, rows: pd.DataFrame | None = None) -> bytes:
    """Zip a samples folder as ``images/``, ``masks/`` and ``manifest.csv`` (for downloads)."""
    import zipfile

    folder = Path(folder)
    rows = read_manifest(folder) if rows is None else rows
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for _, r in rows.iterrows():
            zf.write(folder / r["image"], f"images/{r['image']}")
            zf.write(folder / r["mask"], f"masks/{r['mask']}")
        zf.writestr("manifest.csv", rows.to_csv(index=False))
    return buf.getvalue()


def pixel_mean_std(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-wise mean and standard deviation of ``(N, H, W)`` binary masks (0/255 or 0/1) → two ``(H, W)``
    float arrays in [0, 1] (figure 5 of the paper)."""
    m = (np.asarray(masks) > 0).astype(np.float64)
    return m.mean(axis=0), m.std(axis=0)
