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
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .errors import Cancelled, InputError
from .io_utils import atomic_directory, atomic_write_json, atomic_write_text
from .segmentation import METRIC_NAMES, Pair, SegConfig, real_pairs, train_segmentation

KINDS = ("small-data", "real-vs-synthetic")
STUDY_FILE = "study.json"
RESULT_FILE = "result.json"
# Fields that may change between reruns of one study folder (they only add or remove runs, or are
# about where/how things run); every other field must match what the folder was started with.
RERUN_FREE_FIELDS = {"r_values", "n_values", "folds", "variants", "include_real", "include_mixed",
                     "checkpoints_dir", "device", "keep_models", "st_random_features"}


@dataclass
class StudyConfig:
    """Everything that defines a study. Sizes in pixels, counts in images.

    ``variants``: synthetic data variants, ``"raw"`` (SinGAN output) and/or ``"st-C:S"`` (style transfer
    with content:style weights C:S, e.g. ``"st-1:1000"`` as the paper's Table 2).
    ``singan_preset`` + ``singan_overrides`` build the engine's :class:`TrainConfig`.
    ``max_images``: use only this many real images (a seeded choice), for quick demos.
    ``folds`` (real-vs-synthetic): 1-based validation folds to run, ``None`` = all.
    """

    kind: str
    data_dir: str
    n_folds: int = 3
    fold_seed: int = 0
    max_images: int | None = None
    # small-data
    r_values: list[int] = field(default_factory=lambda: [5, 10, 15, 20, 25, 30, 50])
    samples_per_image: int = 10
    include_real: bool = True
    include_mixed: bool = True
    # real-vs-synthetic
    n_values: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    folds: list[int] | None = None
    # synthetic data
    variants: list[str] = field(default_factory=lambda: ["raw"])
    gen_start_scale: int = 0
    sample_seed: int = 0
    singan_preset: str = "paper"
    singan_overrides: dict[str, Any] = field(default_factory=dict)
    checkpoints_dir: str | None = None
    st_steps: int = 1000
    st_size: int | None = None
    st_random_features: bool = False
    # segmentation
    seg: SegConfig = field(default_factory=SegConfig)
    keep_models: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.seg, dict):
            self.seg = SegConfig.from_dict(self.seg)
        if self.kind not in KINDS:
            raise InputError(f"unknown study kind {self.kind!r} (choose from {', '.join(KINDS)})")
        if self.n_folds < 2:
            raise InputError(f"n_folds must be at least 2, got {self.n_folds}")
        for v in self.variants:
            parse_variant(v)
        if not self.variants:
            raise InputError("variants must name at least one of 'raw', 'st-1:1000', ...")

    @classmethod
    def from_preset(cls, kind: str, preset: str, data_dir: str | os.PathLike, **overrides: Any) -> "StudyConfig":
        """``paper`` (the paper's protocol; GPU) or ``demo`` (a few minutes on 2 CPU cores)."""
        if (kind, preset) not in STUDY_PRESETS:
            raise InputError(f"unknown preset {preset!r} for {kind} (choose from paper, demo)")
        base = dict(STUDY_PRESETS[(kind, preset)])
        seg_over = overrides.pop("seg_overrides", {}) or {}
        base["seg"] = SegConfig.from_preset(base.pop("seg_preset"), **{**base.pop("seg_extra", {}), **seg_over})
        return cls(kind=kind, data_dir=str(data_dir), **{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seg"] = self.seg.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StudyConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def singan_config(self):
        from .config import TrainConfig

        return TrainConfig.from_preset(self.singan_preset, **self.singan_overrides)


STUDY_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("small-data", "paper"): dict(
        r_values=[5, 10, 15, 20, 25, 30, 50], samples_per_image=10, variants=["raw", "st-1:1000"],
        singan_preset="paper", seg_preset="paper", seg_extra=dict(epochs=100)),
    ("real-vs-synthetic", "paper"): dict(
        n_values=[1, 2, 3, 4, 5], variants=["raw", "st-1:1", "st-1:1000"],
        singan_preset="paper", seg_preset="paper", seg_extra=dict(epochs=300)),
    # ~2-4 minutes on 2 CPU cores: 4 tiny SinGANs (40 px, 60 iterations/scale), 6 UNet++ runs at 64 px.
    ("small-data", "demo"): dict(
        r_values=[2, 4], samples_per_image=4, variants=["raw"],
        singan_preset="quick", singan_overrides=dict(max_size=40, niter=60),
        seg_preset="demo", seg_extra=dict(epochs=4)),
    # 9 images (3 per fold), 9 tiny SinGANs, 3 folds x (REAL, FAKE-1, FAKE-2).
    ("real-vs-synthetic", "demo"): dict(
        max_images=9, n_values=[1, 2], variants=["raw"],
        singan_preset="quick", singan_overrides=dict(max_size=40, niter=60),
        seg_preset="demo", seg_extra=dict(epochs=4)),
}


def parse_variant(variant: str) -> str | None:
    """``"raw"`` -> None; ``"st-1:1000"`` -> ``"1:1000"`` (the style-transfer ratio)."""
    if variant == "raw":
        return None
    if variant.startswith("st-") and ":" in variant:
        from .style_transfer import parse_ratio

        parse_ratio(variant[3:])
        return variant[3:]
    raise InputError(f"unknown synthetic variant {variant!r}: use 'raw' or 'st-C:S' such as 'st-1:1000'")


# --------------------------------------------------------------------------------------------
# Folds


def split_folds(stems: Sequence[str], n_folds: int = 3, seed: int = 0) -> list[list[str]]:
    """Seeded split of image ids into ``n_folds`` disjoint folds of (nearly) equal size.

    The ids are sorted first, so the split depends only on the set of ids and the seed. Within a fold
    the ids keep the shuffled order: the small-data study takes the first R of fold one, so its real
    sets are nested (R=5 is part of R=10).
    """
    ids = sorted(set(stems))
    if len(ids) != len(stems):
        raise InputError("image ids must be unique to split them into folds")
    if len(ids) < n_folds:
        raise InputError(f"{len(ids)} images cannot be split into {n_folds} folds")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [[ids[i] for i in order[f::n_folds]] for f in range(n_folds)]


# --------------------------------------------------------------------------------------------
# Runs


@dataclass(frozen=True)
class RunSpec:
    """One UNet++ training run of a study.

    ``train_data``: "real", "synthetic" or "mixed"; ``variant``: "" for real, else "raw"/"st-C:S".
    ``fold``: the validation fold (1-based; small-data always validates on 2..k and records 1, the
    fold it draws from). ``R``: real images used; ``N``: synthetic samples per real image (0 for real).
    ``train_stems``: the real images whose data (the image itself or its model's samples) is trained on.
    """

    run_id: str
    train_data: str
    variant: str
    fold: int
    R: int
    N: int
    train_stems: tuple[str, ...]
    val_stems: tuple[str, ...]

    @property
    def train_set(self) -> str:
        """Paper-style name: REAL / FAKE-N (real-vs-synthetic) or real / synthetic / mixed."""
        if self.run_id.startswith("fold"):
            return "REAL" if self.train_data == "real" else f"FAKE-{self.N}"
        return self.train_data


def plan_runs(config: StudyConfig, folds: list[list[str]]) -> list[RunSpec]:
    """Every run a study consists of, in the order they are trained (cheap real runs first per group)."""
    runs: list[RunSpec] = []
    if config.kind == "small-data":
        pool, val = folds[0], tuple(s for f in folds[1:] for s in f)
        for r in config.r_values:
            if not 1 <= r <= len(pool):
                raise InputError(f"R={r} real images requested but fold one has {len(pool)} "
                                 f"(data {config.data_dir}, {config.n_folds} folds)")
            stems = tuple(pool[:r])
            k = config.samples_per_image
            if config.include_real:
                runs.append(RunSpec(f"R{r:03d}-real", "real", "", 1, r, 0, stems, val))
            for v in config.variants:
                runs.append(RunSpec(f"R{r:03d}-synthetic-{_slug(v)}", "synthetic", v, 1, r, k, stems, val))
                if config.include_mixed:
                    runs.append(RunSpec(f"R{r:03d}-mixed-{_slug(v)}", "mixed", v, 1, r, k, stems, val))
    else:
        chosen = config.folds or list(range(1, config.n_folds + 1))
        for f in chosen:
            if not 1 <= f <= config.n_folds:
                raise InputError(f"fold {f} does not exist (1..{config.n_folds})")
            val = tuple(folds[f - 1])
            train = tuple(s for i, fold in enumerate(folds, start=1) if i != f for s in fold)
            if config.include_real:
                runs.append(RunSpec(f"fold{f}-REAL", "real", "", f, len(train), 0, train, val))
            for n in config.n_values:
                for v in config.variants:
                    runs.append(RunSpec(f"fold{f}-FAKE-{n}-{_slug(v)}", "synthetic", v, f, len(train), n, train, val))
    return runs


def _slug(variant: str) -> str:
    return variant.replace(":", "x")


# --------------------------------------------------------------------------------------------
# Progress


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


StudyProgressFn = Callable[[StudyProgress], Any]


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class StudyResult:
    """A study folder as loaded: ``table`` (one row per finished run), ``summary`` (Table 1 / Table 2
    layout), ``pending`` (run ids of the config not finished yet)."""

    dir: Path
    config: StudyConfig
    table: pd.DataFrame
    summary: pd.DataFrame
    pending: list[str]

    @property
    def complete(self) -> bool:
        return not self.pending

    def figure(self, metric: str = "iou"):
        """The study's plotly figure (IoU vs R, or bars per training set)."""
        from . import plots

        if self.config.kind == "small-data":
            return plots.small_data_figure(self.table, metric)
        return plots.real_vs_synthetic_figure(self.summary, metric)


TABLE_COLUMNS = ["run_id", "kind", "train_set", "train_data", "variant", "fold", "R", "N", "n_train", "n_val",
                 *METRIC_NAMES, "best_epoch", "epochs", "encoder", "image_size", "train_seconds", "finished_at"]


def summarize_table(kind: str, table: pd.DataFrame) -> pd.DataFrame:
    """Small-data: one row per (R, train_set, variant) with S = synthetic pairs; real-vs-synthetic: mean
    and std over folds per (train_set, variant) with the number of folds done."""
    if table.empty:
        return pd.DataFrame()
    if kind == "small-data":
        cols = ["R", "train_data", "variant", "n_train", *METRIC_NAMES]
        return table[cols].sort_values(["R", "train_data", "variant"]).reset_index(drop=True)
    agg = {f"{m}_{s}": (m, s) for m in METRIC_NAMES for s in ("mean", "std")}
    out = table.groupby(["train_set", "variant"], sort=False).agg(folds=("fold", "count"), **agg).reset_index()
    out["_order"] = out["train_set"].map(lambda s: -1 if s == "REAL" else int(s.split("-")[1]))
    return out.sort_values(["_order", "variant"]).drop(columns="_order").reset_index(drop=True)


def load_study(study_dir: str | os.PathLike) -> StudyResult:
    """Load a study folder (finished runs only; works while the study is still running)."""
    d = Path(study_dir)
    if not (d / STUDY_FILE).is_file():
        raise InputError(f"{d}: not a study folder (no {STUDY_FILE})")
    config = StudyConfig.from_dict(json.loads((d / STUDY_FILE).read_text()))
    rows = []
    for result in sorted((d / "runs").glob(f"*/{RESULT_FILE}")):
        rows.append(json.loads(result.read_text()))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS) if rows else pd.DataFrame(columns=TABLE_COLUMNS)
    try:
        folds = json.loads((d / "folds.json").read_text())["folds"]
        expected = [r.run_id for r in plan_runs(config, folds)]
    except (OSError, KeyError, ValueError, InputError):
        expected = []
    done = set(table["run_id"])
    return StudyResult(d, config, table, summarize_table(config.kind, table), [r for r in expected if r not in done])


def list_studies(workspace: str | os.PathLike) -> pd.DataFrame:
    """Studies found in ``workspace`` (any depth up to 3): columns ``path, name, kind, runs_done,
    runs_pending, updated`` (UTC time of the newest finished run or of study.json)."""
    root = Path(workspace)
    rows = []
    if root.is_dir():
        candidates = [p for depth in ("*/", "*/*/", "*/*/*/") for p in root.glob(depth + STUDY_FILE)]
        if (root / STUDY_FILE).is_file():
            candidates.append(root / STUDY_FILE)
        for f in sorted(set(candidates)):
            try:
                res = load_study(f.parent)
            except (InputError, ValueError, TypeError, KeyError):
                continue
            mtimes = [p.stat().st_mtime for p in (f.parent / "runs").glob(f"*/{RESULT_FILE}")] + [f.stat().st_mtime]
            rows.append({"path": str(f.parent), "name": f.parent.name, "kind": res.config.kind,
                         "runs_done": len(res.table), "runs_pending": len(res.pending),
                         "updated": datetime.fromtimestamp(max(mtimes), timezone.utc)})
    return pd.DataFrame(rows, columns=["path", "name", "kind", "runs_done", "runs_pending", "updated"])


def write_results(study_dir: str | os.PathLike) -> StudyResult:
    """Rebuild ``results.csv``/``results.parquet``/``summary.csv`` and ``figure.html`` from the finished runs."""
    from . import plots

    res = load_study(study_dir)
    d = res.dir
    atomic_write_text(d / "results.csv", res.table.to_csv(index=False))
    atomic_write_text(d / "summary.csv", res.summary.to_csv(index=False))
    try:
        import io

        buf = io.BytesIO()
        res.table.to_parquet(buf, index=False)
        from .io_utils import atomic_write_bytes

        atomic_write_bytes(d / "results.parquet", buf.getvalue())
    except ImportError:  # pyarrow missing: the CSV is the results table
        pass
    if not res.table.empty:
        plots.write_html(res.figure(), d / "figure.html")
    return res


# --------------------------------------------------------------------------------------------
# Running


class _Study:
    """State of one ``run_study`` call (paths, pairs, progress)."""

    def __init__(self, config: StudyConfig, study_dir: Path, progress: StudyProgressFn | None) -> None:
        self.config = config
        self.dir = study_dir
        self.progress = progress
        self.done = 0
        self.total = 0
        pairs = real_pairs(config.data_dir)
        self.pairs: dict[str, Pair] = {p.name: p for p in pairs}
        stems = sorted(self.pairs)
        if config.max_images is not None and config.max_images < len(stems):
            pick = np.random.default_rng(config.fold_seed).choice(len(stems), config.max_images, replace=False)
            stems = sorted(stems[i] for i in pick)
        self.folds = split_folds(stems, config.n_folds, config.fold_seed)

    def emit(self, stage: str, message: str, run_id: str | None = None, stem: str | None = None, detail: Any = None) -> None:
        if self.progress is not None:
            ev = StudyProgress(stage, message, self.done, self.total, run_id, stem, detail)
            if self.progress(ev) is False:
                raise Cancelled(f"study {self.dir} cancelled ({message})")

    # -- synthetic data ---------------------------------------------------------------------

    def model_dir(self, stem: str) -> Path:
        if self.config.checkpoints_dir:
            given = Path(self.config.checkpoints_dir) / stem
            if _is_finished(given):
                return given
        return self.dir / "models" / stem

    def ensure_model(self, stem: str):
        from .model import SinGANSeg
        from .training import train

        from .segmentation import resolve_device

        device = resolve_device(self.config.device)
        path = self.model_dir(stem)
        if _is_finished(path):
            return SinGANSeg.from_pretrained(path, device=device)
        pair = self.pairs[stem]
        self.emit("model", f"training SinGAN-Seg for {stem}", stem=stem)

        def relay(ev):
            if self.progress is not None:
                return self.progress(StudyProgress("model", f"SinGAN-Seg {stem}: scale {ev.scale + 1}/{ev.num_scales}",
                                                   self.done, self.total, None, stem, ev))
            return None

        # resume=True continues a partial checkpoint left by a stopped study
        return train(pair.image, pair.mask, path, self.config.singan_config(), progress=relay, resume=True,
                     device=device, name=stem)

    def ensure_samples(self, stem: str, n: int) -> Path:
        """``samples/<stem>/`` with at least ``n`` samples (indices 0..n-1), generated or extended."""
        from .sampling import read_manifest, write_samples

        folder = self.dir / "samples" / stem
        have = read_manifest(folder)
        have = have[have["index"] < n] if len(have) else have
        if len(have) >= n:
            return folder
        model = self.ensure_model(stem)
        self.emit("samples", f"generating {n} samples of {stem}", stem=stem)
        done_idx = set(int(i) for i in have["index"]) if len(have) else set()
        start = min(i for i in range(n) if i not in done_idx)
        write_samples(model, folder, n - start, gen_start_scale=self.config.gen_start_scale,
                      seed=self.config.sample_seed, start_index=start)
        return folder

    def ensure_variant(self, stem: str, n: int, variant: str) -> Path:
        """Folder with ``n`` samples of ``stem`` in ``variant`` (raw or style-transferred)."""
        raw = self.ensure_samples(stem, n)
        ratio = parse_variant(variant)
        if ratio is None:
            return raw
        from .style_transfer import StyleTransferConfig, style_transfer_samples

        out = self.dir / f"samples-{_slug(variant)}" / stem
        if _manifest_count(out, n) >= n and _manifest_count(raw, n) >= n:
            return out
        self.emit("style", f"style transfer {variant} of {stem}", stem=stem)
        cfg = StyleTransferConfig.from_ratio(ratio, steps=self.config.st_steps, size=self.config.st_size,
                                             seed=self.config.sample_seed)
        device = None if self.config.device == "auto" else self.config.device
        style_transfer_samples(raw, out, cfg, random_features=self.config.st_random_features, device=device)
        return out

    def synthetic_pairs(self, run: RunSpec) -> list[Pair]:
        """The first ``N`` samples (by index) of every training image's model, in ``run.variant``."""
        out: list[Pair] = []
        for stem in run.train_stems:
            folder = self.ensure_variant(stem, run.N, run.variant)
            df = pd.read_csv(folder / "manifest.csv")
            df = df[df["index"] < run.N].sort_values("index")
            if len(df) < run.N:
                raise InputError(f"{folder}: expected {run.N} samples of {stem}, found {len(df)}")
            out += [Pair(folder / i, folder / m, Path(i).stem) for i, m in zip(df["image"], df["mask"])]
        return out

    # -- one run ------------------------------------------------------------------------------

    def run_one(self, run: RunSpec) -> None:
        train: list[Pair] = []
        if run.train_data in ("real", "mixed"):
            train += [self.pairs[s] for s in run.train_stems]
        if run.train_data in ("synthetic", "mixed"):
            train += self.synthetic_pairs(run)
        val = [self.pairs[s] for s in run.val_stems]
        seg = replace(self.config.seg, device=self.config.device)
        self.emit("train", f"UNet++ {run.run_id}: {len(train)} training pairs, {len(val)} validation", run.run_id)

        def relay(ev):
            if self.progress is not None:
                msg = f"UNet++ {run.run_id}: epoch {ev.epoch}/{ev.epochs}"
                return self.progress(StudyProgress("train", msg, self.done, self.total, run.run_id, None, ev))
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
                "n_train": len(train), "n_val": len(val), **result.metrics, "best_epoch": result.best_epoch,
                "epochs": seg.epochs, "encoder": seg.encoder_name, "image_size": seg.image_size,
                "train_seconds": round(result.seconds, 3),
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            atomic_write_json(tmp / RESULT_FILE, _plain(row))  # written last: its presence = run finished


def _is_finished(path: Path) -> bool:
    try:
        from .checkpoint import is_finished_checkpoint
    except ImportError:  # older layout of the engine
        from .training import is_finished_checkpoint
    return is_finished_checkpoint(path)


def _manifest_count(folder: Path, n: int) -> int:
    f = folder / "manifest.csv"
    if not f.is_file():
        return 0
    df = pd.read_csv(f)
    return int((df["index"] < n).sum()) if "index" in df else 0


def _plain(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _check_rerun(study_dir: Path, config: StudyConfig) -> None:
    path = study_dir / STUDY_FILE
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    new = config.to_dict()
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
    if diffs:
        raise InputError(f"{study_dir} was started with other settings ({', '.join(diffs)}); "
                         "use a new study folder or --overwrite")


def run_study(
    config: StudyConfig,
    study_dir: str | os.PathLike,
    progress: StudyProgressFn | None = None,
    overwrite: bool = False,
) -> StudyResult:
    """Run (or resume) a study in ``study_dir``; finished runs are skipped. Returns the loaded result.

    ``progress`` receives :class:`StudyProgress` events; returning ``False`` cancels (raises ``Cancelled``;
    the finished runs, models and samples stay, and a rerun continues from there).
    ``overwrite`` deletes an existing study folder first.
    """
    d = Path(study_dir)
    if overwrite and d.exists():
        shutil.rmtree(d)
    _check_rerun(d, config)
    study = _Study(config, d, progress)
    runs = plan_runs(config, study.folds)
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
        write_results(d)
        study.emit("run-done", f"{run.run_id} finished", run.run_id)
    result = write_results(d)
    study.emit("done", f"study finished in {time.perf_counter() - t0:.0f} s")
    return result


__all__ = ["StudyConfig", "STUDY_PRESETS", "RunSpec", "StudyProgress", "StudyResult", "split_folds", "plan_runs",
           "run_study", "load_study", "list_studies", "write_results", "summarize_table", "parse_variant"]
