"""Small style-transfer inputs built in code: random images and a samples folder as the sampler writes it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def tiny_image(h: int, w: int, seed: int, smooth: bool = False) -> Image.Image:
    """An (h, w) RGB image of seeded noise; ``smooth``: a 4×4 noise image resized bicubically."""
    rng = np.random.default_rng(seed)
    if smooth:
        small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        return Image.fromarray(small).resize((w, h), Image.BICUBIC)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def samples_folder(tmp_path: Path) -> Path:
    """A samples folder as the sampler writes it: 2 checkpoints, 3 rows, masks, manifest.csv."""
    samples = tmp_path / "samples"
    samples.mkdir()
    rows = []
    for k, ckpt in enumerate(["ckA", "ckB"]):
        folder = tmp_path / "checkpoints" / ckpt
        folder.mkdir(parents=True)
        tiny_image(24, 24, 50 + k).save(folder / "real.png")
        for i in range(2 if ckpt == "ckA" else 1):
            img, mask = f"{ckpt}_s0_{i}_img.png", f"{ckpt}_s0_{i}_mask.png"
            tiny_image(20, 28, 60 + 3 * k + i, smooth=True).save(samples / img)
            m = (np.random.default_rng(k * 10 + i).random((20, 28)) > 0.7).astype(np.uint8) * 255
            Image.fromarray(m).save(samples / mask, compress_level=9)
            rows.append(dict(checkpoint=ckpt, checkpoint_path=str(folder), seed=i, gen_start_scale=0, index=i,
                             image=img, mask=mask, true_pixel_pct=f"{m.mean() / 2.55:.2f}"))
    with (samples / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return samples
