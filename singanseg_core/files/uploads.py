"""Uploaded image and mask files paired by file stem (``a.jpg`` ↔ ``a.png``), before they enter a dataset.

Nothing is dropped silently: an image without a mask, a mask without an image and two uploads of one side
with the same stem are each refused with one line naming the files.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Sequence

from ..errors import InputError

Upload = tuple[str, bytes]                  # (file name as uploaded, content)
UploadPair = tuple[str, bytes, bytes, str]  # (image file name, image bytes, mask bytes, mask file name)
LISTED_PROBLEMS = 8                         # problems (or names) one error line lists before "(+N more)"


def upload_stem(file_name: str) -> str:
    """The stem an upload is paired by: the name without folders and without its last suffix."""
    return PurePosixPath(str(file_name).replace("\\", "/")).stem


def listed(items: Sequence[str], limit: int = LISTED_PROBLEMS, sep: str = ", ") -> str:
    """``items`` joined by ``sep``, the first ``limit`` of them, then "(+N more)"."""
    items = list(items)
    return sep.join(items[:limit]) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _by_stem(files: Sequence[Upload], side: str, problems: list[str]) -> dict[str, Upload]:
    out: dict[str, Upload] = {}
    for name, data in files:
        stem = upload_stem(name)
        if stem in out:
            problems.append(f"two {side} files share the name {stem!r} ({out[stem][0]}, {name}); "
                            "upload each pair once")
            continue
        out[stem] = (name, data)
    return out


def pair_uploads(images: Sequence[Upload], masks: Sequence[Upload],
                 limit: int = LISTED_PROBLEMS) -> list[UploadPair]:
    """Pair uploaded ``images`` with ``masks`` by stem, in the order the images came.

    Returns ``(image name, image bytes, mask bytes, mask name)`` per pair (what :meth:`.Workspace.add_pairs`
    takes).

    Raises:
        InputError: no image; else one line listing every problem of the batch: two images (or two masks)
            with one stem, images without a mask, masks without an image (up to ``limit`` names each).
    """
    if not images:
        raise InputError("choose at least one image and its mask")
    problems: list[str] = []
    img_by, mask_by = _by_stem(images, "image", problems), _by_stem(masks, "mask", problems)
    lonely = [img_by[s][0] for s in img_by if s not in mask_by]
    if lonely:
        problems.append(f"no mask with the same name for: {listed(lonely, limit)}")
    orphans = [mask_by[s][0] for s in mask_by if s not in img_by]
    if orphans:
        problems.append(f"no image with the same name for mask(s): {listed(orphans, limit)}")
    if problems:
        raise InputError(listed(problems, limit, sep="; "))
    return [(name, data, mask_by[stem][1], mask_by[stem][0]) for stem, (name, data) in img_by.items()]
