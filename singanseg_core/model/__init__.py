"""A trained SinGAN-Seg pyramid: ``SinGANSeg`` (config + weights, ``save_pretrained`` / ``from_pretrained``,
sampling), its ``ModelConfig`` and the one rule for a finished checkpoint."""

from .config import CheckpointStatus, ModelConfig, checkpoint_status, is_finished_checkpoint
from .samples import Samples, tensor_to_uint8
from .singanseg import REAL_IMAGE_NAME, REAL_MASK_NAME, SinGANSeg

__all__ = ["CheckpointStatus", "ModelConfig", "REAL_IMAGE_NAME", "REAL_MASK_NAME", "Samples", "SinGANSeg",
           "checkpoint_status", "is_finished_checkpoint", "tensor_to_uint8"]
