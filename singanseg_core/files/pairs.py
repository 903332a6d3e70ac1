"""Reading training pairs: image + mask files, RGBA PNGs (alpha = mask), Kvasir-SEG folders."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from .images import IMAGE_SUFFIXES, open_bounded, to_uint8_levels


@dataclass
class ImagePair:
    """One training pair.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)`` uint8, values 0 or 255 (255 = foreground).
        name: identifier (file stem of the image).
        changed_pixels: mask pixels whose grey level was moved to 0/255 by binarisation at 127.
    """

    image: np.ndarray
    mask: np.ndarray
    name: str
    image_path: str | None = None
    mask_path: str | None = None
    changed_pixels: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    def stacked(self) -> np.ndarray:
        """``(H, W, 4)`` uint8: RGB + mask, the original's 4-channel input."""
        return np.dstack([self.image, self.mask])

    def to_tensor(self) -> torch.Tensor:
        """``(1, 4, H, W)`` float32 in [-1, 1], computed as the original's ``np2torch``."""
        arr = self.stacked().astype(np.float64) / 255.0
        t = torch.from_numpy(arr.transpose(2, 0, 1)[None].copy()).to(torch.float32)
        return ((t - 0.5) * 2.0).clamp(-1.0, 1.0)

    def content_hash(self) -> str:
        """sha256 of the 4-channel pixels and shape: identifies the training content, not the file."""
        stacked = self.stacked()
        h = hashlib.sha256()
        h.update(str(stacked.shape).encode())
        h.update(stacked.tobytes())
        return h.hexdigest()


def binarize_mask(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Threshold at 127 (>127 → 255). Returns the binary mask and the count of pixels that changed."""
    binary = np.where(mask > 127, 255, 0).astype(np.uint8)
    return binary, int(np.count_nonzero(binary != mask))


def _mask_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGB")
    if img.mode == "1":
        return np.asarray(img.convert("L"))
    if img.mode.startswith("I") or img.mode == "F":
        return to_uint8_levels(img)
    return np.asarray(img.convert("L"))


def load_pair(image: str | os.PathLike, mask: str | os.PathLike | None = None, name: str | None = None) -> ImagePair:
    """Load an image/mask pair from two files, or from one RGBA file whose alpha is the mask.

    Raises:
        InputError: unreadable files, size mismatch, or an RGB image without a mask.
    """
    image_path = Path(image)
    img = open_bounded(image_path)
    if mask is None:
        if img.mode not in ("RGBA", "LA", "PA") and not (img.mode == "P" and "transparency" in img.info):
            raise InputError(f"{image_path}: no mask given and the image has no alpha channel "
                             "(pass --mask, or an RGBA PNG whose alpha is the mask)")
        rgba = np.asarray(img.convert("RGBA"))
        rgb, raw_mask, mask_path = rgba[..., :3].copy(), rgba[..., 3].copy(), None
    else:
        mask_path = Path(mask)
        m = open_bounded(mask_path)
        rgb = np.asarray(img.convert("RGB")) if not (img.mode.startswith("I") or img.mode == "F") \
            else np.repeat(to_uint8_levels(img)[..., None], 3, axis=2)
        raw_mask = _mask_array(m)
        if raw_mask.shape != rgb.shape[:2]:
            raise InputError(
                f"{mask_path}: mask is {raw_mask.shape[1]}x{raw_mask.shape[0]} px but image {image_path.name} "
                f"is {rgb.shape[1]}x{rgb.shape[0]} px (width x height); they must match")
    binary, changed = binarize_mask(raw_mask)
    pair = ImagePair(rgb, binary, name or image_path.stem, str(image_path), str(mask_path) if mask_path else None,
                     changed)
    if changed:
        pair.notes.append(f"{mask_path or image_path}: mask had grey levels; binarised at 127 "
                          f"({changed} pixels changed)")
    return pair


def _index_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            found.setdefault(p.stem, p)
    return found


def find_pairs(folder: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """List ``(stem, image_path, mask_path)`` in a Kvasir-SEG folder (``images/`` + ``masks/``), sorted by stem.

    Raises:
        InputError: missing sub-folders, no images, or stems without a partner (all listed).
    """
    root = Path(folder)
    images_dir, masks_dir = root / "images", root / "masks"
    for d in (root, images_dir, masks_dir):
        if not d.is_dir():
            raise InputError(f"{d}: folder not found (expected the Kvasir-SEG layout images/<stem>.* + masks/<stem>.*)")
    images, masks = _index_by_stem(images_dir), _index_by_stem(masks_dir)
    if not images:
        raise InputError(f"{images_dir}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    lonely_images = sorted(set(images) - set(masks))
    lonely_masks = sorted(set(masks) - set(images))
    if lonely_images or lonely_masks:
        parts = []
        if lonely_images:
            parts.append(f"images without a mask: {', '.join(lonely_images)}")
        if lonely_masks:
            parts.append(f"masks without an image: {', '.join(lonely_masks)}")
        raise InputError(f"{root}: unmatched stems; " + "; ".join(parts))
    return [(stem, images[stem], masks[stem]) for stem in sorted(images)]


def load_folder(folder: str | os.PathLike) -> list[ImagePair]:
    """Load every pair of a Kvasir-SEG folder (see :func:`find_pairs`)."""
    return [load_pair(img, msk, name=stem) for stem, img, msk in find_pairs(folder)]
