"""Segmentation-fidelity benchmark: how useful is each source's synthetic data for training a segmenter?

The CPU-scale version of the paper's small-data study (Table 2, R = 5):

1. a seeded split of ``../shared/data/polyps_study`` into 5 training pairs and a validation set (≥ 100 pairs);
2. per *source* and training pair, k = 10 synthetic pairs at start scale 0 from a generator made at a given budget
   (``--max-size`` + ``--niter`` iterations per scale, or ``--minutes`` of training per model);
3. UNet++ (segmentation_models_pytorch, resnet18 encoder from scratch, 64 px, Dice loss, Adam 1e-4, a fixed
   number of steps, the best of the validations every ``--eval-every`` steps kept, as the paper keeps the best
   epoch) trained on (a) the 5 real pairs, (b) the 5·k synthetic pairs of a source, (c) both, once per seed;
4. IoU and F-score (micro over pixels, ``segmentation.metrics``) mean ± sample std over the seeds, the share of
   empty synthetic masks, the synthetic vs real true-pixel % distance (Wasserstein-1, ``analysis.stats``), the
   time of every stage and the peak resident memory of every worker.

Sources (each a named *variant*): ``ours`` (this engine, ``TrainConfig`` paper defaults at the budget),
``original`` (the authors' code, PyPI ``singan-seg-polyp==1.0.7``, same budget, same RGBA input, same seeds),
``patchnn`` (``baselines.PatchNN``, nothing to train: its time is generation only; not in the default run, see
``DEFAULT_SOURCES``), ``guided`` (ours, each sample guided to the layout of another training pair's mask, flipped /
shifted / rescaled: ``studies.layouts``, as the studies' ``guided`` source; not in the default run), and any number of
``--variant NAME:key=value[,key=value...]`` (our engine with those ``TrainConfig`` settings changed; e.g.
``--variant fast:precision=bf16`` once such options exist). ``--set key=value`` changes every engine variant.

Every generator task (one source × one training pair) and every UNet++ run runs in its own worker process
(``--jobs`` at a time, ``--threads`` torch threads each; peak RSS = the worker's ru_maxrss) and is cached under
``bench/out/fidelity/`` (gitignored), keyed by everything that defines it, so a rerun (or a run that adds a
variant or a seed) does only what is missing: an interrupted run is resumed by running the same command again.
``--report-only`` writes the report from the cache without running anything (missing runs are listed).
Order: the generators first (patch-NN, then ours and the original alternating pair by pair), each source's UNet++
runs as soon as its generators are done, seed by seed (real, every synthetic set, every mixed set), so a run
stopped early has comparable parts of everything. A rerun waits for a generator that an interrupted run's orphaned
worker is still making instead of starting it twice.

The ± is the spread over the UNet++ seeds; the generators are trained once (``--model-seed``) and sampled once
(``--sample-seed``), so it does not include the generators' own seed-to-seed variation.

The original is imported with shims for what its training and sampling import but never use for the math
(``matplotlib``: its ``imsave`` calls during training are skipped, the samples are captured as arrays and written
with PIL using matplotlib's float → uint8 rule; ``sklearn.cluster.KMeans``). If ``singan_seg_polyp`` is not
importable it is installed by ``bench._original`` into a temporary folder outside the checkout (its code unpickles
with plain ``torch.load``, which this project's own code never does).

Usage::

    python -m bench.bench_fidelity                       # defaults: ours vs original, 64 px, 150 it/scale,
                                                         # 300 UNet++ steps, 3 seeds: ~30-35 min on 2 idle cores
    python -m bench.bench_fidelity --sources ours original patchnn   # + the training-free baseline (~+9 min)
    python -m bench.bench_fidelity --sources ours guided # guided layouts against ours' own samples
    python -m bench.bench_fidelity --quick               # smoke run (tiny sizes, 1 seed), ~2 min
    python -m bench.bench_fidelity --minutes 2           # each source trains for ~2 min per model
    python -m bench.bench_fidelity --variant bf16:precision=bf16    # + an option of ours, judged against ours
    python -m bench.bench_fidelity --report-only         # the report of what is cached

The default run writes ``bench/out/fidelity/results.{md,json}`` and the ``## Fidelity`` section of
``bench/RESULTS.md`` (``--no-write`` skips the latter; ``--quick`` never touches it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
import types
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench._children import child_env
from bench._original import ensure_original
from testkit.shared_data import POLYPS_STUDY as DATA, REPO_ROOT as ROOT

OUT = ROOT / "bench" / "out" / "fidelity"
BUILTIN_SOURCES = ("ours", "original", "patchnn", "guided")
ENGINE_KINDS = ("ours", "guided")   # sources trained by our engine (TrainConfig overrides, --minutes calibration)
# The default run compares the two SinGAN-Seg engines, which keeps it near 30 min on 2 cores; patch-NN (3 s to make
# its samples, but 6 more UNet++ runs, ~9 min) joins with --sources ours original patchnn; --quick runs all three.
DEFAULT_SOURCES = ("ours", "original")
CALIBRATION_ITERS = (2, 8)  # iterations per scale of the two timing runs that turn --minutes into iterations


# --------------------------------------------------------------------------------------------------------------
# Pure pieces (tested in bench/tests/test_bench_fidelity.py)
# --------------------------------------------------------------------------------------------------------------


# The one sampling option a variant may set (the rest are TrainConfig fields): redraw empty-mask samples.
SAMPLING_KEY = "redraw_empty"
# A variant's named preset (``preset=live``; default ``paper`` at ``--max-size``/``--niter``) and its warm start
# (``prior=auto``: a model of the variant's settings at the full ``--niter``, trained on the first pair outside the
# split, starts every model; ``prior=PATH``: that checkpoint).
PRESET_KEY, PRIOR_KEY = "preset", "prior"


@dataclass(frozen=True)
class Variant:
    """A source of synthetic data: ``kind`` "ours" / "original" / "patchnn" / "guided", plus ``TrainConfig``
    overrides (``(key, value)`` pairs, only for the :data:`ENGINE_KINDS`)."""

    name: str
    kind: str
    overrides: tuple[tuple[str, Any], ...] = ()

    def override_dict(self) -> dict[str, Any]:
        return dict(self.overrides)


def replace_override(v: Variant, key: str, value: Any) -> Variant:
    """``v`` with override ``key`` set to ``value`` (removed when ``None``)."""
    over = {k: x for k, x in v.overrides if k != key}
    if value is not None:
        over[key] = value
    return Variant(v.name, v.kind, tuple(sorted(over.items())))


def parse_value(key: str, text: str) -> Any:
    """``text`` as the type of ``TrainConfig.<key>`` (bool: true/false/1/0/yes/no; int; float; str). A key
    ``TrainConfig`` does not have (yet) is read as JSON when it parses, else kept as a string, and left for
    ``TrainConfig.from_preset`` to accept or refuse by name.

    Raises:
        ValueError: naming the key, when the text is not of the setting's type.
    """
    from singanseg_core.training.config import TrainConfig

    text = text.strip()
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    if key in defaults:
        default = defaults[key]
        if isinstance(default, bool):
            low = text.lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError(f"{key}: expected true or false, got {text!r}")
        if isinstance(default, int):
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{key}: expected a whole number, got {text!r}") from None
        if isinstance(default, float):
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{key}: expected a number, got {text!r}") from None
        if default is None or isinstance(default, str):
            if text.lower() in ("none", "null"):
                return None
            if default is None:  # an optional setting (e.g. lr_drop_at): a number when it reads as one
                try:
                    return json.loads(text)
                except ValueError:
                    return text
            return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["precision=bf16", "niter=50"]`` → ``{"precision": "bf16", "niter": 50}`` (typed by :func:`parse_value`).

    Raises:
        ValueError: an item without ``=``, an empty key, or a value of the wrong type.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{item!r}: write key=value, e.g. niter=100")
        out[key] = parse_value(key, value)
    return out


def parse_variant(spec: str, common: dict[str, Any] | None = None) -> Variant:
    """``"ours"`` / ``"original"`` / ``"patchnn"`` → that source; ``"NAME:key=value,key=value"`` → our engine with
    those ``TrainConfig`` overrides. ``common`` (``--set``) applies to every engine variant, the variant's own
    settings winning.

    Raises:
        ValueError: an unknown plain name, a name that is not a plain file-name part, or bad overrides.
    """
    import re

    name, sep, rest = spec.partition(":")
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", name or "-"):
        raise ValueError(f"variant {spec!r}: the name must be letters, digits, '_', '.', '-' (at most 41)")
    if not sep:
        if name not in BUILTIN_SOURCES:
            raise ValueError(f"unknown source {name!r}: use {', '.join(BUILTIN_SOURCES)} or NAME:key=value,...")
        if name not in ENGINE_KINDS:
            return Variant(name, name)
        return Variant(name, name, tuple(sorted((common or {}).items())))
    if name in BUILTIN_SOURCES:
        raise ValueError(f"variant {spec!r}: {name!r} is a built-in source; give the variant a name of its own")
    own = parse_overrides([s for s in rest.split(",") if s.strip()])
    if not own:
        raise ValueError(f"variant {spec!r}: no settings after ':' (write NAME:key=value)")
    return Variant(name, "ours", tuple(sorted({**(common or {}), **own}.items())))


def split_pairs(stems: Sequence[str], n_train: int, n_val: int | None, seed: int) -> tuple[list[str], list[str]]:
    """Seeded split of pair names into ``n_train`` training and ``n_val`` validation names (``None`` = all the
    rest), disjoint; depends only on the set of names and the seed.

    Raises:
        ValueError: duplicate names, or fewer names than asked for.
    """
    ids = sorted(stems)
    if len(set(ids)) != len(ids):
        raise ValueError("pair names must be unique")
    n_val = len(ids) - n_train if n_val is None else n_val
    if n_train < 1 or n_val < 1 or n_train + n_val > len(ids):
        raise ValueError(f"cannot take {n_train} training + {n_val} validation pairs from {len(ids)}")
    order = np.random.default_rng(seed).permutation(len(ids))
    return [ids[i] for i in order[:n_train]], [ids[i] for i in order[n_train:n_train + n_val]]


def empty_share(pcts: Sequence[float]) -> float:
    """Share (0..1) of masks with no true pixel, from their true-pixel percentages; NaN for no masks."""
    v = np.asarray(pcts, dtype=float)
    return float((v == 0.0).mean()) if v.size else float("nan")


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0.0 for one value, NaN for none)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def digest(obj: Any, n: int = 10) -> str:
    """Short stable hash of a JSON-able object (cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def niter_for_minutes(minutes: float, scales: int, seconds_per_iteration: float, fixed_s: float = 0.0) -> int:
    """Iterations per scale that fill ``minutes`` of training (``fixed_s`` of it set-up, the rest at
    ``seconds_per_iteration`` per scale-iteration); at least 1."""
    return max(1, int((minutes * 60.0 - max(fixed_s, 0.0)) / (scales * seconds_per_iteration)))


def timing_from_two_runs(n_a: int, t_a: float, n_b: int, t_b: float, scales: int) -> tuple[float, float]:
    """``(seconds per scale-iteration, fixed seconds)`` from two training runs of ``n_a < n_b`` iterations per
    scale that took ``t_a`` and ``t_b`` seconds: the difference removes set-up and checkpoint writing, which
    differ between implementations. A non-positive difference (timing noise on a busy machine) falls back to
    ``t_b / (scales * n_b)`` with no fixed part."""
    per = (t_b - t_a) / (scales * (n_b - n_a))
    if per <= 0:
        return t_b / (scales * n_b), 0.0
    return per, max(0.0, t_a - scales * n_a * per)


# --------------------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Settings:
    """One benchmark run. Sizes in pixels; ``niter`` iterations per scale; ``minutes`` per generator model."""

    data: str = str(DATA)
    out: str = str(OUT)
    n_train: int = 5
    n_val: int = 100
    split_seed: int = 0
    max_size: int = 64
    niter: int = 150
    minutes: float | None = None
    k: int = 10
    model_seed: int = 0
    model_seeds: list[int] | None = None   # generator seeds; several: seed i's data is trained with UNet++ seed i
    sample_seed: int = 0
    seg_steps: int = 300
    eval_every: int = 30
    seg_size: int = 64
    seg_batch: int = 8
    encoder: str = "resnet18"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    jobs: int = 2
    threads: int = 1
    device: str = "cpu"
    variants: list[Variant] = field(default_factory=list)
    variant_sets: str = "both"   # "synthetic": --variant sources get no mixed run; "synthetic-all": no source does
    quick: bool = False

    def sets_of(self, v: Variant) -> tuple[str, ...]:
        """The UNet++ training sets of source ``v``: synthetic and mixed, or synthetic only for a ``--variant``
        source when ``variant_sets`` is "synthetic" (every source: "synthetic-all")."""
        if self.variant_sets == "synthetic-all":
            return ("synthetic",)
        if v.name in BUILTIN_SOURCES or self.variant_sets == "both":
            return ("synthetic", "mixed")
        return ("synthetic",)

    def gen_seeds(self) -> list[int]:
        """The generator seeds: ``model_seeds``, or just ``model_seed``."""
        return list(self.model_seeds) if self.model_seeds else [self.model_seed]

    def seg_seeds_for(self, j: int) -> list[int]:
        """The UNet++ seeds trained on the data of generator seed number ``j``: all of ``seeds`` for one generator
        seed; ``seeds[j]`` for several (generator seed i with UNet++ seed i, so the ± covers both)."""
        return list(self.seeds) if len(self.gen_seeds()) == 1 else [self.seeds[j]]

    def seg_key(self) -> dict[str, Any]:
        return {"steps": self.seg_steps, "eval_every": self.eval_every, "size": self.seg_size,
                "batch": self.seg_batch, "encoder": self.encoder, "device": self.device}


QUICK = dict(n_train=2, n_val=8, max_size=32, niter=10, k=3, seg_steps=20, eval_every=10, seg_size=32,
             seg_batch=4, seeds=[0])


# --------------------------------------------------------------------------------------------------------------
# Workers (each task in its own process)
# --------------------------------------------------------------------------------------------------------------


def _finish(result: dict, dest: Path) -> dict:
    from singanseg_core.files.atomic import atomic_write_json

    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    atomic_write_json(dest, result)
    return result


def _sample_rows(folder: Path) -> list[float]:
    from singanseg_core.sampling.manifest import read_manifest

    return [float(v) for v in read_manifest(folder).sort_values("index")["true_pixel_pct"]]


def _model_of(task: dict, cfg, tmp: Path):
    """``(model, training seconds)``: the donor's model when the task names one (``donor``: the folder of a finished
    ``ours`` task with the same training settings and seed; its recorded training time is this model's too),
    else a model trained here into ``tmp / "model"``."""
    from singanseg_core.model import SinGANSeg
    from singanseg_core.training import train

    donor = task.get("donor")
    if donor:
        done = json.loads((Path(donor) / "done.json").read_text())
        model = SinGANSeg.from_pretrained(Path(donor) / "model", device=task["device"])
        recorded = model.config.train.get("config") or {}
        if recorded.get("seed") != cfg.seed or recorded.get("niter") != cfg.niter:
            raise RuntimeError(f"donor {donor} was trained with other settings")
        return model, float(done["train_s"])
    t0 = time.perf_counter()
    model = train(task["rgba"], None, tmp / "model", cfg, device=task["device"], name="m")
    return model, time.perf_counter() - t0


def worker_ours(task: dict) -> dict:
    from singanseg_core.files.atomic import atomic_directory
    from singanseg_core.sampling.writer import write_samples
    from singanseg_core.training.config import TrainConfig

    cfg = TrainConfig.from_dict(task["config"]).validated()
    dest = Path(task["dir"])
    with atomic_directory(dest, overwrite=True) as tmp:
        model, t_train = _model_of(task, cfg, tmp)
        if task.get("calibrate"):
            return _finish({"train_s": t_train, "scales": model.num_scales, "niter": cfg.niter}, tmp / "done.json")
        t0 = time.perf_counter()
        write_samples(model, tmp / "samples", task["k"], 0, seed=task["sample_seed"],
                      redraw_empty=task.get(SAMPLING_KEY, 0))
        t_sample = time.perf_counter() - t0
        return _finish({"train_s": t_train, "sample_s": t_sample, "scales": model.num_scales, "niter": cfg.niter,
                        "sizes": model.config.sizes, "pcts": _sample_rows(tmp / "samples")}, tmp / "done.json")


def worker_guided(task: dict) -> dict:
    """Our engine's model of one training pair, its samples guided to the other training pairs' layouts."""
    from singanseg_core.files.atomic import atomic_directory
    from singanseg_core.sampling.guided_writer import write_layout_samples
    from singanseg_core.studies.layouts import layout_requests
    from singanseg_core.training.config import TrainConfig

    cfg = TrainConfig.from_dict(task["config"]).validated()
    with atomic_directory(Path(task["dir"]), overwrite=True) as tmp:
        model, t_train = _model_of(task, cfg, tmp)
        t0 = time.perf_counter()
        requests = layout_requests(model, task["stem"], [task["train"]], range(task["k"]), task["sample_seed"],
                                   task["masks"])
        write_layout_samples(model, tmp / "samples", requests)
        t_sample = time.perf_counter() - t0
        return _finish({"train_s": t_train, "sample_s": t_sample, "scales": model.num_scales, "niter": cfg.niter,
                        "sizes": model.config.sizes, "pcts": _sample_rows(tmp / "samples")}, tmp / "done.json")


def import_original():
    """``singan_seg_polyp``'s training, sampling and argument modules, with shims for ``matplotlib`` (only
    ``pyplot.imsave`` is called by training and sampling: it is routed to :data:`_IMSAVE`) and ``sklearn``
    (imported, never called); installed by :func:`bench._original.ensure_original` if missing."""
    import importlib.machinery

    ensure_original()
    mpl = types.ModuleType("matplotlib")
    pyplot = types.ModuleType("matplotlib.pyplot")
    pyplot.imsave = lambda path, arr, **kw: _IMSAVE(str(path), arr, **kw)
    mpl.pyplot, mpl.use = pyplot, lambda *a, **k: None
    sklearn, cluster = types.ModuleType("sklearn"), types.ModuleType("sklearn.cluster")
    cluster.KMeans, sklearn.cluster = None, cluster
    patches = types.ModuleType("matplotlib.patches")
    for name, mod in (("matplotlib", mpl), ("matplotlib.pyplot", pyplot), ("matplotlib.patches", patches),
                      ("sklearn", sklearn), ("sklearn.cluster", cluster)):
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)  # find_spec() callers see a module, not None
        sys.modules[name] = mod  # the shims stand in even where the real packages are installed: same run either way
    from singan_seg_polyp.SinGAN import functions, manipulate, training
    from singan_seg_polyp.config import get_arguments

    return functions, training, manipulate, get_arguments


def _skip_imsave(path: str, arr, **kw) -> None:  # the original's progress pictures during training
    return None


_IMSAVE = _skip_imsave


def worker_original(task: dict) -> dict:
    import torch

    global _IMSAVE
    from singanseg_core.files.atomic import atomic_directory, save_png
    from singanseg_core.sampling.manifest import MANIFEST_COLUMNS, sample_stem, write_manifest

    functions, training, manipulate, get_arguments = import_original()
    rgba = Path(task["rgba"])
    dest = Path(task["dir"])
    with atomic_directory(dest, overwrite=True) as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # the original writes TrainedModels/... relative to the working directory
        try:
            opt = get_arguments().parse_args(["--not_cuda", "--nc_im", "4", "--nc_z", "4", "--max_size",
                                              str(task["max_size"]), "--niter", str(task["niter"]),
                                              "--manualSeed", str(task["model_seed"])])
            opt.input_dir, opt.input_name, opt.mode = str(rgba.parent), rgba.name, "train"
            opt = functions.post_config(opt)
            opt.out_ = "TrainedModels/x"
            np.random.seed(task["model_seed"])
            real = functions.read_image(opt)
            functions.adjust_scales2image(real, opt)
            Gs, Zs, reals, amps = [], [], [], []
            t0 = time.perf_counter()
            training.train(opt, Gs, Zs, reals, amps)
            t_train = time.perf_counter() - t0
            if task.get("calibrate"):
                return _finish({"train_s": t_train, "scales": len(Gs), "niter": task["niter"]}, tmp / "done.json")
            captured: dict[str, np.ndarray] = {}
            _IMSAVE = lambda path, arr, **kw: captured.__setitem__(os.path.basename(path), np.asarray(arr))  # noqa: E731
            opt.dir2save = str(tmp / "orig")
            opt.checkpoint_id, opt.mask_post_processing, opt.gen_start_scale = "x", True, 0
            torch.manual_seed(task["sample_seed"])
            t0 = time.perf_counter()
            manipulate.SinGAN_generate_clean(Gs, Zs, reals, amps, opt, gen_start_scale=0, num_samples=task["k"])
            t_sample = time.perf_counter() - t0
        finally:
            os.chdir(cwd)
            _IMSAVE = _skip_imsave
        out = tmp / "samples"
        out.mkdir()
        rows = []
        for i in range(task["k"]):
            img = captured[f"chk_id_x_gen_scale_0_{i}_img.png"]
            img = (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)  # matplotlib's float RGB -> uint8 (truncation)
            mask = np.where(captured[f"chk_id_x_gen_scale_0_{i}_mask.png"][..., 0] >= 128, 255, 0).astype(np.uint8)
            stem = sample_stem("original", 0, i)
            save_png(out / f"{stem}_img.png", img)
            save_png(out / f"{stem}_mask.png", mask)
            rows.append({"checkpoint": "original", "checkpoint_path": "", "seed": task["sample_seed"],
                         "gen_start_scale": 0, "index": i, "image": f"{stem}_img.png", "mask": f"{stem}_mask.png",
                         "true_pixel_pct": round(float((mask > 0).mean() * 100.0), 4), "scale_h": 1.0, "scale_v": 1.0})
        import pandas as pd

        write_manifest(out, pd.DataFrame(rows, columns=MANIFEST_COLUMNS))
        return _finish({"train_s": t_train, "sample_s": t_sample, "scales": len(Gs), "niter": task["niter"],
                        "sizes": [list(r.shape[2:]) for r in reals], "pcts": _sample_rows(out)}, tmp / "done.json")


def worker_patchnn(task: dict) -> dict:
    from singanseg_core.baselines import PatchNN, PatchNNConfig, write_baseline_samples
    from singanseg_core.files.atomic import atomic_directory

    dest = Path(task["dir"])
    with atomic_directory(dest, overwrite=True) as tmp:
        t0 = time.perf_counter()
        gen = PatchNN.from_files(task["rgba"], None, PatchNNConfig(max_size=task["max_size"]), device=task["device"])
        write_baseline_samples(gen, tmp / "samples", task["k"], seed=task["sample_seed"], name="patchnn")
        t_sample = time.perf_counter() - t0
        return _finish({"train_s": 0.0, "sample_s": t_sample, "scales": gen.num_scales, "niter": 0,
                        "sizes": [list(s) for s in gen.schedule.sizes], "pcts": _sample_rows(tmp / "samples")},
                       tmp / "done.json")


def worker_seg(task: dict) -> dict:
    from singanseg_core.segmentation import Pair, SegConfig, train_segmentation

    def pairs(rows):
        return [Pair(Path(i), Path(m), Path(i).stem) for i, m in rows]

    cfg = SegConfig(encoder_name=task["encoder"], encoder_weights=None, image_size=task["size"],
                    batch_size=task["batch"], lr=1e-4, augment=True, seed=task["seed"], device=task["device"],
                    steps=task["steps"], eval_every=task["eval_every"])
    t0 = time.perf_counter()
    res = train_segmentation(pairs(task["train"]), pairs(task["val"]), cfg)
    dest = Path(task["file"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    return _finish({"iou": res.metrics["iou"], "fscore": res.metrics["fscore"], "best_step": res.best_epoch,
                    "n_train": len(task["train"]), "seconds": time.perf_counter() - t0,
                    "history": res.history.to_dict(orient="list")}, dest)


WORKERS = {"ours": worker_ours, "original": worker_original, "patchnn": worker_patchnn, "guided": worker_guided,
           "seg": worker_seg}


def worker_main() -> int:
    task = json.loads(sys.stdin.read())
    import torch

    torch.set_num_threads(int(task.get("threads", 1)))
    result = WORKERS[task["worker"]](task)
    print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    return 0


# --------------------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Task:
    """One worker run: ``payload`` goes to the worker on stdin; ``result`` is the JSON file it leaves."""

    stage: str
    label: str
    payload: dict
    result: Path
    ran: bool = False
    failed: str | None = None
    start: float | None = None
    end: float | None = None
    deps: list["Task"] = field(default_factory=list)   # tasks to finish first (a donor model, a prior)
    gen_index: int = 0                                  # which generator seed (index into Settings.gen_seeds())

    def cached(self) -> dict | None:
        return json.loads(self.result.read_text()) if self.result.is_file() else None


def live_writer(dest: Path) -> int | None:
    """The pid of a live process writing ``dest`` through ``atomic_directory`` (its ``.<name>.partial-<pid>-*``
    sibling), e.g. a worker left running by an interrupted run; ``None`` if there is none."""
    for p in dest.parent.glob(f".{dest.name}.partial-*"):
        try:
            pid = int(p.name.rsplit(".partial-", 1)[1].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and Path(f"/proc/{pid}").exists():
            return pid
    return None


_LOCKS: dict[str, Any] = {}


def _lock_of(task: Task):
    """One lock per result file: two scheduler threads never make the same task at once (a task that is also
    another's donor or prior)."""
    import threading

    with _LOCKS.setdefault("", threading.Lock()):
        return _LOCKS.setdefault(str(task.result), threading.Lock())


def run_task(task: Task, settings: Settings, log) -> None:
    with _lock_of(task):
        for dep in task.deps:
            run_task(dep, settings, log)
            if dep.cached() is None:
                task.failed = f"needs {dep.label}, which failed"
                log(f"FAILED {task.stage:6s} {task.label}: {task.failed}")
                return
        _run_task(task, settings, log)


def _run_task(task: Task, settings: Settings, log) -> None:
    if task.result.is_file():
        return
    if "dir" in task.payload:
        pid = live_writer(Path(task.payload["dir"]))
        if pid is not None:  # an earlier run's worker is still making it: wait instead of starting it again
            log(f"wait   {task.stage:6s} {task.label}: worker pid {pid} of an earlier run is making it")
            while pid is not None and not task.result.is_file():
                time.sleep(10)
                pid = live_writer(Path(task.payload["dir"]))
            if task.result.is_file():
                log(f"done   {task.stage:6s} {task.label} (by pid {pid or 'of the earlier run'})")
                return
    env = child_env(OMP_NUM_THREADS=str(settings.threads), MKL_NUM_THREADS=str(settings.threads),
                    PYTHONWARNINGS="ignore")
    payload = {**task.payload, "threads": settings.threads}
    task.start = time.time()
    log(f"start  {task.stage:6s} {task.label}")
    # the worker's output goes to a file, not a pipe: a worker outlives an interrupted run (and finishes its task)
    logs = Path(settings.out) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{task.stage}-{digest(task.label, 6)}-{task.label.replace(' ', '_')[:60]}.log"
    with open(log_path, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "bench.bench_fidelity", "--worker"], input=json.dumps(payload),
                              stdout=fh, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(ROOT))
    task.end = time.time()
    task.ran = True
    if proc.returncode != 0 or not task.result.is_file():
        task.failed = log_path.read_text(errors="replace").strip()[-1500:]
        log(f"FAILED {task.stage:6s} {task.label} after {task.end - task.start:.0f} s:\n{task.failed}")
    else:
        log(f"done   {task.stage:6s} {task.label} in {task.end - task.start:.0f} s")


class Scheduler:
    """``jobs`` threads running queued calls, lowest priority tuple first; a call may queue more calls.
    :meth:`run` returns when nothing is queued or running (re-raising the first exception of a call)."""

    def __init__(self, jobs: int) -> None:
        import itertools
        import queue
        import threading

        self.jobs = max(1, jobs)
        self.queue: "queue.PriorityQueue" = queue.PriorityQueue()
        self.cv = threading.Condition()
        self.outstanding = 0
        self.errors: list[BaseException] = []
        self.counter = itertools.count()

    def push(self, priority: tuple, fn, *args) -> None:
        with self.cv:
            self.outstanding += 1
            self.queue.put((priority, next(self.counter), fn, args))
            self.cv.notify_all()

    def _worker(self) -> None:
        while True:
            with self.cv:
                while self.queue.empty() and self.outstanding > 0:
                    self.cv.wait()
                if self.outstanding == 0:
                    return
                _, _, fn, args = self.queue.get()
            try:
                fn(*args)
            except BaseException as err:  # noqa: BLE001 - re-raised by run()
                self.errors.append(err)
            finally:
                with self.cv:
                    self.outstanding -= 1
                    self.cv.notify_all()

    def run(self) -> None:
        import threading

        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.errors:
            raise self.errors[0]


class Bench:
    """Plans the tasks of a :class:`Settings`, runs the missing ones, aggregates the cache into a report."""

    def __init__(self, settings: Settings) -> None:
        from singanseg_core.segmentation import real_pairs

        self.s = settings
        self.out = Path(settings.out)
        pairs = {p.name: p for p in real_pairs(settings.data)}
        self.pairs = pairs
        self.train, self.val = split_pairs(list(pairs), settings.n_train, settings.n_val, settings.split_seed)
        self.log_lines: list[str] = []
        self.tasks: list[Task] = []

    def log(self, msg: str) -> None:
        line = f"[{datetime.now().strftime('%H:%M:%S')}] {msg}"
        self.log_lines.append(line)
        print(line, flush=True)

    # -- inputs -----------------------------------------------------------------------------------------------
    def rgba(self, stem: str) -> Path:
        """The training pair as one RGBA PNG (mask = alpha): the same input file for every source."""
        from singanseg_core.files.atomic import save_png
        from singanseg_core.files.pairs import load_pair

        p = self.pairs[stem]
        path = self.out / "inputs" / f"{stem}.png"
        if not path.is_file():
            pair = load_pair(p.image, p.mask)
            save_png(path, np.dstack([pair.image, pair.mask]))
        return path

    # -- generator tasks ----------------------------------------------------------------------------------------
    def engine_config(self, v: Variant, niter: int, seed: int | None = None, prior: str | None = None) -> dict:
        """``TrainConfig`` (as a dict) of engine variant ``v`` at ``niter`` iterations per scale and generator
        ``seed`` (default ``--model-seed``), warm-started from the checkpoint folder ``prior`` if given. A variant
        with a ``preset`` other than ``paper`` keeps that preset's size and iterations unless it sets them."""
        from singanseg_core.training.config import TrainConfig

        own = v.override_dict()
        for key in (SAMPLING_KEY, PRIOR_KEY):
            own.pop(key, None)
        preset = own.pop(PRESET_KEY, "paper")
        base = {"max_size": self.s.max_size, "niter": niter} if preset == "paper" else {}
        over = {**base, "seed": self.s.model_seed if seed is None else seed, **own}
        if prior is not None:
            over["init_from"] = prior
        try:
            return TrainConfig.from_preset(preset, **over).to_dict()
        except Exception as err:  # InputError naming the setting (e.g. an option not merged yet)
            raise SystemExit(f"variant {v.name}: {err}") from None

    def prior_stem(self) -> str:
        """The first pair (by name) outside the split: what ``prior=auto`` models are trained on."""
        used = set(self.train) | set(self.val)
        rest = sorted(set(self.pairs) - used)
        if not rest:
            raise SystemExit("prior=auto needs a pair outside the training and validation split; lower --n-val")
        return rest[0]

    def prior_task(self, v: Variant) -> Task | None:
        """The task that makes variant ``v``'s prior (``prior=auto``), or ``None`` (no prior, or a given path)."""
        if str(v.override_dict().get(PRIOR_KEY, "")).lower() != "auto":
            return None
        stem = self.prior_stem()
        cfg = self.engine_config(replace_override(v, "niter", None), self.s.niter)
        payload = {"worker": "ours", "config": cfg, "device": self.s.device, "calibrate": True, "k": 0,
                   "sample_seed": 0, "rgba": str(self.rgba(stem))}
        ident = {k: v2 for k, v2 in payload.items() if k != "rgba"}
        d = self.out / "prior" / f"{stem}-{digest(ident)}"
        payload["dir"] = str(d)
        return Task("gen", f"prior {stem} ({v.name})", payload, d / "done.json")

    def prior_path(self, v: Variant) -> str | None:
        value = v.override_dict().get(PRIOR_KEY)
        if value is None:
            return None
        task = self.prior_task(v)
        return str(Path(task.payload["dir"]) / "model") if task is not None else str(value)

    def budget_niter(self, v: Variant) -> int:
        """Iterations per scale of variant ``v``: ``--niter``, or calibrated from ``--minutes``."""
        if self.s.minutes is None or v.kind == "patchnn":
            return self.s.niter
        stem = self.train[0]
        runs = []
        for n in CALIBRATION_ITERS:
            if v.kind in ENGINE_KINDS:  # the same training: calibrated as ours
                payload = {"worker": "ours", "config": self.engine_config(v, n), "rgba": str(self.rgba(stem)),
                           "device": self.s.device, "calibrate": True}
            else:
                payload = {"worker": "original", "max_size": self.s.max_size, "niter": n,
                           "model_seed": self.s.model_seed, "sample_seed": 0, "k": 0, "rgba": str(self.rgba(stem)),
                           "calibrate": True}
            ident = {k: v2 for k, v2 in payload.items() if k != "rgba"}
            d = self.out / "calibration" / v.name / f"{stem}-i{n}-{digest(ident)}"
            payload["dir"] = str(d)
            task = Task("calib", f"{v.name} timing run ({n} it/scale)", payload, d / "done.json")
            run_task(task, self.s, self.log)
            res = task.cached()
            if res is None:
                raise SystemExit(f"calibration of {v.name} failed:\n{task.failed}")
            runs.append(res)
        (n_a, n_b), scales = CALIBRATION_ITERS, runs[0]["scales"]
        per, fixed = timing_from_two_runs(n_a, runs[0]["train_s"], n_b, runs[1]["train_s"], scales)
        n = niter_for_minutes(self.s.minutes, scales, per, fixed)
        self.log(f"{v.name}: {self.s.minutes:g} min per model -> {n} iterations per scale ({per:.3f} s per "
                 f"scale-iteration, {fixed:.1f} s fixed; timing runs {runs[0]['train_s']:.1f} s and "
                 f"{runs[1]['train_s']:.1f} s)")
        return n

    def gen_tasks(self, v: Variant) -> list[Task]:
        niter = self.budget_niter(v)
        prior, prior_task = self.prior_path(v), self.prior_task(v)
        several = len(self.s.gen_seeds()) > 1
        tasks = []
        for j, gseed in enumerate(self.s.gen_seeds()):
            for stem in self.train:
                t = self.gen_task(v, stem, niter, gseed, prior)
                t.gen_index = j
                if several:
                    t.label += f" g{gseed}"
                if prior_task is not None:
                    t.deps.append(prior_task)
                tasks.append(t)
        return tasks

    def gen_task(self, v: Variant, stem: str, niter: int, gseed: int, prior: str | None) -> Task:
        """Generator task of source ``v`` on training pair ``stem`` with generator seed ``gseed``."""
        base = {"k": self.s.k, "sample_seed": self.s.sample_seed, "rgba": str(self.rgba(stem))}
        if v.kind == "ours":
            payload = {"worker": "ours", "config": self.engine_config(v, niter, gseed, prior),
                       "device": self.s.device, **base}
            redraw = int(v.override_dict().get(SAMPLING_KEY) or 0)
            if redraw:
                payload[SAMPLING_KEY] = redraw
            key = f"s{self.s.max_size}-i{niter}"
        elif v.kind == "guided":  # layouts: the masks of the other training pairs, moved (studies.layouts)
            payload = {"worker": "guided", "config": self.engine_config(v, niter, gseed, prior),
                       "device": self.s.device,
                       "stem": stem, "train": list(self.train),
                       "masks": {s: str(self.pairs[s].mask) for s in self.train}, **base}
            key = f"s{self.s.max_size}-i{niter}"
        elif v.kind == "original":
            payload = {"worker": "original", "max_size": self.s.max_size, "niter": niter,
                       "model_seed": gseed, **base}
            key = f"s{self.s.max_size}-i{niter}"
        else:
            payload = {"worker": "patchnn", "max_size": self.s.max_size, "device": self.s.device, **base}
            key = f"s{self.s.max_size}"
        ident = {k: v2 for k, v2 in payload.items() if k != "rgba"}
        d = self.out / "gen" / v.name / f"{key}-k{self.s.k}-{digest(ident)}" / stem
        payload["dir"] = str(d)
        return Task("gen", f"{v.name} {stem}", payload, d / "done.json")

    def link_donors(self, gens: dict[str, list[Task]]) -> None:
        """A source whose models are another ``ours``-kind source's (same training settings, pair and seed; it only
        samples differently: ``redraw_empty``, ``guided``) loads that source's models instead of training them
        again: the donor task becomes a dependency and its folder the ``donor`` of the payload."""
        made: dict[str, Task] = {}
        for v in self.s.variants:
            for t in gens[v.name]:
                if t.payload["worker"] not in ("ours", "guided"):
                    continue
                key = json.dumps([t.payload["config"], t.payload["rgba"], t.payload["device"]], sort_keys=True)
                donor = made.get(key)
                if donor is not None and donor is not t:
                    t.payload["donor"] = donor.payload["dir"]
                    ident = {k: v2 for k, v2 in t.payload.items() if k not in ("rgba", "dir")}
                    d = Path(t.payload["dir"])
                    d = d.parent.parent / f"{d.parent.name.rsplit('-', 1)[0]}-d{digest(ident)}" / d.name
                    t.payload["dir"], t.result = str(d), d / "done.json"
                    t.deps.insert(0, donor)
                elif v.kind == "ours" and t.payload["worker"] == "ours" and donor is None:
                    made[key] = t

    # -- segmentation tasks ---------------------------------------------------------------------------------------
    def seg_task(self, set_name: str, train: list[tuple[str, str]], seed: int) -> Task:
        val = [(str(self.pairs[s].image), str(self.pairs[s].mask)) for s in self.val]
        def rel(p: str) -> str:  # samples by their cache folder (which names their generator), real pairs by name
            return os.path.relpath(p, self.out) if p.startswith(str(self.out)) else Path(p).name

        ident = {"train": [[rel(i), rel(m)] for i, m in train], "val": self.val, "seed": seed, **self.s.seg_key()}
        f = self.out / "seg" / set_name / f"seed{seed}-{digest(ident)}.json"
        payload = {"worker": "seg", "train": train, "val": val, "seed": seed, "steps": self.s.seg_steps,
                   "eval_every": self.s.eval_every, "size": self.s.seg_size, "batch": self.s.seg_batch,
                   "encoder": self.s.encoder, "device": self.s.device, "file": str(f)}
        return Task("seg", f"{set_name} seed {seed}", payload, f)

    def real_rows(self) -> list[tuple[str, str]]:
        return [(str(self.pairs[s].image), str(self.pairs[s].mask)) for s in self.train]

    @staticmethod
    def synthetic_rows(gens: list[Task]) -> list[tuple[str, str]]:
        from singanseg_core.sampling.manifest import read_manifest

        rows = []
        for t in gens:
            folder = Path(t.payload["dir"]) / "samples"
            df = read_manifest(folder).sort_values("index")
            rows += [(str(folder / i), str(folder / m)) for i, m in zip(df["image"], df["mask"])]
        return rows

    # -- running ------------------------------------------------------------------------------------------------
    def plan(self) -> tuple[dict[str, list[Task]], list[Task]]:
        gens = {v.name: self.gen_tasks(v) for v in self.s.variants}
        self.link_donors(gens)
        if len(self.s.gen_seeds()) > len(self.s.seeds):
            raise SystemExit(f"{len(self.s.gen_seeds())} generator seeds need as many UNet++ seeds (--seeds)")
        real = [self.seg_task("real", self.real_rows(), seed) for seed in self.s.seeds]
        return gens, real

    def seg_tasks_of(self, v: Variant, gens: list[Task], j: int | None = None) -> list[Task]:
        """The synthetic and mixed UNet++ runs of variant ``v`` on the data of generator seed number ``j`` (all of
        them when ``None``; those generators finished), seed by seed."""
        if j is None:
            return [t for i in range(len(self.s.gen_seeds())) for t in self.seg_tasks_of(v, gens, i)]
        syn = self.synthetic_rows([t for t in gens if t.gen_index == j])
        out = []
        for seed in self.s.seg_seeds_for(j):
            out.append(self.seg_task(f"{v.name}-synthetic", syn, seed))
            if "mixed" in self.s.sets_of(v):
                out.append(self.seg_task(f"{v.name}-mixed", self.real_rows() + syn, seed))
        return out

    def run(self, report_only: bool = False) -> dict:
        """Run what is missing (``jobs`` workers; a source's UNet++ runs start as soon as its generators are
        done), then report everything cached."""
        t_start = time.time()
        load_start = os.getloadavg()
        gens, real = self.plan()
        all_gen = [t for ts in gens.values() for t in ts]
        self.log(f"split: {len(self.train)} training pairs {self.train}, {len(self.val)} validation pairs; "
                 f"{sum(t.cached() is None for t in all_gen)} of {len(all_gen)} generator tasks to run")
        seg: dict[str, list[Task]] = {"real": real}
        by_name = {v.name: v for v in self.s.variants}

        def add_seg(name: str, j: int | None = None) -> list[Task]:
            tasks = self.seg_tasks_of(by_name[name], gens[name], j)
            for t in tasks:
                seg.setdefault(t.label.rsplit(" seed ", 1)[0], []).append(t)
            return tasks

        if report_only:
            for name, ts in gens.items():
                for j in range(len(self.s.gen_seeds())):
                    if all(t.cached() is not None for t in ts if t.gen_index == j):
                        add_seg(name, j)
        else:
            sched = Scheduler(self.s.jobs)
            started: set[tuple[str, int]] = set()
            names = [v.name for v in self.s.variants]

            def seg_priority(t: Task) -> tuple:
                # seed by seed (with several generator seeds: after that seed's generators); within a seed real,
                # then every source's synthetic run, then the mixed ones
                set_name, seed = t.label.rsplit(" seed ", 1)
                if set_name == "real":
                    rank = 0
                else:
                    src, part = set_name.rsplit("-", 1)
                    rank = 1 + names.index(src) + (len(names) if part == "mixed" else 0)
                j = self.s.seeds.index(int(seed))
                return (j if len(self.s.gen_seeds()) > 1 else 0, 1, j, rank)

            def gen_then(task: Task, name: str) -> None:
                run_task(task, self.s, self.log)
                group = (name, task.gen_index)
                with sched.cv:
                    ready = group not in started and all(
                        t.cached() is not None for t in gens[name] if t.gen_index == task.gen_index)
                    if ready:
                        started.add(group)
                if ready:
                    for t in add_seg(name, task.gen_index):
                        sched.push(seg_priority(t), run_task, t, self.s, self.log)

            # generator seed by seed: cheap generators first, then the trained ones alternating pair by pair (a run
            # stopped early has comparable parts of each), those that reuse another's models (donors) or wait for
            # a prior last; UNet++ runs as soon as their data exists, seed 0 of every set first
            order = []
            for j in range(len(self.s.gen_seeds())):
                def of(v: Variant) -> list[tuple[Task, str]]:
                    return [(t, v.name) for t in gens[v.name] if t.gen_index == j]
                order += [x for v in self.s.variants if v.kind == "patchnn" for x in of(v)]
                own = [of(v) for v in self.s.variants if v.kind != "patchnn" and not any(t.deps for t, _ in of(v))]
                order += [x for group in zip(*own) for x in group] if own else []
                order += [x for v in self.s.variants if v.kind != "patchnn" and any(t.deps for t, _ in of(v))
                          for x in of(v)]
            for i, (t, name) in enumerate(order):
                sched.push((t.gen_index if len(self.s.gen_seeds()) > 1 else 0, 0, i), gen_then, t, name)
            for t in real:
                sched.push(seg_priority(t), run_task, t, self.s, self.log)
            sched.run()
        self.tasks = all_gen + [t for ts in seg.values() for t in ts]
        return self.report(gens, seg, t_start, load_start)

    # -- report -------------------------------------------------------------------------------------------------
    def pixel_distances(self, v: Variant, done: list[Task]) -> dict[str, float]:
        """How close the samples are to real images: mean absolute RGB difference (0..1, at 64 x 64 px) of every
        sample to its own training image (``l1_own``) and, for a warm-started source with ``prior=auto``, to the
        prior's training image (``l1_prior``; a sample copied from the prior would be near 0 there)."""
        from PIL import Image

        from singanseg_core.sampling.manifest import read_manifest

        def rgb(path: str | Path) -> np.ndarray:
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB").resize((64, 64), Image.BILINEAR), dtype=np.float32) / 255.0

        prior = self.prior_task(v)
        prior_img = rgb(prior.payload["rgba"]) if prior is not None else None
        own, to_prior = [], []
        for t in done:
            folder = Path(t.payload["dir"]) / "samples"
            if not folder.is_dir():
                continue
            real = rgb(t.payload["rgba"])
            for name in read_manifest(folder)["image"]:
                x = rgb(folder / name)
                own.append(float(np.abs(x - real).mean()))
                if prior_img is not None:
                    to_prior.append(float(np.abs(x - prior_img).mean()))
        out = {"l1_own": float(np.mean(own))} if own else {}
        if to_prior:
            out["l1_prior"] = float(np.mean(to_prior))
        return out

    def report(self, gens: dict[str, list[Task]], seg: dict[str, list[Task]], t_start: float,
               load_start: tuple[float, float, float]) -> dict:
        from singanseg_core.analysis.stats import distribution_distance, true_pixel_pct

        real_train = [true_pixel_pct(self.pairs[s].mask) for s in self.train]
        real_val = [true_pixel_pct(self.pairs[s].mask) for s in self.val]
        sources = []
        for v in self.s.variants:
            res = [t.cached() for t in gens[v.name]]
            done = [r for r in res if r is not None]
            row: dict[str, Any] = {"variant": v.name, "kind": v.kind, "overrides": v.override_dict(),
                                   "models": len(done), "of": len(res)}
            if done:
                pcts = [p for r in done for p in r["pcts"]]
                row.update({
                    "niter": done[0]["niter"], "scales": done[0]["scales"], "samples": len(pcts),
                    "empty_share": empty_share(pcts), "mean_true_pct": float(np.mean(pcts)),
                    "w1_vs_train": distribution_distance(real_train, pcts)["wasserstein"],
                    "w1_vs_val": distribution_distance(real_val, pcts)["wasserstein"],
                    "train_s": sum(r["train_s"] for r in done), "sample_s": sum(r["sample_s"] for r in done),
                    "train_s_per_model": float(np.mean([r["train_s"] for r in done])),
                    "peak_rss_mb": max(r["rss_mb"] for r in done),
                    **self.pixel_distances(v, [t for t in gens[v.name] if t.cached() is not None]),
                })
            prior = self.prior_task(v)
            if prior is not None and prior.cached() is not None:
                row["prior_s"] = prior.cached()["train_s"]
            sources.append(row)
        sets = []
        order = ["real"] + [f"{v.name}-{part}" for v in self.s.variants for part in ("synthetic", "mixed")]
        for name, ts in sorted(seg.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
            res = [t.cached() for t in ts]
            done = [r for r in res if r is not None]
            iou, iou_sd = mean_std([r["iou"] for r in done])
            fs, fs_sd = mean_std([r["fscore"] for r in done])
            sets.append({"train_set": name, "runs": len(done), "of": len(res),
                         "n_train": done[0]["n_train"] if done else None, "iou": iou, "iou_std": iou_sd,
                         "fscore": fs, "fscore_std": fs_sd, "per_seed_iou": [r["iou"] for r in done],
                         "best_steps": [r["best_step"] for r in done],
                         "seconds_per_run": float(np.mean([r["seconds"] for r in done])) if done else None,
                         "peak_rss_mb": max((r["rss_mb"] for r in done), default=None)})
        missing = [t.label for t in self.tasks if t.cached() is None]
        expected_sets = 1 + sum(len(self.s.sets_of(v)) for v in self.s.variants)
        partial = bool(missing) or len(seg) < expected_sets
        ran = [t for t in self.tasks if t.ran and t.start is not None]
        stages = {}
        for stage in ("gen", "seg"):
            st = [t for t in ran if t.stage == stage]
            if st:
                stages[stage] = {"tasks_run": len(st), "wall_s": max(t.end for t in st) - min(t.start for t in st)}
        report = {
            "settings": {**asdict(self.s), "variants": [asdict(v) for v in self.s.variants]},
            "split": {"train": self.train, "val_count": len(self.val), "split_seed": self.s.split_seed},
            "real_true_pct": {"train_mean": float(np.mean(real_train)), "val_mean": float(np.mean(real_val))},
            "sources": sources, "sets": sets, "stages": stages, "partial": partial,
            "missing": missing + ([] if len(seg) >= expected_sets else ["segmentation runs of sources whose "
                                                                          "generators are not all finished"]),
            "failed": {t.label: t.failed for t in self.tasks if t.failed},
            "machine": {"cpus": os.cpu_count(), "load_start": load_start, "load_end": os.getloadavg(),
                        "platform": platform.platform(), "python": platform.python_version()},
            "wall_s": time.time() - t_start,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            import torch

            report["machine"]["torch"] = torch.__version__
        except ImportError:
            pass
        return report


IOU_TARGET = 0.35  # the target: synthetic IoU at the original's training time


def target_rows(report: dict) -> list[dict]:
    """Each engine variant (and patch-NN) against the targets (same time, 1/3 time), from a report's ``sources`` and ``sets``.

    Per row: ``time_vs_original`` = mean training seconds per model / the original's (patch-NN: 0, nothing to
    train); ``iou``/``iou_std`` of its synthetic set; ``same_time`` = trained in at most the original's time with
    synthetic IoU >= ``IOU_TARGET``; ``third_time`` = trained in at most 1/3 of the original's time with a
    synthetic IoU at least the original's; for variants other than ``ours``: ``speedup_vs_ours`` (ours' seconds
    per model / the variant's) and ``within_spread`` = its synthetic IoU differs from ours' by at most the sum
    of the two standard deviations over the seeds (None without at least two seeds each). Rows need the
    original's models and synthetic runs and the variant's; the others are left out.
    """
    src = {r["variant"]: r for r in report["sources"] if r.get("models") and "train_s_per_model" in r}
    sets = {r["train_set"]: r for r in report["sets"] if r["runs"]}
    orig, orig_set = src.get("original"), sets.get("original-synthetic")
    if orig is None or orig_set is None or not orig["train_s_per_model"]:
        return []
    ours, ours_set = src.get("ours"), sets.get("ours-synthetic")
    rows = []
    for name, r in src.items():
        syn = sets.get(f"{name}-synthetic")
        if r["kind"] == "original" or syn is None:
            continue
        ratio = r["train_s_per_model"] / orig["train_s_per_model"]
        row = {"variant": name, "kind": r["kind"], "train_s_per_model": r["train_s_per_model"],
               "time_vs_original": ratio, "iou": syn["iou"], "iou_std": syn["iou_std"], "runs": syn["runs"],
               "original_iou": orig_set["iou"],
               "same_time": ratio <= 1.0 and syn["iou"] >= IOU_TARGET,
               "third_time": ratio <= 1 / 3 and syn["iou"] >= orig_set["iou"]}
        if name != "ours" and r["kind"] == "ours" and ours is not None and ours_set is not None:
            row["speedup_vs_ours"] = ours["train_s_per_model"] / max(r["train_s_per_model"], 1e-9)
            enough = syn["runs"] >= 2 and ours_set["runs"] >= 2
            row["within_spread"] = (abs(syn["iou"] - ours_set["iou"]) <= syn["iou_std"] + ours_set["iou_std"]
                                    if enough else None)
        rows.append(row)
    return rows


def targets_markdown(rows: list[dict]) -> list[str]:
    """The target table's markdown lines (empty without rows)."""
    if not rows:
        return []
    yes = {True: "**yes**", False: "no", None: "—"}
    out = ["", f"Targets: *same time* = trained in ≤ the original's time per model with synthetic IoU ≥ "
           f"{IOU_TARGET}; *1/3 time* = trained in ≤ 1/3 of it with synthetic IoU ≥ the original's "
           f"({rows[0]['original_iou']:.3f}); *within spread* = synthetic IoU within the sum of the two seed "
           "standard deviations of `ours` (the fp32 default):", "",
           "| source | s / model | time vs original | synthetic IoU | same time | 1/3 time | speed-up vs ours | "
           "within spread |", "|---|---:|---:|---|---|---|---:|---|"]
    for r in rows:
        speed = f"{r['speedup_vs_ours']:.2f}x" if "speedup_vs_ours" in r else "—"
        out.append(f"| {r['variant']} | {r['train_s_per_model']:.0f} | {r['time_vs_original']:.2f} | "
                   f"{fmt_pm(r['iou'], r['iou_std'])} | {yes[r['same_time']]} | {yes[r['third_time']]} | {speed} | "
                   f"{yes[r.get('within_spread')]} |")
    return out


def fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def fmt_pm(m: float | None, sd: float | None) -> str:
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "—"
    return f"{m:.3f} ± {sd:.3f}"


def markdown(report: dict, command: str) -> str:
    s = report["settings"]
    m = report["machine"]
    budget = f"{s['minutes']:g} min of training per model" if s["minutes"] else \
        f"max size {s['max_size']} px, {s['niter']} iterations per scale"
    seeds_g = s.get("model_seeds") or [s["model_seed"]]
    gen_seeds = (f"seed {seeds_g[0]}" if len(seeds_g) == 1 else
                 f"**generator seeds {seeds_g}, each one's data trained with the UNet++ seed of the same rank** (so "
                 "the ± covers the generators' seed-to-seed variation and the UNet++'s)")
    lines = [
        report.get("section") or "## Fidelity",
        "",
        f"`{command}`{' — **PARTIAL** (rerun the same command to resume; cached tasks are skipped)' if report['partial'] else ''}",
        "",
        f"{m['cpus']} CPUs ({m['platform']}), torch {m.get('torch', '?')}, {s['jobs']} worker(s) x {s['threads']} "
        f"torch thread(s); load average {m['load_start'][0]:.1f} at the start, {m['load_end'][0]:.1f} at the end "
        f"(other jobs share the machine: times are upper bounds); finished {report['finished_at']}.",
        f"Split (seed {s['split_seed']}) of `{Path(s['data']).name}`: {len(report['split']['train'])} training "
        f"pairs, {report['split']['val_count']} validation pairs. Generators: {budget}, {gen_seeds}; "
        f"k = {s['k']} samples per model at start scale 0 (sample seed {s['sample_seed']}). UNet++ "
        f"{s['encoder']} from scratch, {s['seg_size']} px, batch {s['seg_batch']}, Dice loss, Adam 1e-4, "
        f"{s['seg_steps']} steps, validation every {s['eval_every']} steps, best kept; seeds {s['seeds']}.",
        "",
        "| training set | pairs | runs | IoU (mean ± std) | F-score (mean ± std) | IoU per seed | best steps | s / run | peak RSS MB |",
        "|---|---:|---:|---|---|---|---|---:|---:|",
    ]
    for r in report["sets"]:
        per_seed = ", ".join(f"{x:.3f}" for x in r["per_seed_iou"]) or "—"
        steps = ", ".join(map(str, r["best_steps"])) or "—"
        secs = "—" if r["seconds_per_run"] is None else f"{r['seconds_per_run']:.0f}"
        rss = "—" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f}"
        lines.append(f"| {r['train_set']} | {r['n_train'] or '—'} | {r['runs']}/{r['of']} | "
                     f"{fmt_pm(r['iou'], r['iou_std'])} | {fmt_pm(r['fscore'], r['fscore_std'])} | "
                     f"{per_seed} | {steps} | {secs} | {rss} |")
    rt = report["real_true_pct"]
    lines += ["", f"Synthetic data per source (real masks: mean true-pixel {rt['train_mean']:.1f} % over the training "
              f"pairs, {rt['val_mean']:.1f} % over the validation pairs; W1 = Wasserstein-1 distance of the "
              "true-pixel % distributions, percentage points):", "",
              "| source | settings | models | it/scale | scales | empty masks | mean true-pixel % | W1 vs training | "
              "W1 vs validation | training s (all models) | s / model | sampling s (all) | peak RSS MB | "
              "L1 to own image | L1 to prior's image |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["sources"]:
        over = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or ("no training" if r["kind"] == "patchnn"
                                                                           else "defaults")
        if "niter" not in r:
            lines.append(f"| {r['variant']} | {over} | 0/{r['of']} | | | | | | | | | | | | |")
            continue
        lines.append(f"| {r['variant']} | {over} | {r['models']}/{r['of']} | {r['niter'] or '—'} | {r['scales']} | "
                     f"{100 * r['empty_share']:.0f} % | {r['mean_true_pct']:.1f} | {r['w1_vs_train']:.1f} | "
                     f"{r['w1_vs_val']:.1f} | {r['train_s']:.0f} | {r['train_s_per_model']:.0f} | "
                     f"{r['sample_s']:.1f} | {r['peak_rss_mb']:.0f} | {fmt(r.get('l1_own'), '.3f')} | "
                     f"{fmt(r.get('l1_prior'), '.3f')} |")
    priors = [r for r in report["sources"] if "prior_s" in r]
    if priors:
        lines += ["", "Priors (`prior=auto`: one model of the variant's settings at the full budget, trained once on "
                  "the first pair outside the split; its time is shared by every model it starts, not in *s / "
                  "model*): " + "; ".join(f"{r['variant']} {r['prior_s']:.0f} s" for r in priors) + ". *L1* = mean "
                  "absolute RGB difference (0-1, at 64 x 64 px) of the samples to their own training image and to "
                  "the prior's: a warm-started model that copied its prior would be near 0 in the last column."]
    lines += targets_markdown(target_rows(report))
    gen_s = sum(r.get("train_s", 0.0) + r.get("sample_s", 0.0) for r in report["sources"])
    seg_s = sum((r["seconds_per_run"] or 0.0) * r["runs"] for r in report["sets"])
    lines += ["", f"Worker time recorded for everything in the cache (one process each, summed): generators "
              f"{gen_s / 60:.1f} min (training + sampling), UNet++ {seg_s / 60:.1f} min."]
    st = report["stages"]
    if st:
        lines += ["", "Stages run by this invocation (wall seconds from the first start to the last end, "
                  f"{s['jobs']} at a time): " + "; ".join(f"{k}: {v['tasks_run']} task(s), {v['wall_s']:.0f} s"
                                                          for k, v in st.items())
                  + f"; whole invocation {report['wall_s']:.0f} s."]
    if report["missing"]:
        lines += ["", f"Not finished yet ({len(report['missing'])}): " + ", ".join(report["missing"][:12])
                  + (" ..." if len(report["missing"]) > 12 else "")]
    if report["failed"]:
        lines += ["", "Failed: " + "; ".join(f"{k}: {v.splitlines()[-1] if v else '?'}"
                                              for k, v in report["failed"].items())]
    return "\n".join(lines) + "\n"


def settings_from_args(args: argparse.Namespace) -> Settings:
    s = Settings()
    if args.quick:
        for k, v in QUICK.items():
            setattr(s, k, v)
        s.quick = True
        s.out = str(OUT / "quick")
    for name in ("data", "out", "n_train", "n_val", "split_seed", "max_size", "niter", "minutes", "k", "model_seed",
                 "sample_seed", "seg_steps", "eval_every", "seg_size", "seg_batch", "encoder", "seeds", "jobs",
                 "threads", "device", "variant_sets", "model_seeds"):
        value = getattr(args, name)
        if value is not None:
            setattr(s, name, value)
    if not args.quick and s.n_val < 100 and args.n_val is not None:
        print(f"note: {s.n_val} validation pairs (the protocol asks for at least 100)", file=sys.stderr)
    common = parse_overrides(args.set or [])
    sources = args.sources or list(BUILTIN_SOURCES if args.quick else DEFAULT_SOURCES)
    s.variants = [parse_variant(v, common) for v in sources]
    s.variants += [parse_variant(v, common) for v in (args.variant or [])]
    names = [v.name for v in s.variants]
    if len(set(names)) != len(names):
        raise SystemExit(f"two variants share a name: {names}")
    return s


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, 1 seed, a few minutes")
    ap.add_argument("--data", help=f"real pairs (images/ + masks/); default {DATA}")
    ap.add_argument("--out", help=f"cache and results folder; default {OUT}")
    ap.add_argument("--n-train", type=int, help="training pairs R (default 5)")
    ap.add_argument("--n-val", type=int, help="validation pairs (default 100)")
    ap.add_argument("--split-seed", type=int)
    ap.add_argument("--max-size", type=int, help="generators' finest size, px (default 64)")
    ap.add_argument("--niter", type=int, help="iterations per scale (default 150)")
    ap.add_argument("--minutes", type=float, help="instead of --niter: training minutes per model, each source "
                    f"calibrated by timing runs of {CALIBRATION_ITERS[0]} and {CALIBRATION_ITERS[1]} iterations per "
                    "scale on the first training pair")
    ap.add_argument("--k", type=int, help="samples per model (default 10)")
    ap.add_argument("--model-seed", type=int)
    ap.add_argument("--model-seeds", type=int, nargs="+", help="several generator seeds: every source is trained "
                    "once per seed, and seed i's data is scored with the i-th UNet++ seed (--seeds needs as many), so "
                    "the ± covers the generators too")
    ap.add_argument("--section", help="the RESULTS.md heading to write (default '## Fidelity'), e.g. '## Fidelity "
                    "across generator seeds' to keep the default run's section")
    ap.add_argument("--sample-seed", type=int)
    ap.add_argument("--seg-steps", type=int, help="UNet++ steps (default 300)")
    ap.add_argument("--eval-every", type=int, help="UNet++ validation every N steps (default 30)")
    ap.add_argument("--seg-size", type=int, help="UNet++ input size, px (default 64)")
    ap.add_argument("--seg-batch", type=int)
    ap.add_argument("--encoder", help="UNet++ encoder (default resnet18)")
    ap.add_argument("--seeds", type=int, nargs="+", help="UNet++ seeds (default 0 1 2)")
    ap.add_argument("--sources", nargs="+", help=f"built-in sources to run, of {', '.join(BUILTIN_SOURCES)} (default: "
                    f"{' '.join(DEFAULT_SOURCES)}; --quick: all)")
    ap.add_argument("--variant", action="append", help="extra engine variant NAME:key=value[,key=value] (repeat)")
    ap.add_argument("--variant-sets", choices=("both", "synthetic", "synthetic-all"), help="UNet++ sets of each "
                    "--variant source: synthetic and mixed (both, the default) or synthetic only (half the UNet++ "
                    "runs); synthetic-all: no mixed runs for any source")
    ap.add_argument("--set", action="append", help="TrainConfig key=value for every engine variant (repeat)")
    ap.add_argument("--jobs", type=int, help="worker processes at a time (default 2)")
    ap.add_argument("--threads", type=int, help="torch threads per worker (default 1)")
    ap.add_argument("--device", help="cpu (default) or cuda for our engine, patch-NN and UNet++ (the original: CPU)")
    ap.add_argument("--report-only", action="store_true", help="report what is cached; run nothing")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main()
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as err:
        ap.error(str(err))
    bench = Bench(settings)
    report = bench.run(report_only=args.report_only)
    command = "python -m bench.bench_fidelity" + "".join(f" {shlex.quote(a)}" for a in argv  # what made the numbers
                                                          if a not in ("--report-only", "--no-write"))
    if args.section:
        if not args.section.startswith("## ") or "\n" in args.section:
            ap.error("--section must be one line starting with '## '")
        report["section"] = args.section
    md = markdown(report, command)
    from singanseg_core.files.atomic import atomic_write_json, atomic_write_text

    out = Path(settings.out)
    atomic_write_json(out / "results.json", {**report, "command": command})
    atomic_write_text(out / "results.md", md)
    atomic_write_text(out / "run.log", "\n".join(bench.log_lines) + "\n")
    print(md)
    if not settings.quick and not args.no_write:
        from bench._results import write_section

        write_section(md)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
