"""The one schema of a samples folder's ``manifest.csv`` (read and write), shared by the sampler, style transfer
(which adds its ``st_*`` columns), statistics, studies and the dashboard.

One row per generated pair: ``checkpoint`` (model name), ``checkpoint_path``, ``seed``, ``gen_start_scale``,
``index``, ``image`` and ``mask`` (file names in the folder), ``true_pixel_pct`` (0..100), ``scale_h``, ``scale_v``;
plus ``redraws`` in sets sampled with ``redraw_empty`` (times the sample was redrawn because its mask was empty),
plus :data:`GUIDE_COLUMNS` in guided and edited sets (``sampling.guided_writer``): ``guide`` (``mask:<file name>`` or
``edit:<edit>``), ``guide_mask_sha256`` (of the guide mask file given; for an edit, of the requested-mask file
written), ``guide_image`` (``file:<name>``, ``derived:<method>`` or ``edit``), ``guide_image_sha256`` (of the file
given, else empty), ``inject_scale``, ``requested_mask`` (its file in the folder, 0/255) and ``guide_iou`` (the
sample's mask against it, 0..1). Manifests without these columns read as before.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files.atomic import atomic_write_bytes

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ["checkpoint", "checkpoint_path", "seed", "gen_start_scale", "index", "image", "mask",
                    "true_pixel_pct", "scale_h", "scale_v"]
GUIDE_COLUMNS = ["guide", "guide_mask_sha256", "guide_image", "guide_image_sha256", "inject_scale", "requested_mask",
                 "guide_iou"]
REQUIRED_COLUMNS = ("checkpoint", "image")
MAX_MANIFEST_BYTES = 64 * 2**20     # ~500k rows; larger files are refused, not read


def stored_path(path: str | os.PathLike | None, folder: str | os.PathLike) -> str:
    """``path`` as a manifest in ``folder`` stores it: relative to ``folder`` (``../../checkpoints/<name>`` in a
    workspace), so a manifest, and the zip that carries it, never holds the server's absolute path; readers
    resolve a relative path against the manifest's folder (absolute ones of older manifests still work)."""
    if not path:
        return ""
    return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()


def sample_stem(checkpoint: str, gen_start_scale: int, index: int) -> str:
    """``<checkpoint>_s<K>_<i>``: the stem of a sample's ``_img.png`` / ``_mask.png``."""
    return f"{checkpoint}_s{gen_start_scale}_{index}"


def read_manifest_rows(folder: str | os.PathLike) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows (all strings) of ``folder/manifest.csv``.

    Raises:
        InputError: missing, larger than :data:`MAX_MANIFEST_BYTES`, not CSV, or lacking ``checkpoint`` / ``image``.
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{path} does not exist (a samples folder needs the sampler's {MANIFEST_NAME})")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise InputError(f"{path} is larger than {MAX_MANIFEST_BYTES // 2**20} MB; refused")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path} cannot be read as CSV ({type(err).__name__}: {err})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {missing}; expected the sampler's manifest columns")
    return columns, rows


def read_manifest(folder: str | os.PathLike) -> pd.DataFrame:
    """The manifest of a samples folder as a frame (an empty frame with the standard columns if there is none)."""
    if not (Path(folder) / MANIFEST_NAME).is_file():
        return pd.DataFrame(columns=MANIFEST_COLUMNS)
    columns, rows = read_manifest_rows(folder)
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("seed", "gen_start_scale", "index", "inject_scale"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    for col in ("true_pixel_pct", "scale_h", "scale_v", "guide_iou"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def write_manifest(folder: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as ``folder/manifest.csv`` atomically."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return atomic_write_bytes(Path(folder) / MANIFEST_NAME, buf.getvalue().encode())


def write_manifest_rows(folder: str | os.PathLike, columns: list[str], rows: list[dict[str, str]]) -> Path:
    """Write ``rows`` (dicts; extra keys ignored) under ``columns`` as ``folder/manifest.csv`` atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_bytes(Path(folder) / MANIFEST_NAME, buf.getvalue().encode())
