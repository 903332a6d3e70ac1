"""Writing a guided or edited sample set (``model.guided``, ``model.edit``): the usual sample files and
``manifest.csv`` rows, plus per model the requested mask (``<id>_s<K>_requested.png``, 0/255) and the injected RGB
guide (``<id>_s<K>_guide.png``), and the manifest's :data:`.manifest.GUIDE_COLUMNS`, so a set always says what it
was asked to draw. All or nothing, like :func:`.writer.write_sample_set`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from ..files.atomic import atomic_directory, save_png
from ..model.guided import GuidedSamples
from ..model.singanseg import SinGANSeg
from .manifest import GUIDE_COLUMNS, MANIFEST_COLUMNS, read_manifest, sample_stem, stored_path, write_manifest
from .writer import check_new_set


@dataclass(frozen=True)
class GuideRecord:
    """What a set was guided by, as the manifest records it (see ``sampling.manifest``).

    Attributes:
        guide: ``mask:<file name>`` or ``edit:<EditSpec.describe()>``.
        guide_mask_sha256: of the guide mask file; empty = that of each model's written requested mask (edits).
        guide_image: ``file:<name>``, ``derived:<method>`` or ``edit``.
        guide_image_sha256: of the guide image file, or empty.
    """

    guide: str
    guide_mask_sha256: str = ""
    guide_image: str = ""
    guide_image_sha256: str = ""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (call it on a file already read through ``files.images.open_bounded``, which
    bounds its size)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_sample(folder: Path, model: SinGANSeg, got: GuidedSamples, i: int, index: int, record: GuideRecord,
                 requested: str, mask_sha: str) -> dict:
    """Write sample ``i`` of ``got`` as sample ``index`` of ``model`` into ``folder``; returns its manifest row."""
    k = got.gen_start_scale
    stem = sample_stem(model.name, k, index)
    save_png(folder / f"{stem}_img.png", got.images[i])
    save_png(folder / f"{stem}_mask.png", got.masks[i])
    # ``folder`` may be the set's temporary sibling (files.atomic): the relative path is the same as the set's
    return {"checkpoint": model.name, "checkpoint_path": stored_path(model.path, folder), "seed": got.seed,
            "gen_start_scale": k, "index": index, "image": f"{stem}_img.png", "mask": f"{stem}_mask.png",
            "true_pixel_pct": round(float(got.true_pixel_pct[i]), 4), "scale_h": 1.0, "scale_v": 1.0,
            "guide": record.guide, "guide_mask_sha256": mask_sha, "guide_image": record.guide_image,
            "guide_image_sha256": record.guide_image_sha256, "inject_scale": k, "requested_mask": requested,
            "guide_iou": round(float(got.iou[i]), 4)}


def write_layout_samples(model: SinGANSeg, out_dir: str | os.PathLike,
                         requests: Sequence[tuple[int, GuideRecord, Callable[[], GuidedSamples]]]) -> pd.DataFrame:
    """Guided samples of one model, each asked for its own layout (a study's ``guided`` source), merged into
    ``out_dir``'s ``manifest.csv`` like ``writer.write_samples`` (not all-or-nothing; rerun to extend).

    Args:
        requests: ``(index, record, make)``: ``make()`` returns one guided sample, written as sample ``index``
            with its requested mask ``<id>_s<K>_<index>_requested.png``.
    Returns:
        The rows written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, record, make in requests:
        got = make()
        requested = f"{sample_stem(model.name, got.gen_start_scale, index)}_requested.png"
        save_png(out / requested, got.requested_mask)
        rows.append(write_sample(out, model, got, 0, index, record, requested, file_sha256(out / requested)))
    new = pd.DataFrame(rows, columns=MANIFEST_COLUMNS + GUIDE_COLUMNS)
    old = read_manifest(out)
    merged = pd.concat([old[~old["image"].isin(new["image"])], new], ignore_index=True) if len(old) else new
    write_manifest(out, merged)
    return new


def write_guided_set(models: Sequence[SinGANSeg], out_dir: str | os.PathLike,
                     make: Callable[[SinGANSeg], GuidedSamples], record: GuideRecord,
                     overwrite: bool = False) -> pd.DataFrame:
    """A new guided set in ``out_dir``: ``make(model)`` for every model, written all at once when complete.

    Returns:
        The manifest rows (standard columns, ``scale_h = scale_v = 1``, then the guide columns).
    Raises:
        InputError: no models, two with one name, ``out_dir`` not new (unless ``overwrite``), anything ``make``
            raises, a full disk.
    """
    out = check_new_set(models, out_dir, overwrite)
    rows = []
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for model in models:
            got = make(model)
            k = got.gen_start_scale
            requested = f"{model.name}_s{k}_requested.png"  # not *_mask.png: mask folders list those as samples
            save_png(tmp / requested, got.requested_mask)
            save_png(tmp / f"{model.name}_s{k}_guide.png", got.guide_image)
            mask_sha = record.guide_mask_sha256 or file_sha256(tmp / requested)
            rows += [write_sample(tmp, model, got, i, i, record, requested, mask_sha) for i in range(len(got))]
        frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS + GUIDE_COLUMNS)
        write_manifest(tmp, frame)
    return frame
