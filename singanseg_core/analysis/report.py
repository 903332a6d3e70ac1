"""Writing mask statistics to a folder: tables (CSV/JSON), the histogram as offline HTML, figure-5 PNGs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..files.atomic import atomic_write_json, atomic_write_text, save_png
from . import figures
from .stats import MaskStats, mask_mean_std


def write_mask_stats(stats: MaskStats, out_dir: str | os.PathLike, max_variability_images: int = 50) -> list[Path]:
    """Write CSVs, a JSON summary, HTML plots and figure-5 PNGs into ``out_dir``; return the paths.

    Files: ``masks.csv``, ``histograms.csv``, ``summary.csv``, ``distance.json``,
    ``histogram.html`` (+ ``plotly.min.js`` next to it, so the HTML works offline),
    ``variability.csv`` and ``variability/<checkpoint>_mean.png`` / ``_std.png``
    (grey PNGs: mean 0..1 -> 0..255, std 0..0.5 -> 0..255) for up to ``max_variability_images`` checkpoints.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        atomic_write_text(out / "masks.csv", stats.table.to_csv(index=False)),
        atomic_write_text(out / "histograms.csv", stats.histograms.to_csv(index=False)),
        atomic_write_text(out / "summary.csv", stats.summary.to_csv(index=False)),
        atomic_write_json(out / "distance.json", stats.distance),
    ]
    fig = figures.true_pixel_histogram(stats)
    written.append(figures.write_html(fig, out / "histogram.html"))
    if not stats.variability.empty:
        var = stats.variability.drop(columns=["mask_paths"])
        written.append(atomic_write_text(out / "variability.csv", var.to_csv(index=False)))
        for _, row in stats.variability.head(max_variability_images).iterrows():
            mean, std = mask_mean_std(row["mask_paths"])
            written.append(save_png(out / "variability" / f"{row['checkpoint']}_mean.png", _to_uint8(mean)))
            written.append(save_png(out / "variability" / f"{row['checkpoint']}_std.png", _to_uint8(std * 2.0)))
    return written


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
