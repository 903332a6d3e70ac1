"""Neural style transfer, step 2 of SinGAN-Seg: a generated image takes the style of its real training image.

``config`` (settings, ratio notation), ``vgg`` (where the VGG19 weights come from), ``transfer`` (losses and
optimisation for one image or a batch), ``folder`` (a whole samples folder, with its manifest).
"""

from .config import StyleTransferConfig, format_ratio, parse_ratio
from .folder import style_transfer_samples
from .transfer import StyleTransferResult, transfer_style, transfer_style_batch
from .vgg import VGGWeightsError, load_vgg19, resolve_random_features, vgg_weights_status

__all__ = ["StyleTransferConfig", "StyleTransferResult", "VGGWeightsError", "format_ratio", "load_vgg19",
           "parse_ratio", "resolve_random_features", "style_transfer_samples", "transfer_style",
           "transfer_style_batch", "vgg_weights_status"]
