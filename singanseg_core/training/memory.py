"""How many models fit: a rough per-model memory estimate and the free memory of a device."""

from __future__ import annotations

import os
from typing import Sequence

import torch

from ..device import resolve_device
from ..networks.singan import nfc_for_scale
from .config import TrainConfig


def estimate_model_bytes(cfg: TrainConfig, sizes: Sequence[Sequence[int]], pyramid_chunk: int = 1) -> int:
    """Rough peak memory of one model in a group, bytes, from its pyramid ``sizes`` (``(h, w)``, coarse to fine).

    Float32 feature maps at the finest scale: G + 3 critic passes with the double backward of WGAN-GP keep ~40
    maps of ``nfc x (h+10) x (w+10)``; frozen generators add ~3 maps per sample of the 'prev' sub-batch; the
    bank of random 'prev' images is small.
    """
    h, w = sizes[-1]
    nfc = nfc_for_scale(len(sizes) - 1, cfg.nfc, cfg.max_nfc)
    fmap = 4 * nfc * (h + 10) * (w + 10)
    bank = 4 * cfg.nc_im * h * w * cfg.prev_batch_epochs * cfg.d_steps * 3
    return int(fmap * (40 + 3 * pyramid_chunk) + bank)


def available_ram() -> int:
    """Bytes of memory available to new allocations (``MemAvailable``), on Linux; a sysconf guess elsewhere."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def free_memory(device: str | torch.device) -> int:
    """Free bytes on ``device``: ``mem_get_info`` on a GPU, available RAM on the CPU."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    return available_ram()
