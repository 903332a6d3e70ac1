"""Training SinGAN-Seg models: the config and presets, the one trainer (one model or K at once), whole
datasets with local or Ray executors.

========================  ==================================================================================
``config``                ``TrainConfig`` (the paper's defaults) and the named presets
``draws``                 every random draw of training, by meaning (seeded, or replayed in tests)
``trainer``               one scale: WGAN-GP + reconstruction for K stacked models (``train_scale``)
``fit``                   whole models: ``train`` (one image), ``train_group`` (K images of one pyramid shape)
``checkpoints``           resume / overwrite rules and the save after every scale
``groups``, ``many``      a dataset: planning, groups of K, ``train_many``
``executors``, ``memory`` local / Ray executors; how many models fit in memory
========================  ==================================================================================
"""

from .config import PRESETS, TrainConfig
from .fit import TrainItem, train, train_group
from .many import train_many, train_pairs
from .trainer import TrainProgress

__all__ = ["PRESETS", "TrainConfig", "TrainItem", "TrainProgress", "train", "train_group", "train_many",
           "train_pairs"]
