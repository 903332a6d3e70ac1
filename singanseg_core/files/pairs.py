"""Reading training pairs: image + mask files, RGBA PNGs (alpha = mask), Kvasir-SEG folders; and THE MASK RULE
(:func:`mask_from_image`), the one decision of what a mask file means."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from .images import IMAGE_SUFFIXES, grey_levels, open_bounded, rgb_array


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


# ---------------------------------------------------------------------------------------------- the mask rule
MIDTONE_LEVELS = (32, 223)   # uint8 grey levels that are neither background nor object
MAX_MIDTONE_FRACTION = 0.25  # more mid-grey pixels than this: a photo (real photos: 50-90 %)
MAX_LOOSE_MIDTONES = 0.10    # more than this, and most of them away from black/white: a photo too
MAX_LABEL_LEVEL = 15         # >= 3 distinct levels all <= this: a multi-class label image
CHROMA_TOLERANCE = 32        # max(R, G, B) - min(R, G, B) below this is grey (JPEG colour noise)
MIN_COLOUR_SHARE = 0.01      # a colour "counts" in a colour mask when it covers >= 1 % of the pixels


@dataclass
class MaskRead:
    """A mask read by :func:`mask_from_image`: ``mask`` ``(H, W)`` uint8 0/255, ``changed`` pixels moved by the
    threshold, and ``notes`` (one line each) for every conversion or oddity, to be shown to the user."""

    mask: np.ndarray
    changed: int = 0
    notes: list[str] = field(default_factory=list)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)


def _grey_rule(levels: np.ndarray, top: float, label: str) -> MaskRead:
    """The rule for grey levels (see :func:`mask_from_image`)."""
    if not np.all(np.isfinite(levels)):
        raise InputError(f"{label}: mask holds NaN or infinite values")
    if levels.dtype.kind != "f" and levels.size and 0 <= levels.min() and levels.max() <= 65535:
        values = np.flatnonzero(np.bincount(levels.ravel()))  # fast for 8- and 16-bit levels
    else:
        values = np.unique(levels)
    if len(values) == 1:
        v = values[0]
        return MaskRead(np.full(levels.shape, 255 if v > 0 else 0, np.uint8))
    if len(values) == 2:
        lo, hi = values
        if lo == 0 or lo <= top / 2 < hi:
            read = MaskRead(np.where(levels == hi, 255, 0).astype(np.uint8))
            if (lo, hi) != (0, top):
                read.notes.append(f"{label}: two-level mask {lo:g}/{hi:g} read as background/object (0/255)")
            return read
        raise InputError(f"{label}: the mask has only the levels {lo:g} and {hi:g}, both on the same side of "
                         "mid-grey, so neither can be told to be the object; save it as 0/255 (or 0/1)")
    if levels.dtype.kind != "f" and values.max() <= MAX_LABEL_LEVEL:
        shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
        raise InputError(f"{label}: the mask has the levels {shown}: a multi-class label image, not a two-level "
                         "mask; save the one class you want as 0/255 (or 0/1)")
    if top == 255.0:
        u8 = np.clip(levels, 0, 255).astype(np.uint8)
    else:
        u8 = (np.clip(levels, 0, top).astype(np.float64) * (255.0 / top)).round().astype(np.uint8)
    lo_mid, hi_mid = MIDTONE_LEVELS
    is_mid = (u8 >= lo_mid) & (u8 <= hi_mid)
    mid = float(np.count_nonzero(is_mid)) / u8.size
    if mid > MAX_LOOSE_MIDTONES and mid <= MAX_MIDTONE_FRACTION:  # anti-aliasing lies next to black or white
        extreme = np.pad(~is_mid, 1)
        near = np.zeros_like(is_mid)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                near |= extreme[dy:dy + u8.shape[0], dx:dx + u8.shape[1]]
        loose = float(np.count_nonzero(is_mid & ~near)) / max(np.count_nonzero(is_mid), 1)
    else:
        loose = 0.0
    if mid > MAX_MIDTONE_FRACTION or loose > 0.5:
        raise InputError(f"{label}: not a two-level mask: {mid:.0%} of its pixels are mid-grey (a photo?); a mask "
                         f"is black background and white object (0/255, or 0/1), with grey only along the edges")
    binary, changed = binarize_mask(u8)
    read = MaskRead(binary, changed)
    if changed:
        read.notes.append(f"{label}: mask had grey levels; binarised at 127 ({changed} pixels changed)")
    return read


def _colour_rule(rgb: np.ndarray, label: str) -> MaskRead:
    """A mask with colours: one colour on black is accepted (that colour is the object), anything else refused."""
    flat = rgb.reshape(-1, 3)
    bins = (flat >> 6).astype(np.int64)
    keys = bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2]
    counts = np.bincount(keys, minlength=64)
    big = [int(k) for k in np.argsort(counts)[::-1] if counts[k] >= MIN_COLOUR_SHARE * len(keys)]
    means = {k: flat[keys == k].mean(axis=0) for k in big[:4]}
    names = ", ".join("#%02x%02x%02x" % tuple(int(round(c)) for c in means[k]) for k in big[:3])
    if len(big) == 2 and 0 in big:
        fg, bg = means[big[0] if big[1] == 0 else big[1]], means[0]
        axis = (fg - bg).astype(np.float32)  # nearer to the object colour than to black, along the line between
        mask = ((flat.astype(np.float32) - bg.astype(np.float32)) @ axis > 0.5 * float(axis @ axis))
        mask = mask.reshape(rgb.shape[:2])
        note = (f"{label}: colour mask read as object = {'#%02x%02x%02x' % tuple(int(round(c)) for c in fg)}, "
                "background = black")
        return MaskRead(np.where(mask, 255, 0).astype(np.uint8), 0, [note])
    if len(big) == 1:
        return MaskRead(np.full(rgb.shape[:2], 0 if big[0] == 0 else 255, np.uint8))
    many = f" and more ({len(big)} colours: a photo?)" if len(big) > 3 else ""
    raise InputError(f"{label}: a colour mask with the colours {names}{many}: which one is the object cannot be "
                     "told; a mask is greyscale 0/255 (or 0/1), or one colour on black")


def mask_from_image(img: Image.Image, label: str = "mask") -> MaskRead:
    """THE MASK RULE: a decoded mask image as a binary ``(H, W)`` uint8 0/255 mask, or an ``InputError``.

    Every reader of a mask (training pairs, uploads, zip imports, segmentation data, statistics) uses this:

    * **Two levels** (any bit depth): ``0/255``, ``0/1`` label masks, ``0/65535``, ...: the higher level is
      the object (noted unless it is ``0/top``). Two levels on the same side of mid-grey are refused.
    * **One level**: an empty or a full mask (the note says so).
    * **Three or more small integer levels** (all <= 15): a multi-class label image: refused.
    * **Grey levels** (anti-aliased or JPEG-compressed masks): binarised at 127 with the changed pixels
      counted, if at most 10 % of the pixels are mid-grey (32..223); more is a photo: refused.
    * **Alpha**: a mask whose colour is uniform and whose alpha varies is read from its alpha channel; if
      both vary they must agree.
    * **Colour** (more than 1 % of the pixels not grey): one colour on black is accepted (that colour is the
      object), any other colour mask (e.g. red on navy) is refused.

    An empty or a full mask is accepted with a note (it trains, but it is probably not what was meant).
    """
    if _has_alpha(img):
        rgba = np.asarray(img.convert("RGBA"))
        alpha, colour = rgba[..., 3], rgba[..., :3]
        if alpha.min() != alpha.max():
            from_alpha = _grey_rule(alpha.astype(np.int64), 255.0, f"{label} (alpha)")
            if (colour == colour.reshape(-1, 3)[0]).all():
                from_alpha.notes.insert(0, f"{label}: mask read from its alpha channel (its colour is uniform)")
                return _finish(from_alpha, label)
            from_colour = _colour_or_grey(Image.fromarray(colour), label)
            if not np.array_equal(from_colour.mask, from_alpha.mask):
                raise InputError(f"{label}: the mask's alpha channel and its colours describe different objects; "
                                 "save it as one single-channel 0/255 image")
            return _finish(from_colour, label)
        img = Image.fromarray(colour)
    return _finish(_colour_or_grey(img, label), label)


def _colour_or_grey(img: Image.Image, label: str) -> MaskRead:
    if img.mode in ("1", "L", "I", "F") or img.mode.startswith("I;"):
        return _grey_rule(*grey_levels(img), label)
    rgb = np.asarray(img.convert("RGB"))
    chroma = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    if np.count_nonzero(chroma > CHROMA_TOLERANCE) > MIN_COLOUR_SHARE * chroma.size:
        return _colour_rule(rgb, label)
    return _grey_rule(np.asarray(img.convert("L")).astype(np.int64), 255.0, label)


def _finish(read: MaskRead, label: str) -> MaskRead:
    share = float(np.count_nonzero(read.mask)) / max(read.mask.size, 1)
    if share == 0.0:
        read.notes.append(f"{label}: the mask is empty (no object pixels); is it the right file?")
    elif share == 1.0:
        read.notes.append(f"{label}: the mask covers the whole image (no background); is it the right file?")
    return read


def read_mask(source: str | os.PathLike | bytes, what: str | None = None) -> MaskRead:
    """Read a mask file (or its bytes) through :func:`open_bounded` and :func:`mask_from_image`."""
    img = open_bounded(source, what)
    return mask_from_image(img, what or str(source if not isinstance(source, (bytes, bytearray)) else "mask"))


def load_pair(image: str | os.PathLike | bytes, mask: str | os.PathLike | bytes | None = None,
              name: str | None = None, image_label: str | None = None,
              mask_label: str | None = None) -> ImagePair:
    """Load an image/mask pair from two files (or their bytes), or from one RGBA file whose alpha is the mask.

    The image is decoded by :func:`open_bounded` (EXIF orientation applied, 16-bit scaled); the mask by the
    mask rule (:func:`mask_from_image`), whose notes end up in ``pair.notes``.

    Raises:
        InputError: unreadable files, size mismatch, a mask the rule refuses, or an RGB image without a mask.
    """
    from_bytes = isinstance(image, (bytes, bytearray))
    image_label = image_label or ("the image" if from_bytes else str(image))
    image_path = None if from_bytes else Path(image)
    img = open_bounded(image, image_label)
    if mask is None:
        if not _has_alpha(img):
            raise InputError(f"{image_label}: no mask given and the image has no alpha channel "
                             "(pass --mask, or an RGBA PNG whose alpha is the mask)")
        rgba = np.asarray(img.convert("RGBA"))
        rgb = rgba[..., :3].copy()
        read = _finish(_grey_rule(rgba[..., 3].astype(np.int64), 255.0, f"{image_label} (alpha)"), image_label)
        mask_path = None
    else:
        mask_label = mask_label or ("the mask" if isinstance(mask, (bytes, bytearray)) else str(mask))
        mask_path = None if isinstance(mask, (bytes, bytearray)) else Path(mask)
        m = open_bounded(mask, mask_label)
        rgb = rgb_array(img)
        if (m.size[1], m.size[0]) != rgb.shape[:2]:
            raise InputError(
                f"{mask_label}: mask is {m.size[0]}x{m.size[1]} px but image "
                f"{image_path.name if image_path else image_label} is {rgb.shape[1]}x{rgb.shape[0]} px "
                "(width x height); they must match")
        read = mask_from_image(m, mask_label)
    stem = name or (image_path.stem if image_path else "image")
    pair = ImagePair(rgb, read.mask, stem, str(image_path) if image_path else None,
                     str(mask_path) if mask_path else None, read.changed)
    pair.notes.extend(read.notes)
    return pair


def _index_by_stem(folder: Path) -> dict[str, Path]:
    """``{stem: file}`` of the images in ``folder``; two files with one stem (``a.jpg`` + ``a.png``) are refused,
    naming both, rather than one of them being dropped silently."""
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            if p.stem in found:
                raise InputError(f"{folder}: {found[p.stem].name} and {p.name} have the same name {p.stem!r}; "
                                 "keep one of them (pairs are matched by name)")
            found[p.stem] = p
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
