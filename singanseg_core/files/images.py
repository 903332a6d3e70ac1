"""The one way image files are read: bounded (file size, pixel count), EXIF orientation applied, 16-bit aware.

Every reader (training pairs, uploads, zips, style transfer, statistics, segmentation) goes through
:func:`open_bounded`, so a decompression bomb, a truncated file or a non-image gives one clear ``InputError``
naming the file, never a traceback or an unbounded allocation.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MAX_FILE_MB = 100            # one image file
MAX_PIXELS = 50_000_000      # decoded pixels (a 7000x7000 photo); PIL's own bomb limit is ~89 M


def open_bounded(source: str | os.PathLike | bytes, what: str | None = None,
                 max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and decode an image (a path or the bytes of a file) with EXIF orientation applied.

    Raises:
        InputError: missing/not a file, larger than :data:`MAX_FILE_MB`, more than ``max_pixels`` pixels (checked
            from the header, before decoding), or not a decodable image. The message starts with ``what``
            (default: the path).
    """
    if isinstance(source, (bytes, bytearray)):
        label, data = what or "the image", bytes(source)
        if len(data) > MAX_FILE_MB * 2**20:
            raise InputError(f"{label}: {len(data) / 2**20:.0f} MB; images may be at most {MAX_FILE_MB} MB")
        fh: io.BufferedIOBase | io.BytesIO = io.BytesIO(data)
    else:
        path = Path(source)
        label = what or str(path)
        if not path.exists():
            raise InputError(f"{label}: file not found")
        if not path.is_file():
            raise InputError(f"{label}: not a file")
        size = path.stat().st_size
        if size > MAX_FILE_MB * 2**20:
            raise InputError(f"{label}: {size / 2**20:.0f} MB; images may be at most {MAX_FILE_MB} MB")
        fh = io.BytesIO(path.read_bytes())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fh)
            w, h = img.size
            if w * h > max_pixels:
                raise InputError(f"{label}: {w}x{h} px is more than {max_pixels / 1e6:.0f} megapixels; refused")
            img.load()
            img = ImageOps.exif_transpose(img)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{label}: claims more than {max_pixels / 1e6:.0f} megapixels (a decompression bomb?); "
                         "refused") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError) as err:
        why = "unknown or unsupported format" if isinstance(err, UnidentifiedImageError) else \
            f"{type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else 'damaged file'}"
        raise InputError(f"{label}: not a readable image ({why})") from None
    return img


WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")   # single-band modes wider than 8 bits


def grey_levels(img: Image.Image) -> tuple[np.ndarray, float]:
    """**The** bit-depth rule: a single-band image's raw levels (int64, or float64 for mode ``F``) and the top
    of its type's range: 65535 for 16-bit (and 32-bit integer images with levels above 255), 1.0 for float
    images in 0..1, else 255."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.int64), 65535.0
    if img.mode == "I":
        arr = np.asarray(img, dtype=np.int64)
        return arr, 65535.0 if arr.max(initial=0) > 255 else 255.0
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        return arr, 1.0 if arr.max(initial=0.0) <= 1.0 else 255.0
    return np.asarray(img.convert("L")).astype(np.int64), 255.0


def to_uint8_levels(img: Image.Image) -> np.ndarray:
    """Grey levels of a single-band image as uint8: 16-bit and float images are scaled by their type's range
    (:func:`grey_levels`; 65535 → 255), not clipped; 8-bit and binary images are returned as they are."""
    if img.mode not in WIDE_MODES:
        return np.asarray(img.convert("L"))
    levels, top = grey_levels(img)
    return (levels.astype(np.float64).clip(0, top) / top * 255.0).round().astype(np.uint8)


def read_rgb(source: str | os.PathLike | bytes, what: str | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image file; greyscale (8 or 16 bit) becomes grey RGB, alpha is dropped."""
    return rgb_array(open_bounded(source, what))


def rgb_array(img: Image.Image) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of a decoded image (see :func:`read_rgb`)."""
    if img.mode in WIDE_MODES:
        return np.repeat(to_uint8_levels(img)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))
