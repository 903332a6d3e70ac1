"""Writes ``trainer_regression.safetensors``: a tiny model trained by the K = 1 trainer, which
``tests/training/test_trainer.py`` checks the trainer still produces bit for bit (same machine type, same torch).

History: first written by the single-model trainer as it was before the two trainers became one (commit 3ec8beb,
``singanseg_core/training.py``); the unified trainer reproduced that file bit for bit (commit 74f418f). It was then
rewritten once, on purpose, when the golden tests against the authors' code showed that their preview pass at epochs
0, 500, ... and the last one moves G's BatchNorm statistics (``training.trainer.SNAPSHOT_EVERY``), which we now do too.

Input: a procedural 48x40 RGB image with a disk mask (no external data). Config: 3 scales of nfc 8, 6 iterations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent


def procedural_pair() -> tuple[np.ndarray, np.ndarray]:
    """``(40, 48, 3)`` uint8 image and ``(40, 48)`` 0/255 mask, deterministic."""
    yy, xx = np.mgrid[0:40, 0:48].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(xx / 5.0), 128 + 90 * np.cos(yy / 4.0), 128 + 60 * np.sin((xx + yy) / 7.0)], -1)
    mask = (((yy - 18) ** 2 + (xx - 26) ** 2) < 100).astype(np.uint8) * 255
    return img.clip(0, 255).astype(np.uint8), mask


CONFIG = dict(max_size=48, min_size=25, niter=6, nfc=8, max_nfc=8, seed=3, prev_batch_epochs=2)

if __name__ == "__main__":
    torch.set_num_threads(1)
    from singanseg_core.files.pairs import ImagePair
    from singanseg_core.training import TrainConfig, train

    img, mask = procedural_pair()
    model = train(ImagePair(img, mask, "proc"), out_dir=sys.argv[1], config=TrainConfig(**CONFIG), device="cpu")
    save_file(model.state_dict(), str(HERE / "trainer_regression.safetensors"),
              metadata={"noise_amp": repr(model.config.noise_amp)})
