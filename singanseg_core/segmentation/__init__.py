"""UNet++ polyp segmentation: data, paper metrics, training, evaluation and prediction.

>>> from singanseg_core.segmentation import SegConfig, real_pairs, train_segmentation
>>> pairs = real_pairs("data/polyps")
>>> result = train_segmentation(pairs[:30], pairs[30:], SegConfig.from_preset("demo"), out_dir="runs/demo")
>>> result.metrics["iou"]
"""

from .data import Pair, SegDataset, folder_pairs, real_pairs, sample_pairs
from .metrics import METRIC_NAMES, MetricAccumulator, PixelCounts, compute_metrics, metrics_from_counts, pixel_counts
from .model import (
    SegConfig,
    SegmentationModel,
    SegProgress,
    SegTrainResult,
    evaluate,
    predict_folder,
    train_segmentation,
)

__all__ = [
    "Pair", "SegDataset", "folder_pairs", "real_pairs", "sample_pairs",
    "METRIC_NAMES", "MetricAccumulator", "PixelCounts", "compute_metrics", "metrics_from_counts", "pixel_counts",
    "SegConfig", "SegmentationModel", "SegProgress", "SegTrainResult", "evaluate", "predict_folder",
    "train_segmentation",
]
