"""Mask statistics of the paper's figures 3, 5, 6 and 10.

* **True-pixel percentage** of a mask: polyp pixels / all pixels x 100, in percent (0..100).
* Histograms of it with fixed-width bins (5 % in the paper), summary numbers, and the distance
  between the real and the synthetic distribution (Wasserstein-1 in percentage points and the
  two-sample Kolmogorov-Smirnov statistic, both from SciPy).
* Per checkpoint: pixel-wise mean and standard deviation of its N generated masks (figure 5).

Everything returns pandas DataFrames / numpy arrays; figures are built in :mod:`.figures`, files written by :mod:`.report`.
A mask file is any image; a pixel is "true" (polyp) when its grey value is >= 128.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..files.images import IMAGE_SUFFIXES

MASK_THRESHOLD = 128  # grey value from which a mask pixel counts as polyp (masks are 0/255)
MIN_BIN_WIDTH = 0.1   # percent: at most 1000 histogram bins


# --------------------------------------------------------------------------------------------
# Single masks


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask file as a boolean ``(H, W)`` array (True = polyp), by the mask rule (``files.pairs.read_mask``)."""
    from ..files.pairs import read_mask

    return read_mask(path).mask >= MASK_THRESHOLD


def true_pixel_pct(mask: np.ndarray | str | os.PathLike) -> float:
    """Percentage (0..100) of polyp pixels in a mask.

    ``mask`` is a path, a boolean array, or a numeric array where values >= 0.5 (float in 0..1) or
    >= 128 (uint8) count as polyp.
    """
    mask = _as_bool_mask(mask)
    if mask.size == 0:
        raise InputError("empty mask array (0 pixels)")
    return float(mask.mean() * 100.0)


def _as_bool_mask(mask: np.ndarray | str | os.PathLike) -> np.ndarray:
    """Boolean ``(H, W)`` mask from a path or an array (bool; uint8 >= 128; float >= 0.5)."""
    if not isinstance(mask, np.ndarray):
        return load_mask(mask)
    if mask.ndim == 3:  # (H, W, C) with identical channels: use the first one
        mask = mask[..., 0]
    if mask.dtype == bool:
        return mask
    limit = MASK_THRESHOLD if np.issubdtype(mask.dtype, np.integer) else 0.5
    return mask >= limit


# --------------------------------------------------------------------------------------------
# Folders of masks


def find_masks(folder: str | os.PathLike) -> list[Path]:
    """List the mask files of a real or a synthetic folder, sorted by path.

    Accepted layouts, tried in this order:

    1. ``<folder>/masks/*`` (a real dataset: ``images/`` + ``masks/``);
    2. ``*_mask.png`` anywhere below ``folder`` (samples folders, e.g. ``samples/<stem>/``);
    3. every image file directly in ``folder`` (a plain folder of masks).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: mask folder does not exist")
    if (folder / "masks").is_dir():
        files = [p for p in (folder / "masks").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        files = [p for p in folder.rglob("*_mask.png") if not p.name.startswith(".")]
        # partial folders from interrupted atomic writes start with "."
        files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
        if not files:
            files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise InputError(f"{folder}: no mask images found (expected masks/*.png, *_mask.png or image files)")
    return sorted(files)


def mask_table(folder: str | os.PathLike, source: str = "") -> pd.DataFrame:
    """One row per mask of ``folder``: columns ``source, name, path, height, width, true_pixel_pct``."""
    rows = []
    for path in find_masks(folder):
        mask = load_mask(path)
        rows.append(
            {
                "source": source,
                "name": path.name,
                "path": str(path),
                "height": mask.shape[0],
                "width": mask.shape[1],
                "true_pixel_pct": float(mask.mean() * 100.0),
            }
        )
    return pd.DataFrame(rows)


def histogram(pcts: Sequence[float] | np.ndarray, bin_width: float = 5.0) -> pd.DataFrame:
    """Histogram of true-pixel percentages over 0..100 with ``bin_width``-% bins.

    Bins are ``[lo, hi)`` except the last one, which includes 100. Columns:
    ``bin_start, bin_end, label, count, fraction`` (fraction of all masks, 0..1).
    """
    if not MIN_BIN_WIDTH <= bin_width <= 100:
        raise InputError(f"bin width must be in {MIN_BIN_WIDTH:g}..100 percent, got {bin_width}")
    edges = np.arange(0.0, 100.0 + bin_width / 2, bin_width)
    if edges[-1] < 100.0:
        edges = np.append(edges, 100.0)
    edges[-1] = 100.0
    values = np.asarray(pcts, dtype=float)
    counts, _ = np.histogram(values, bins=edges)  # numpy's last bin is closed: 100 % is counted
    total = max(len(values), 1)
    return pd.DataFrame(
        {
            "bin_start": edges[:-1],
            "bin_end": edges[1:],
            "label": [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])],
            "count": counts.astype(int),
            "fraction": counts / total,
        }
    )


def summarize(pcts: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Summary of true-pixel percentages: count, mean, median, std, min, max (all in %),
    ``share_under_5`` (fraction 0..1 of masks below 5 %) and ``empty`` (number of masks at 0 %)."""
    v = np.asarray(pcts, dtype=float)
    if v.size == 0:
        return {"count": 0, "mean": np.nan, "median": np.nan, "std": np.nan, "min": np.nan,
                "max": np.nan, "share_under_5": np.nan, "empty": 0}
    return {
        "count": int(v.size),
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
        "share_under_5": float((v < 5.0).mean()),
        "empty": int((v == 0.0).sum()),
    }


def distribution_distance(real: Sequence[float], synthetic: Sequence[float]) -> dict[str, float]:
    """Distance between two samples of true-pixel percentages.

    ``wasserstein`` is the earth mover's distance in percentage points (``scipy.stats.wasserstein_distance``);
    ``ks_statistic`` / ``ks_pvalue`` come from the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``).
    """
    from scipy import stats as sps

    a = np.asarray(real, dtype=float)
    b = np.asarray(synthetic, dtype=float)
    if a.size == 0 or b.size == 0:
        raise InputError("distribution distance needs at least one real and one synthetic mask")
    ks = sps.ks_2samp(a, b)
    return {
        "wasserstein": float(sps.wasserstein_distance(a, b)),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
    }


# --------------------------------------------------------------------------------------------
# Figure 5: variability of the masks of one checkpoint


def mask_mean_std(masks: Iterable[np.ndarray | str | os.PathLike]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-wise mean and standard deviation of N masks of the same size.

    Returns two float32 ``(H, W)`` arrays with values in 0..1 (mean = fraction of the masks that
    mark the pixel as polyp; std is the population std, at most 0.5).
    """
    stack = []
    for m in masks:
        arr = _as_bool_mask(m)
        if stack and arr.shape != stack[0].shape:
            raise InputError(f"masks differ in size: {arr.shape} vs {stack[0].shape}")
        stack.append(arr.astype(np.float32))
    if not stack:
        raise InputError("no masks given for mean/std")
    s = np.stack(stack)
    return s.mean(axis=0), s.std(axis=0)


def checkpoint_variability(samples_dir: str | os.PathLike) -> pd.DataFrame:
    """Group the generated masks below ``samples_dir`` by checkpoint; one row per checkpoint.

    Uses ``manifest.csv`` files when present (column ``checkpoint``) and file names
    ``<id>_s<K>_<i>_mask.png`` otherwise. Columns: ``checkpoint, n, mean_true_pixel_pct,
    mean_pixel_std`` (average of the pixel-wise std, 0..0.5) and ``mask_paths`` (list of str).
    Use :func:`checkpoint_mean_std` to get the two images of one row.
    """
    groups = _masks_by_checkpoint(Path(samples_dir))
    rows = []
    for ckpt, paths in sorted(groups.items()):
        mean, std = mask_mean_std(paths)
        rows.append(
            {
                "checkpoint": ckpt,
                "n": len(paths),
                "mean_true_pixel_pct": float(mean.mean() * 100.0),
                "mean_pixel_std": float(std.mean()),
                "mask_paths": [str(p) for p in paths],
            }
        )
    return pd.DataFrame(rows, columns=["checkpoint", "n", "mean_true_pixel_pct", "mean_pixel_std", "mask_paths"])


def checkpoint_mean_std(samples_dir: str | os.PathLike, checkpoint: str) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-wise mean and std ``(H, W)`` (0..1) of the generated masks of one checkpoint."""
    groups = _masks_by_checkpoint(Path(samples_dir))
    if checkpoint not in groups:
        raise InputError(f"{samples_dir}: no generated masks of checkpoint {checkpoint!r}")
    return mask_mean_std(groups[checkpoint])


def _masks_by_checkpoint(folder: Path) -> dict[str, list[Path]]:
    if not folder.is_dir():
        raise InputError(f"{folder}: samples folder does not exist")
    groups: dict[str, list[Path]] = {}
    manifests = [p for p in folder.rglob("manifest.csv") if not any(s.startswith(".") for s in p.relative_to(folder).parts)]
    for manifest in sorted(manifests):
        df = pd.read_csv(manifest)
        if not {"checkpoint", "mask"}.issubset(df.columns):
            continue
        for ckpt, mask in zip(df["checkpoint"].astype(str), df["mask"].astype(str)):
            path = Path(mask) if Path(mask).is_absolute() else manifest.parent / mask
            if path.exists():
                groups.setdefault(ckpt, []).append(path)
    if not groups:  # fall back to file names <id>_s<K>_<i>_mask.png
        for path in find_masks(folder):
            parts = path.name[: -len("_mask.png")].rsplit("_", 2) if path.name.endswith("_mask.png") else []
            if len(parts) == 3 and parts[1].startswith("s"):
                groups.setdefault(parts[0], []).append(path)
    if not groups:
        raise InputError(f"{folder}: no generated masks (manifest.csv or <id>_s<K>_<i>_mask.png) found")
    return {k: sorted(set(v)) for k, v in groups.items()}


# --------------------------------------------------------------------------------------------
# Real vs synthetic, all at once


@dataclass
class MaskStats:
    """Statistics of a real and (optionally) a synthetic mask folder.

    ``table``: one row per mask (``source`` is "real" or "synthetic");
    ``histograms``: ``source`` + :func:`histogram` columns; ``summary``: one row per source;
    ``distance``: :func:`distribution_distance` (empty when one side is missing);
    ``variability``: :func:`checkpoint_variability` of the synthetic folder (may be empty).
    """

    table: pd.DataFrame
    histograms: pd.DataFrame
    summary: pd.DataFrame
    distance: dict[str, float] = field(default_factory=dict)
    variability: pd.DataFrame = field(default_factory=pd.DataFrame)
    bin_width: float = 5.0


def training_mask_table(samples_dir: str | os.PathLike, checkpoints_dir: str | os.PathLike) -> pd.DataFrame:
    """The training masks (``<checkpoints_dir>/<name>/real_mask.png``) of the checkpoints the generated masks
    below ``samples_dir`` came from (their manifests' ``checkpoint`` column, or their file names), one row each
    like :func:`mask_table` (``source`` "real"). Checkpoints no longer in ``checkpoints_dir`` are left out.

    Raises:
        InputError: none of those checkpoints has its training mask in ``checkpoints_dir``.
    """
    root = Path(checkpoints_dir)
    names = sorted(_masks_by_checkpoint(Path(samples_dir)))
    rows = []
    for name in names:
        path = root / name / "real_mask.png"
        if Path(name).name != name or path.is_symlink() or not path.is_file():
            continue
        mask = load_mask(path)
        rows.append({"source": "real", "name": f"{name} (training mask)", "path": str(path),
                     "height": mask.shape[0], "width": mask.shape[1], "true_pixel_pct": float(mask.mean() * 100.0)})
    if not rows:
        raise InputError(f"{Path(samples_dir).name}: none of its checkpoints ({', '.join(names[:5])}) is in the "
                         "workspace, so there is no training mask to compare with; pick a dataset instead")
    return pd.DataFrame(rows)


def compute_mask_stats(
    real: str | os.PathLike | None = None,
    synthetic: str | os.PathLike | None = None,
    bin_width: float = 5.0,
    training_masks_from: str | os.PathLike | None = None,
) -> MaskStats:
    """Compute :class:`MaskStats` for a real folder, a synthetic folder, or both.

    ``training_masks_from`` (a checkpoints folder, instead of ``real``): the real side is the training masks of
    the checkpoints the synthetic masks came from (:func:`training_mask_table`), i.e. what each model learned.
    """
    if real is None and synthetic is None:
        raise InputError("give a real and/or a synthetic mask folder")
    tables = []
    if real is not None:
        tables.append(mask_table(real, "real"))
    elif training_masks_from is not None and synthetic is not None:
        tables.append(training_mask_table(synthetic, training_masks_from))
    if synthetic is not None:
        tables.append(mask_table(synthetic, "synthetic"))
    table = pd.concat(tables, ignore_index=True)
    base = _assemble(table, bin_width)
    variability = pd.DataFrame()
    if synthetic is not None:
        try:
            variability = checkpoint_variability(synthetic)
        except InputError:
            variability = pd.DataFrame()  # plain mask folder: no checkpoint grouping possible
    base.variability = variability
    return base


def _assemble(table: pd.DataFrame, bin_width: float) -> MaskStats:
    """Histograms, summary and (when both sources are there) the distance of a per-mask ``table``."""
    hists, summaries = [], []
    for source, df in table.groupby("source", sort=False):
        h = histogram(df["true_pixel_pct"], bin_width)
        h.insert(0, "source", source)
        hists.append(h)
        summaries.append({"source": source, **summarize(df["true_pixel_pct"])})
    distance: dict[str, float] = {}
    sources = set(table["source"])
    if {"real", "synthetic"} <= sources:
        distance = distribution_distance(
            table.loc[table.source == "real", "true_pixel_pct"],
            table.loc[table.source == "synthetic", "true_pixel_pct"],
        )
    return MaskStats(table=table, histograms=pd.concat(hists, ignore_index=True),
                     summary=pd.DataFrame(summaries), distance=distance, bin_width=bin_width)


def mask_stats_from_values(real: Sequence[float] | np.ndarray | None, synthetic: Sequence[float] | np.ndarray,
                           bin_width: float = 5.0) -> MaskStats:
    """:class:`MaskStats` of true-pixel percentages already computed (e.g. of samples generated in memory,
    ``Samples.true_pixel_pct``, against a checkpoint's real mask or a dataset's masks), nothing read from disk.

    Args:
        real: percentages (0..100) of the real masks, or ``None`` / empty for none.
        synthetic: percentages of the synthetic masks (at least one).
    Raises:
        InputError: no synthetic value, or a value outside 0..100.
    """
    syn = np.asarray(synthetic, dtype=float).ravel()
    ref = np.asarray([] if real is None else real, dtype=float).ravel()
    if syn.size == 0:
        raise InputError("no synthetic masks to compare")
    both = np.concatenate([ref, syn])
    if not np.all(np.isfinite(both)) or both.min() < 0 or both.max() > 100:
        raise InputError("true-pixel percentages must be numbers in 0..100")
    table = pd.DataFrame({"source": ["real"] * ref.size + ["synthetic"] * syn.size,
                          "name": [f"real #{i}" for i in range(ref.size)] + [f"#{i}" for i in range(syn.size)],
                          "true_pixel_pct": both})
    return _assemble(table, bin_width)


CLOSE_POINTS = 5.0    # Wasserstein-1 below this many percentage points reads as "close"
FAR_POINTS = 15.0     # ... at or above this, as "far apart"


def read_mask_stats(stats: MaskStats, real_label: str = "the real masks") -> str:
    """One sentence a student can read off :class:`MaskStats`: the two mean object shares, the distance and
    what it means (thresholds :data:`CLOSE_POINTS`, :data:`FAR_POINTS`), and empty masks when there are any."""
    rows = {r["source"]: r for r in stats.summary.to_dict("records")}
    syn, real = rows.get("synthetic"), rows.get("real")
    if syn is None or real is None or not stats.distance:
        only = syn or real
        if only is None:
            return "There is nothing to compare."
        return (f"The {int(only['count'])} {'synthetic' if syn else 'real'} mask(s) are "
                f"{only['mean']:.1f} % object on average; pick the other side to compare.")
    w1 = stats.distance["wasserstein"]
    verdict = ("close" if w1 < CLOSE_POINTS else "noticeably different" if w1 < FAR_POINTS else "far apart")
    sentence = (f"The {int(syn['count'])} synthetic masks are {syn['mean']:.1f} % object on average against "
                f"{real['mean']:.1f} % for {real_label} (n = {int(real['count'])}); the distributions are "
                f"{verdict} (Wasserstein-1 {w1:.1f} percentage points")
    if int(real["count"]) >= 5:
        sentence += f", KS p = {stats.distance['ks_pvalue']:.2g})"
    else:
        sentence += "; with so few real masks, compare the averages rather than the shapes)"
    if int(syn["empty"]):
        sentence += f"; {int(syn['empty'])} of the synthetic masks are empty"
    return sentence + "."
