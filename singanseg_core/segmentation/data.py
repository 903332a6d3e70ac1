"""Image/mask pairs for segmentation: discovery in folders, loading, resizing, augmentation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..files.images import read_rgb
from ..files.pairs import find_pairs as find_dataset_pairs
from ..sampling.manifest import read_manifest_rows
# ImageNet statistics: right for pretrained encoders and harmless for randomly initialised ones.
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class Pair:
    """One training/validation example: an RGB image and its binary mask (0/255) file."""

    image: Path
    mask: Path
    name: str


def real_pairs(folder: str | os.PathLike) -> list[Pair]:
    """Pairs of a real dataset ``<folder>/images/<stem>.*`` + ``<folder>/masks/<stem>.*``, sorted by stem
    (the one pair discovery, :func:`singanseg_core.files.pairs.find_pairs`)."""
    return [Pair(img, mask, stem) for stem, img, mask in find_dataset_pairs(folder)]


def sample_pairs(folder: str | os.PathLike, image_column: str = "image") -> list[Pair]:
    """Pairs of a samples folder written by the engine (``manifest.csv``) or by style transfer
    (``image_column="st_image"``). Listed files must lie in ``folder``."""
    folder = Path(folder)
    columns, rows = read_manifest_rows(folder)
    if image_column not in columns or "mask" not in columns:
        raise InputError(f"{folder / 'manifest.csv'}: needs columns {image_column!r} and 'mask'")
    pairs = []
    for row in rows:
        img_p, mask_p = folder / Path(row[image_column]).name, folder / Path(row["mask"]).name
        if not img_p.is_file() or not mask_p.is_file():
            raise InputError(f"{folder / 'manifest.csv'}: listed file missing ({img_p.name} / {mask_p.name})")
        pairs.append(Pair(img_p, mask_p, img_p.stem))
    if not pairs:
        raise InputError(f"{folder / 'manifest.csv'}: lists no samples")
    return pairs


def folder_pairs(folder: str | os.PathLike) -> list[Pair]:
    """Pairs of ``folder``: a real dataset (``images/`` + ``masks/``, by **the** pair discovery
    ``files.pairs.find_pairs``, see :func:`real_pairs`) or a samples folder (its manifest, :func:`sample_pairs`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: folder does not exist")
    if (folder / "images").is_dir():
        return real_pairs(folder)
    return sample_pairs(folder)


def load_image(path: Path, size: int | None = None) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``, resized to ``(size, size)`` bilinearly when ``size`` is given."""
    im = Image.fromarray(read_rgb(path))
    if size is not None:
        im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8).copy()


def load_binary_mask(path: Path, size: int | None = None) -> np.ndarray:
    """Mask as uint8 ``(H, W)`` with values 0/1 (read by the mask rule, ``files.pairs.read_mask``), resized with
    nearest neighbour."""
    from ..files.pairs import read_mask

    im = Image.fromarray(read_mask(path).mask)
    if size is not None:
        im = im.resize((size, size), Image.NEAREST)
    return (np.asarray(im) >= 128).astype(np.uint8)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` -> normalised float32 ``(3, H, W)``."""
    x = (image.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def build_augmentation(seed: int):
    """Albumentations pipeline of the paper's setup: flips, shift-scale-rotate and colour jitter.

    ``Affine`` replaces the deprecated ``ShiftScaleRotate`` (same shift +-6.25 %, scale +-10 %, rotation +-45 deg).
    """
    import albumentations as A

    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.Affine(translate_percent=(-0.0625, 0.0625), scale=(0.9, 1.1), rotate=(-45, 45), p=0.5),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05, p=0.5),
        ],
        seed=seed,
    )


class SegDataset(torch.utils.data.Dataset):
    """Resized (and optionally augmented) pairs as ``(x, y)``: float32 ``(3, S, S)`` normalised image
    and float32 ``(1, S, S)`` mask in {0, 1}, where ``S = image_size``.

    Images are decoded and resized once and kept in memory (``S*S*4`` bytes per pair: 64 KiB at 128 px).
    """

    def __init__(self, pairs: Sequence[Pair], image_size: int, augment: bool = False, seed: int = 0) -> None:
        if not pairs:
            raise InputError("no image/mask pairs to train or evaluate on")
        self.pairs = list(pairs)
        self.image_size = image_size
        self.images = [load_image(p.image, image_size) for p in self.pairs]
        self.masks = [load_binary_mask(p.mask, image_size) for p in self.pairs]
        self.transform = build_augmentation(seed) if augment else None

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.images[i], self.masks[i]
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        return to_tensor(image), torch.from_numpy(mask.astype(np.float32)[None])
