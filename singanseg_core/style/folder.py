"""Style transfer over a samples folder (``manifest.csv``): every generated image restyled with the real image
of its checkpoint; masks copied byte for byte; resumable; a manifest with the ``st_*`` columns.

A style set is *resumable* rather than all-or-nothing (it can take hours, and partial results are worth
showing): every image is written atomically, ``manifest.csv`` is rewritten after every batch and lists exactly
the finished images with their settings (never a row without its ``st_*`` values: an image written just before
a crash, whose row was not yet recorded, is computed again), ``style_transfer.json`` is written last and marks
the set complete, and the folder is locked while a run writes into it (a second writer is refused).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import Cancelled, InputError
from ..files.atomic import atomic_write_bytes, atomic_write_json, folder_lock
from ..sampling.manifest import MANIFEST_NAME, read_manifest_rows, stored_path, write_manifest_rows
from .config import ProgressFn, StyleTransferConfig
from .transfer import StyleTransferResult, encode_png, open_rgb, transfer_style_batch
from .vgg import VGG19Backbone, load_vgg19

ST_COLUMNS = [
    "st_image", "st_source_image", "st_style_image", "st_ratio", "st_content_weight", "st_style_weight",
    "st_steps", "st_steps_run", "st_optimizer", "st_size", "st_precision", "st_content_layer", "st_seed",
    "st_random_features", "st_weights", "st_content_loss", "st_style_loss",
]


def styled_name(image_name: str) -> str:
    """``"<id>_s0_0_img.png"`` -> ``"<id>_s0_0_img_st.png"`` (stem + ``_st.png``)."""
    return f"{Path(image_name).stem}_st.png"


@dataclass
class _Job:
    row: dict[str, str]
    content: Path
    style: Path
    mask: Path | None
    out_image: Path
    out_mask: Path | None


def _style_image_for(row: dict[str, str], real_dir: Path | None, manifest: Path, line: int) -> Path:
    if real_dir is not None:
        ckpt = row["checkpoint"]
        found = sorted(p for p in real_dir.glob(f"{ckpt}.*") if p.is_file())
        if not found:
            raise InputError(f"no style image {real_dir}/{ckpt}.* for checkpoint {ckpt!r} ({manifest} line {line})")
        return found[0]
    ckpt_path = row.get("checkpoint_path") or ""
    if not ckpt_path:
        raise InputError(f"{manifest} line {line}: empty checkpoint_path; pass --real-dir DIR with <checkpoint>.* images")
    p = Path(ckpt_path)
    if not p.is_absolute():
        p = manifest.parent / p
    return p / "real.png"


def style_transfer_samples(
    samples_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: StyleTransferConfig | None = None,
    *,
    real_dir: str | os.PathLike | None = None,
    vgg: VGG19Backbone | None = None,
    weights: str | os.PathLike | None = None,
    random_features: bool = False,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    progress: Callable[[int, int, str], "bool | None"] | None = None,
    step_progress: ProgressFn | None = None,
    allow_download: bool = True,
) -> Path:
    """Restyle every generated image of a samples folder; return the new ``manifest.csv`` path.

    The style of a row is ``<checkpoint_path>/real.png`` or, with ``real_dir``,
    ``<real_dir>/<checkpoint>.*``. Writes into ``out_dir``: ``<image stem>_st.png`` per row, the mask
    copied byte for byte under its own name, ``manifest.csv`` with the input columns (``image`` now
    names the restyled file, ``mask`` the copy) plus ``st_*`` columns, and ``style_transfer.json``.
    All inputs are checked before anything is written; each file is written atomically; rows whose
    output already exists are skipped (resumable). ``progress(done, total, name)`` is called after
    each image; returning ``False`` raises ``Cancelled`` (finished images and the manifest so far stay).
    """
    cfg = (config or StyleTransferConfig()).validated()
    samples_dir, out_dir = Path(samples_dir), Path(out_dir)
    manifest = samples_dir / MANIFEST_NAME
    columns, rows = read_manifest_rows(samples_dir)
    rdir = Path(real_dir) if real_dir is not None else None
    if rdir is not None and not rdir.is_dir():
        raise InputError(f"--real-dir {rdir} is not a folder")
    if out_dir.resolve() == samples_dir.resolve():
        raise InputError(f"output folder {out_dir} must differ from the samples folder")

    # Previous results in out_dir (resume): keep their st_* values.
    previous: dict[str, dict[str, str]] = {}
    if (out_dir / MANIFEST_NAME).is_file():
        try:
            _, prev_rows = read_manifest_rows(out_dir)
            previous = {r.get("st_source_image", ""): r for r in prev_rows}
        except InputError:
            previous = {}

    # An output counts as done only with its row in the earlier manifest (its st_* values); else it is redone.
    def done_before(j: _Job) -> bool:
        return j.out_image.exists() and bool(previous.get(str(j.content), {}).get("st_ratio"))

    jobs: list[_Job] = []
    for line, row in enumerate(rows, start=2):
        name = row["image"]
        if not name:
            raise InputError(f"{manifest} line {line}: empty image name")
        content = samples_dir / name
        mask_name = row.get("mask") or ""
        mask = samples_dir / mask_name if mask_name else None
        if mask is not None and not mask.is_file():
            raise InputError(f"mask {mask} listed in {manifest} line {line} does not exist")
        out_image = out_dir / styled_name(name)
        style = _style_image_for(row, rdir, manifest, line)
        if row.get("checkpoint_path") and not Path(row["checkpoint_path"]).is_absolute():  # kept relative, rebased
            row = dict(row, checkpoint_path=stored_path(samples_dir / row["checkpoint_path"], out_dir))
        job = _Job(row, content, style, mask, out_image, out_dir / Path(mask_name).name if mask else None)
        if not done_before(job):  # check inputs that will be read (decoding them catches non-images)
            open_rgb(job.content, "content image")
            open_rgb(job.style, f"style image for checkpoint {row['checkpoint']!r}")
        jobs.append(job)

    if vgg is None and any(not done_before(j) for j in jobs):
        vgg = load_vgg19(weights, random_features, cfg.seed, device, allow_download)
    out_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir, "style folder"):
        losses = _run_batches(jobs, done_before, previous, columns, out_dir, cfg, vgg, batch_size, progress,
                              step_progress)
        atomic_write_json(out_dir / "style_transfer.json", {
            **cfg.to_metadata(),
            "samples_dir": str(samples_dir),
            "real_dir": str(rdir) if rdir else None,
            "random_features": bool(vgg.random_features) if vgg is not None else None,
            "weights": vgg.source if vgg is not None else "(all outputs existed; nothing computed)",
            "images": len(jobs),
            "computed": sum(1 for j in jobs if not done_before(j)),
            # per batch computed in this run: its images and the losses per step (summed over the batch)
            "loss_history": losses,
        })
    return out_dir / MANIFEST_NAME


def _run_batches(jobs: list[_Job], done_before: Callable[[_Job], bool], previous: dict[str, dict[str, str]],
                 columns: list[str], out_dir: Path, cfg: StyleTransferConfig, vgg: VGG19Backbone | None,
                 batch_size: int, progress: Callable[[int, int, str], "bool | None"] | None,
                 step_progress: ProgressFn | None) -> list[dict[str, Any]]:
    """Restyle the images not done before, batch by batch, rewriting the manifest after every batch. Returns the
    loss curves of every batch: ``[{"images": [output names], "history": [{"step", "content", "style",
    "total"}, ...]}, ...]``."""
    losses: list[dict[str, Any]] = []
    out_columns = [c for c in columns if c not in ST_COLUMNS] + ST_COLUMNS
    finished: dict[int, dict[str, str]] = {}

    def record(i: int, res: StyleTransferResult | None) -> None:
        job = jobs[i]
        row = dict(job.row)
        src = str(job.content)
        if res is None:  # resumed: the earlier manifest's st_* values
            prev = previous.get(src, {})
            st = {k: prev.get(k, "") for k in ST_COLUMNS}
        else:
            md = res.metadata
            st = {
                "st_ratio": md["ratio"], "st_content_weight": md["content_weight"],
                "st_style_weight": md["style_weight"], "st_steps": md["steps"], "st_steps_run": res.steps_run,
                "st_optimizer": md["optimizer"], "st_size": md["size"] if md["size"] is not None else "native",
                "st_precision": md["precision"], "st_content_layer": md["content_layer"], "st_seed": md["seed"],
                "st_random_features": md["random_features"], "st_weights": md["weights"],
                "st_content_loss": f"{res.content_loss:.6g}", "st_style_loss": f"{res.style_loss:.6g}",
            }
        st.update(st_image=job.out_image.name, st_source_image=src, st_style_image=stored_path(job.style, out_dir))
        row.update({k: str(v) for k, v in st.items()})
        row["image"] = job.out_image.name
        if job.out_mask is not None:
            row["mask"] = job.out_mask.name
            if not job.out_mask.exists() or job.out_mask.read_bytes() != job.mask.read_bytes():
                atomic_write_bytes(job.out_mask, job.mask.read_bytes())
        finished[i] = row

    def write_manifest() -> None:
        write_manifest_rows(out_dir, out_columns, [finished[i] for i in sorted(finished)])

    todo = [i for i, j in enumerate(jobs) if not done_before(j)]
    for i, j in enumerate(jobs):
        if done_before(j):
            record(i, None)
    done = len(jobs) - len(todo)
    try:
        for start in range(0, len(todo), max(1, batch_size)):
            chunk = todo[start : start + max(1, batch_size)]
            results = transfer_style_batch(
                [jobs[i].content for i in chunk], [jobs[i].style for i in chunk], cfg,
                vgg=vgg, batch_size=batch_size, progress=step_progress,
            )
            losses.append({"images": [jobs[i].out_image.name for i in chunk],
                           "history": [{k: float(v) for k, v in h.items()} for h in results[0].history]
                           if results else []})
            for i, res in zip(chunk, results):
                md = dict(res.metadata, source_image=str(jobs[i].content), style_image=str(jobs[i].style))
                atomic_write_bytes(jobs[i].out_image, encode_png(res.image, md))
                record(i, res)
                done += 1
                if progress is not None and progress(done, len(jobs), jobs[i].out_image.name) is False:
                    raise Cancelled(f"style-batch cancelled after {done} of {len(jobs)} images")
            write_manifest()
    except BaseException:
        try:  # keep what finished; a second failure (the same full disk) must not hide the first one
            write_manifest()
        except Exception:  # noqa: BLE001
            pass
        raise
    write_manifest()
    return losses
