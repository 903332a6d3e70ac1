"""The multi-scale pyramid: its schedule (sizes, scale factor), MATLAB-style resizing, the reals per scale."""

from .imresize import imresize, output_length, resize_matrix
from .schedule import ScaleSchedule, build_pyramid, compute_schedule

__all__ = ["ScaleSchedule", "build_pyramid", "compute_schedule", "imresize", "output_length", "resize_matrix"]
