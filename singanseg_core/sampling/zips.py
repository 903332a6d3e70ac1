"""Zip downloads of a samples or style folder (here, above ``manifest``, which it reads): ``images/``, ``masks/`` and ``manifest.csv``."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from ..errors import InputError
from .manifest import MANIFEST_NAME, read_manifest_rows


def zip_sample_folder(folder: str | os.PathLike) -> bytes:
    """Every pair listed in ``folder/manifest.csv`` as ``images/<image>`` + ``masks/<mask>``, plus the manifest.

    Only plain files named by the manifest and lying in ``folder`` itself are packed (never a link, never a path
    with a folder part), so a tampered manifest cannot pull other files into a download.
    """
    folder = Path(folder)
    _, rows = read_manifest_rows(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for row in rows:
            for col, sub in (("image", "images"), ("mask", "masks")):
                name = row.get(col) or ""
                if not name:
                    continue
                path = folder / name
                if Path(name).name != name or path.is_symlink() or not path.is_file():
                    raise InputError(f"{folder / MANIFEST_NAME}: {col} {name!r} is not a file of this folder")
                zf.write(path, f"{sub}/{name}")
        zf.write(folder / MANIFEST_NAME, MANIFEST_NAME)
    return buf.getvalue()
