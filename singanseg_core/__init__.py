"""SinGAN-Seg Studio core: 4-channel SinGAN training/sampling, style transfer, statistics, studies.

No Streamlit here: everything the dashboard does is available from Python and ``python -m singanseg_core``.
"""

__version__ = "0.1.0"

from .training.config import TrainConfig
from .files.pairs import ImagePair, find_pairs, load_folder, load_pair
from .errors import Cancelled, CheckpointError, InputError, SinGANSegError
from .model import ModelConfig, Samples, SinGANSeg

__all__ = [
    "__version__", "TrainConfig", "ImagePair", "find_pairs", "load_folder", "load_pair", "Cancelled",
    "CheckpointError", "InputError", "SinGANSegError", "ModelConfig", "Samples", "SinGANSeg",
]
