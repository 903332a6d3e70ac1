"""Segmentation metrics on the polyp class, named as in the paper.

Averaging: **micro over pixels** of the whole evaluated set. Pixel counts TP, FP, FN, TN (and the
soft sums used by the dice loss) are summed over every pixel of every image first, and each metric
is computed once from those sums. Large polyps therefore weigh more than small ones, exactly as
when the whole validation set were one big image. Predictions are binarised with ``prob >= threshold``
(0.5 by default).

* ``iou`` = TP / (TP + FP + FN)            (Jaccard index)
* ``fscore`` = 2 TP / (2 TP + FP + FN)     (F1 = Dice coefficient of the binary prediction)
* ``accuracy`` = (TP + TN) / all pixels
* ``recall`` = TP / (TP + FN)
* ``precision`` = TP / (TP + FP)
* ``dice_loss`` = 1 - 2 sum(p y) / (sum p + sum y), on the **probabilities** p (soft, no threshold),
  the quantity the network is trained to minimise.

A ratio whose denominator is 0 (nothing to find and nothing found) is defined as 1.0 and the dice loss
of an all-empty set as 0.0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

METRIC_NAMES = ("dice_loss", "iou", "fscore", "accuracy", "recall", "precision")


@dataclass
class PixelCounts:
    """Summed pixel statistics of a set of predictions (see module docstring)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    soft_intersection: float = 0.0  # sum of p * y
    soft_cardinality: float = 0.0  # sum of p + sum of y

    def __add__(self, other: "PixelCounts") -> "PixelCounts":
        return PixelCounts(**{k: getattr(self, k) + getattr(other, k) for k in asdict(self)})


def pixel_counts(prob: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, threshold: float = 0.5) -> PixelCounts:
    """Counts for probabilities ``prob`` (any shape, values 0..1) and a binary ``target`` of the same shape."""
    p = torch.as_tensor(prob, dtype=torch.float64)
    y = torch.as_tensor(target).to(torch.float64)
    if p.shape != y.shape:
        raise ValueError(f"prediction shape {tuple(p.shape)} != target shape {tuple(y.shape)}")
    y = (y >= 0.5).to(torch.float64)
    pred = (p >= threshold).to(torch.float64)
    tp = int((pred * y).sum())
    fp = int((pred * (1 - y)).sum())
    fn = int(((1 - pred) * y).sum())
    tn = int(((1 - pred) * (1 - y)).sum())
    return PixelCounts(tp, fp, fn, tn, float((p * y).sum()), float(p.sum() + y.sum()))


def _ratio(num: float, den: float) -> float:
    return 1.0 if den == 0 else float(num) / float(den)


def metrics_from_counts(c: PixelCounts) -> dict[str, float]:
    """The six paper metrics (floats in 0..1) from summed :class:`PixelCounts`."""
    total = c.tp + c.fp + c.fn + c.tn
    return {
        "dice_loss": 0.0 if c.soft_cardinality == 0 else 1.0 - 2.0 * c.soft_intersection / c.soft_cardinality,
        "iou": _ratio(c.tp, c.tp + c.fp + c.fn),
        "fscore": _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
        "accuracy": _ratio(c.tp + c.tn, total),
        "recall": _ratio(c.tp, c.tp + c.fn),
        "precision": _ratio(c.tp, c.tp + c.fp),
    }


def compute_metrics(prob, target, threshold: float = 0.5) -> dict[str, float]:
    """Micro metrics of one batch/array pair (shortcut for ``metrics_from_counts(pixel_counts(...))``)."""
    return metrics_from_counts(pixel_counts(prob, target, threshold))


class MetricAccumulator:
    """Sums :class:`PixelCounts` over batches; :meth:`compute` gives the micro metrics of all of them."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.counts = PixelCounts()

    def update(self, prob, target) -> None:
        self.counts = self.counts + pixel_counts(prob, target, self.threshold)

    def compute(self) -> dict[str, float]:
        return metrics_from_counts(self.counts)
