"""The paper's two segmentation studies, resumable and reproducible.

* **Small data (Table 2)**: R real images of fold one vs S = k*R synthetic samples of their SinGAN
  models (and, our addition, real + synthetic); every model is validated on folds two and three.
* **Real vs synthetic (Table 1)**: k-fold; REAL trains on the other folds' real images, FAKE-N on N
  samples per image of the models of those same images; validation on the real held-out fold.

Layout of a study folder::

    study.json                 the StudyConfig (checked on every rerun)
    folds.json                 the seeded fold split (stems)
    models/<stem>/             SinGAN-Seg checkpoint per real image needed (or --checkpoints DIR/<stem>)
    samples/<stem>/            raw samples (engine naming + manifest.csv), extended when more are needed
    samples-st-1x1000/<stem>/  style-transferred samples (variant "st-1:1000")
    runs/<run_id>/             one finished UNet++ run: result.json, config.json, history.csv,
                               train_files.csv (+ model.safetensors/config when keep_models)
    results.csv, results.parquet   one row per finished run (rebuilt after every run)

A run folder appears atomically when its training ends, so rerunning a study skips every finished run
and a crash or a stop loses at most the run in progress. Synthetic data of a run always comes only
from the models of that run's real training images (never from a validation image: no leakage).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import Cancelled, InputError
from ..files.atomic import atomic_directory, atomic_write_json, atomic_write_text
from ..files.bounded_json import read_json
from ..model.config import is_finished_checkpoint
from ..segmentation import Pair, real_pairs, train_segmentation
from ..sampling.manifest import read_manifest
from .config import RERUN_FREE_FIELDS, RESULT_FILE, STUDY_FILE, StudyConfig, parse_variant
from .plan import RunSpec, plan_runs, slug, split_folds
from .results import StudyResult, write_results


@dataclass
class StudyProgress:
    """Event for study progress callbacks.

    ``stage``: "model" (SinGAN training of ``stem``), "samples", "style", "train" (UNet++ of ``run_id``),
    "skip" (finished run found), "run-done" or "done". ``done``/``total`` count runs; ``detail`` is the
    underlying event (engine :class:`TrainProgress`, :class:`SegProgress`, ...) when there is one.
    """

    stage: str
    message: str
    done: int
    total: int
    run_id: str | None = None
    stem: str | None = None
    detail: Any = None
    inner: float | None = None

    @property
    def fraction(self) -> float:
        """The study's progress in [0, 1]: finished runs plus ``inner``, the run in progress's own share done
        (its SinGAN models scale by scale, then its UNet++ epoch by epoch: :data:`PREP_SHARE`); without
        ``inner``, a UNet++ event's own fraction."""
        inner = self.inner if self.inner is not None else \
            (getattr(self.detail, "fraction", None) if self.stage == "train" else None)
        return min(1.0, (self.done + min(max(inner or 0.0, 0.0), 1.0)) / max(self.total, 1)) if self.total else 0.0

    @property
    def run_label(self) -> str:
        """``run k of n`` for the run in progress (1-based; ``k`` counts finished runs + 1)."""
        return f"run {min(self.done + 1, self.total)} of {self.total}" if self.total else "preparing"


StudyProgressFn = Callable[[StudyProgress], Any]
PREP_SHARE = 0.5   # of a run that needs synthetic data: its models and samples; the rest is its UNet++ training


class _Study:
    """State of one ``run_study`` call (paths, pairs, progress)."""

    def __init__(self, config: StudyConfig, study_dir: Path, progress: StudyProgressFn | None) -> None:
        self.config = config
        self.dir = study_dir
        self.progress = progress
        self.done = 0
        self.total = 0
        self.inner = 0.0                   # the run in progress: its share done (StudyProgress.inner)
        self.prep_share = 0.0              # ... of it, the share of preparing synthetic data
        self.slot = (0, 1)                 # ... the training image being prepared: (index, how many)
        pairs = real_pairs(config.data_dir)
        self.pairs: dict[str, Pair] = {p.name: p for p in pairs}
        stems = sorted(self.pairs)
        if config.max_images is not None and config.max_images < len(stems):
            pick = np.random.default_rng(config.fold_seed).choice(len(stems), config.max_images, replace=False)
            stems = sorted(stems[i] for i in pick)
        self.folds = split_folds(stems, config.n_folds, config.fold_seed)

    def run_label(self) -> str:
        """``run k of n``: the run being prepared or trained (1-based), as every progress message names it."""
        return StudyProgress("", "", self.done, self.total).run_label

    def emit(self, stage: str, message: str, run_id: str | None = None, stem: str | None = None, detail: Any = None) -> None:
        if self.progress is not None:
            ev = StudyProgress(stage, message, self.done, self.total, run_id, stem, detail, self.inner)
            if self.progress(ev) is False:
                raise Cancelled(f"study {self.dir} cancelled ({message})")

    # -- synthetic data ---------------------------------------------------------------------

    def model_dir(self, stem: str) -> Path:
        if self.config.checkpoints_dir:
            given = Path(self.config.checkpoints_dir) / stem
            if is_finished_checkpoint(given):
                return given
        return self.dir / "models" / stem

    def ensure_model(self, stem: str):
        from ..model.singanseg import SinGANSeg
        from ..training.fit import train

        from ..device import resolve_device

        device = resolve_device(self.config.device)
        path = self.model_dir(stem)
        if is_finished_checkpoint(path):
            return SinGANSeg.from_pretrained(path, device=device)
        pair = self.pairs[stem]
        self.emit("model", f"{self.run_label()}: training SinGAN-Seg of {stem}", stem=stem)

        def relay(ev):
            if self.progress is not None:
                msg = f"{self.run_label()}: SinGAN-Seg of {stem}, scale {ev.scale + 1} of {ev.num_scales}"
                self.inner = self.prep_share * (self.slot[0] + ev.fraction) / max(self.slot[1], 1)
                return self.progress(StudyProgress("model", msg, self.done, self.total, None, stem, ev, self.inner))
            return None

        # resume=True continues a partial checkpoint left by a stopped study
        return train(pair.image, pair.mask, path, self.config.singan_config(), progress=relay, resume=True,
                     device=device, name=stem)

    def ensure_samples(self, stem: str, n: int) -> Path:
        """``samples/<stem>/`` with at least ``n`` samples (indices 0..n-1), generated or extended."""
        from ..sampling.manifest import read_manifest
        from ..sampling.writer import write_samples

        folder = self.dir / "samples" / stem
        have = read_manifest(folder)
        have = have[have["index"] < n] if len(have) else have
        if len(have) >= n:
            return folder
        if self.config.synthetic_source == "patchnn":
            return self.ensure_baseline_samples(stem, folder, have, n)
        model = self.ensure_model(stem)
        if self.config.synthetic_source == "guided":
            return self.ensure_guided_samples(model, stem, folder, have, n)
        self.emit("samples", f"{self.run_label()}: generating {n} samples of {stem}", stem=stem)
        done_idx = set(int(i) for i in have["index"]) if len(have) else set()
        start = min(i for i in range(n) if i not in done_idx)
        write_samples(model, folder, n - start, gen_start_scale=self.config.gen_start_scale,
                      seed=self.config.sample_seed, start_index=start)
        return folder

    def ensure_baseline_samples(self, stem: str, folder: Path, have: pd.DataFrame, n: int) -> Path:
        """``samples/<stem>/`` of the patch nearest-neighbour baseline (no model to train): at least ``n``."""
        from ..baselines import PatchNN, PatchNNConfig, write_baseline_samples
        from ..device import resolve_device
        from ..model.config import model_name_from

        sc = self.config.singan_config()
        pair = self.pairs[stem]
        gen = PatchNN.from_files(pair.image, pair.mask, PatchNNConfig(min_size=sc.min_size, max_size=sc.max_size,
                                                                      scale_factor=sc.scale_factor),
                                 device=resolve_device(self.config.device))
        self.emit("samples", f"{self.run_label()}: generating {n} patch-NN samples of {stem}", stem=stem)
        done_idx = set(int(i) for i in have["index"]) if len(have) else set()
        start = min(i for i in range(n) if i not in done_idx)
        write_baseline_samples(gen, folder, n - start, seed=self.config.sample_seed, name=model_name_from(stem),
                               start_index=start, source_path=str(pair.image))
        return folder

    def ensure_guided_samples(self, model, stem: str, folder: Path, have: pd.DataFrame, n: int) -> Path:  # noqa: ANN001
        """``samples/<stem>/`` of guided samples of ``stem``'s model, each asked for a layout of
        :func:`.layouts.plan_layouts` (another image of the fold, moved): at least ``n``."""
        from ..sampling.guided_writer import write_layout_samples
        from .layouts import layout_requests

        done_idx = set(int(i) for i in have["index"]) if len(have) else set()
        todo = [i for i in range(n) if i not in done_idx]
        self.emit("samples", f"{self.run_label()}: generating {len(todo)} guided samples of {stem}", stem=stem)
        requests = layout_requests(model, stem, self.folds, todo, self.config.sample_seed,
                                   {s: p.mask for s, p in self.pairs.items()}, self.config.inject_scale)
        write_layout_samples(model, folder, requests)
        return folder

    def ensure_variant(self, stem: str, n: int, variant: str) -> Path:
        """Folder with ``n`` samples of ``stem`` in ``variant`` (raw or style-transferred)."""
        raw = self.ensure_samples(stem, n)
        ratio = parse_variant(variant)
        if ratio is None:
            return raw
        from ..style.config import StyleTransferConfig
        from ..style.folder import style_transfer_samples

        out = self.dir / f"samples-{slug(variant)}" / stem
        if _manifest_count(out, n) >= n and _manifest_count(raw, n) >= n:
            return out
        self.emit("style", f"{self.run_label()}: style transfer {variant} of {stem}", stem=stem)
        cfg = StyleTransferConfig.from_ratio(ratio, steps=self.config.st_steps, size=self.config.st_size,
                                             seed=self.config.sample_seed)
        device = None if self.config.device == "auto" else self.config.device
        style_transfer_samples(raw, out, cfg, random_features=self.config.st_random_features, device=device)
        return out

    def synthetic_pairs(self, run: RunSpec) -> list[Pair]:
        """The first ``N`` samples (by index) of every training image's model, in ``run.variant``."""
        out: list[Pair] = []
        if any(_manifest_count(self.dir / "samples" / stem, run.N) < run.N for stem in run.train_stems):
            self.prep_share = PREP_SHARE  # models or samples to make: half of this run's progress bar
        for i, stem in enumerate(run.train_stems):
            self.slot = (i, len(run.train_stems))
            folder = self.ensure_variant(stem, run.N, run.variant)
            self.inner = self.prep_share * (i + 1) / len(run.train_stems)
            df = pd.read_csv(folder / "manifest.csv")
            df = df[df["index"] < run.N].sort_values("index")
            if len(df) < run.N:
                raise InputError(f"{folder}: expected {run.N} samples of {stem}, found {len(df)}")
            out += [Pair(folder / i, folder / m, Path(i).stem) for i, m in zip(df["image"], df["mask"])]
        return out

    # -- one run ------------------------------------------------------------------------------

    def run_one(self, run: RunSpec) -> None:
        train: list[Pair] = []
        self.inner, self.prep_share = 0.0, 0.0   # synthetic_pairs raises prep_share when it has work to do
        if run.train_data in ("real", "mixed"):
            train += [self.pairs[s] for s in run.train_stems]
        if run.train_data in ("synthetic", "mixed"):
            train += self.synthetic_pairs(run)
        val = [self.pairs[s] for s in run.val_stems]
        seg = replace(self.config.seg, device=self.config.device, seed=run.seed)
        self.emit("train", f"{self.run_label()} ({run.run_id}): UNet++ on {len(train)} training pairs, "
                           f"{len(val)} validation", run.run_id)

        def relay(ev):
            if self.progress is not None:
                msg = f"{self.run_label()} ({run.run_id}): UNet++ epoch {ev.epoch}/{ev.epochs}"
                self.inner = self.prep_share + (1.0 - self.prep_share) * ev.fraction
                return self.progress(StudyProgress("train", msg, self.done, self.total, run.run_id, None, ev,
                                                   self.inner))
            return None

        with atomic_directory(self.dir / "runs" / run.run_id) as tmp:
            result = train_segmentation(train, val, seg, out_dir=tmp if self.config.keep_models else None,
                                        progress=relay)
            atomic_write_text(tmp / "history.csv", result.history.to_csv(index=False))
            files = pd.DataFrame({"image": [str(p.image) for p in train], "mask": [str(p.mask) for p in train]})
            atomic_write_text(tmp / "train_files.csv", files.to_csv(index=False))
            atomic_write_json(tmp / "run.json", {"spec": {**asdict(run), "train_set": run.train_set},
                                                 "seg": seg.to_dict(), "model_info": _plain(result.model.info)})
            row = {
                "run_id": run.run_id, "kind": self.config.kind, "train_set": run.train_set,
                "train_data": run.train_data, "variant": run.variant, "fold": run.fold, "R": run.R, "N": run.N,
                "seed": run.seed,
                "n_train": len(train), "n_val": len(val), **result.metrics, "best_epoch": result.best_epoch,
                "epochs": seg.epochs, "encoder": seg.encoder_name, "image_size": seg.image_size,
                "train_seconds": round(result.seconds, 3),
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            atomic_write_json(tmp / RESULT_FILE, _plain(row))  # written last: its presence = run finished


def _manifest_count(folder: Path, n: int) -> int:
    df = read_manifest(folder)
    return int((df["index"] < n).sum()) if "index" in df and len(df) else 0


def _plain(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def rerun_differences(study_dir: Path, config: StudyConfig) -> list[str]:
    """The settings (``StudyConfig`` field names) in which ``config`` differs from the study already in
    ``study_dir``; empty when it may be continued (or there is none yet)."""
    path = study_dir / STUDY_FILE
    if not path.is_file():
        return []
    old = read_json(path)
    new = config.to_dict()
    defaults = StudyConfig(kind=config.kind, data_dir=config.data_dir).to_dict()
    for key in set(new) - set(old):  # a setting added after the folder was made: it had the default then
        old[key] = defaults[key]
    diffs = []
    for key in sorted(set(old) | set(new)):
        if key in RERUN_FREE_FIELDS:
            continue
        a, b = old.get(key), new.get(key)
        if key == "seg":
            a = {k: v for k, v in (a or {}).items() if k != "device"}
            b = {k: v for k, v in (b or {}).items() if k != "device"}
        if a != b:
            diffs.append(key)
    return diffs


def check_rerun(study_dir: Path, config: StudyConfig) -> None:
    """Refuse (``InputError`` naming the fields) to continue the study in ``study_dir`` with other settings."""
    diffs = rerun_differences(study_dir, config)
    if diffs:
        raise InputError(f"{study_dir} was started with other settings ({', '.join(diffs)}); "
                         "use a new study folder or --overwrite")


def _check_deletable(d: Path, config: StudyConfig) -> None:
    """Refuse to delete anything but a study folder of ours that is unrelated to the data folder."""
    data, here = Path(config.data_dir).resolve(), d.resolve()
    if here == data or here in data.parents or data in here.parents:
        raise InputError(f"{d}: the study folder would overlap the data folder {config.data_dir}; "
                         "choose another --out (nothing was deleted)")
    if d.is_symlink() or not d.is_dir() or (any(d.iterdir()) and not (d / STUDY_FILE).is_file()):
        raise InputError(f"{d} is not a study folder (no {STUDY_FILE}); --overwrite only replaces study folders "
                         "(nothing was deleted)")


def run_study(
    config: StudyConfig,
    study_dir: str | os.PathLike,
    progress: StudyProgressFn | None = None,
    overwrite: bool = False,
) -> StudyResult:
    """Run (or resume) a study in ``study_dir``; finished runs are skipped. Returns the loaded result.

    ``progress`` receives :class:`StudyProgress` events; returning ``False`` cancels (raises ``Cancelled``;
    the finished runs, models and samples stay, and a rerun continues from there).
    ``overwrite`` deletes an existing study folder first, after everything else was checked, and only a
    folder this project made (it holds ``study.json``) that neither is nor contains the data.
    """
    d = Path(study_dir)
    study = _Study(config, d, progress)   # reads and checks the data first
    runs = plan_runs(config, study.folds)
    if overwrite and d.exists():
        _check_deletable(d, config)
        shutil.rmtree(d)
    check_rerun(d, config)
    study = _Study(config, d, progress)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_json(d / STUDY_FILE, config.to_dict())
    atomic_write_json(d / "folds.json", {"seed": config.fold_seed, "folds": study.folds})
    study.total = len(runs)
    t0 = time.perf_counter()
    for run in runs:
        if (d / "runs" / run.run_id / RESULT_FILE).is_file():
            study.done += 1
            study.emit("skip", f"{run.run_id} already finished", run.run_id)
            continue
        study.run_one(run)
        study.done += 1
        study.inner = 0.0
        write_results(d)
        study.emit("run-done", f"{run.run_id} finished", run.run_id)
    result = write_results(d)
    study.emit("done", f"study finished in {time.perf_counter() - t0:.0f} s")
    return result


__all__ = ["StudyProgress", "run_study"]
