"""Uploaded image and mask files paired by file stem (``a.jpg`` ↔ ``a.png``), before they enter a dataset.

Nothing is dropped silently: an image without a mask, a mask without an image and two uploads of one side
with the same stem are each refused with one line naming the files.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Sequence

from ..errors import InputError

Upload = tuple[str, bytes]             # (file name as uploaded, content)
UploadPair = tuple[str, bytes, bytes]  # (image file name, image bytes, mask bytes)


def upload_stem(file_name: str) -> str:
    """The stem an upload is paired by: the name without folders and without its last suffix."""
    return PurePosixPath(str(file_name).replace("\\", "/")).stem


def _by_stem(files: Sequence[Upload], side: str) -> dict[str, Upload]:
    out: dict[str, Upload] = {}
    for name, data in files:
        stem = upload_stem(name)
        if stem in out:
            raise InputError(f"two {side} files share the name {stem!r} ({out[stem][0]}, {name}); "
                             "upload each pair once")
        out[stem] = (name, data)
    return out


def pair_uploads(images: Sequence[Upload], masks: Sequence[Upload], limit: int = 8) -> list[UploadPair]:
    """Pair uploaded ``images`` with ``masks`` by stem, in the order the images came.

    Returns ``(image name, image bytes, mask bytes)`` per pair (what :meth:`.Workspace.add_pairs` takes).

    Raises:
        InputError: no image; two images (or two masks) with one stem; an image without a mask or a mask
            without an image (up to ``limit`` names are listed).
    """
    if not images:
        raise InputError("choose at least one image and its mask")
    img_by, mask_by = _by_stem(images, "image"), _by_stem(masks, "mask")

    def listed(names: list[str]) -> str:
        return ", ".join(names[:limit]) + (f" (+{len(names) - limit} more)" if len(names) > limit else "")

    lonely = [img_by[s][0] for s in img_by if s not in mask_by]
    if lonely:
        raise InputError(f"no mask with the same name for: {listed(lonely)}")
    orphans = [mask_by[s][0] for s in mask_by if s not in img_by]
    if orphans:
        raise InputError(f"no image with the same name for mask(s): {listed(orphans)}")
    return [(name, data, mask_by[stem][1]) for stem, (name, data) in img_by.items()]
