"""What each kind of background job does: a validator (run by :func:`.jobs.submit` before anything is queued)
and a runner (run by the worker process). Arguments are plain JSON with workspace-relative names only.

======================  ===========================================================================================
``train``               dataset, stems (all when empty), names ({stem: checkpoint name}), preset, overrides,
                        device, parallel (models trained together: an int or "auto"), fresh (default true: each
                        model gets a new folder, reserved at submit; false: train into the named folders,
                        finished ones skipped and partial ones continued)
``sample``              checkpoints, n, gen_start_scale, seed, scale_h, scale_v, out (name under samples/)
``style-batch``         samples (name under samples/), images (subset), out (name under style/), ratio, steps,
                        optimizer, size, seed, random_features
``study``               name (under studies/), kind, preset, dataset, overrides (StudyConfig fields)
``import-legacy``       src (a folder inside the workspace, e.g. ``legacy/<name>``)
======================  ===========================================================================================

This module is the one place that names output folders; callers send the name a person chose (or none).
Output folders (``out``, fresh checkpoint folders, a new study's ``name``) are reserved when the job is submitted
(``Workspace.reserve_dir``): two jobs (two browser sessions) asking for one name get two folders, and the
reserved name is what the job's ``args`` record, so a resumed job writes where the first run did. Training with
``fresh`` false writes into the named checkpoints; a study named like an existing one with the same settings
continues it (other settings are refused).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Protocol

from ..errors import InputError
from ..ranges import SEED_RANGE, check_number
from ..sampling.writer import SAMPLING_RANGES
from ..style.config import STYLE_RANGES
from .items import ItemRef, refs
from .workspace import Workspace, safe_name

PARALLEL_RANGE = (1, 256)   # models one train job trains together


class JobContext(Protocol):
    """What a runner gets from the worker (``jobs.JobContext``): the workspace, the job's arguments, progress
    reporting (returns ``False`` once the job is cancelled) and its log."""

    ws: Workspace
    args: dict[str, Any]

    def update(self, progress: float | None = None, message: str | None = None, item: str | None = None,
               item_progress: float | None = None, item_state: str | None = None, item_message: str | None = None,
               force: bool = False, fields: dict[str, Any] | None = None) -> bool: ...

    def log(self, text: str) -> None: ...


@dataclass(frozen=True)
class JobTask:
    """Everything about one job kind.

    ``action``: the ``services.access`` action a session needs to submit it; ``validate``: checks and normalises
    the arguments before anything is queued (and reserves the output folders); ``run``: the work, in the worker;
    ``reads(args, ws)`` / ``writes(args, result)``: the workspace items it uses (``result``: the finished job's
    result, ``{}`` before; ``ws`` lets a kind look into what it reads); ``reserves``: whether ``validate``
    reserves the folders of ``writes`` (given back by :func:`release_outputs` while still empty).
    """

    action: str
    validate: Callable[[Workspace, dict[str, Any]], dict[str, Any]]
    run: Callable[[JobContext], dict[str, Any]]
    reads: Callable[[dict[str, Any], Workspace | None], list[ItemRef]]
    writes: Callable[[dict[str, Any], dict[str, Any]], list[ItemRef]]
    reserves: bool = True


def release_outputs(ws: Workspace, kind: str, args: dict[str, Any]) -> list[str]:
    """Remove the folders a job reserved at submit that are still empty (it failed or was cancelled before
    writing anything); returns their workspace-relative names. Folders with anything in them stay."""
    task = TASKS.get(kind)
    if task is None or not task.reserves:
        return []
    released = []
    for ref in task.writes(args, {}):
        try:
            if ws.release_dir(ws.root / ref.category / ref.name):
                released.append(ref.path)
        except InputError:
            continue
    return released


def _reads(category: str, key: str) -> Callable[[dict[str, Any], Workspace | None], list[ItemRef]]:
    def reads(args: dict[str, Any], ws: Workspace | None) -> list[ItemRef]:
        value = args.get(key)
        return refs(category, value if isinstance(value, list) else [value or ""])

    return reads


def _writes(category: str, key: str) -> Callable[[dict[str, Any], dict[str, Any]], list[ItemRef]]:
    def writes(args: dict[str, Any], result: dict[str, Any]) -> list[ItemRef]:
        return refs(category, [args.get(key) or ""])

    return writes


def _train_writes(args: dict[str, Any], result: dict[str, Any]) -> list[ItemRef]:
    names = args.get("names") or {}
    stems = args.get("stems") or []
    return refs("checkpoints", [names.get(s, s) for s in stems] if isinstance(names, dict) else stems)


def _style_reads(args: dict[str, Any], ws: Workspace | None) -> list[ItemRef]:
    """The sample set and, with ``ws``, the checkpoints its manifest names (their real images are the styles)."""
    found = refs("samples", [args.get("samples") or ""])
    if ws is not None and found:
        from ..sampling.manifest import read_manifest

        try:
            frame = read_manifest(ws.samples / found[0].name)
            found += refs("checkpoints", sorted(set(frame["checkpoint"].astype(str))))
        except (InputError, KeyError, OSError):
            pass
    return found


def _imported(args: dict[str, Any], result: dict[str, Any]) -> list[ItemRef]:
    return refs("checkpoints", result.get("imported") or [])


def _nothing(args: dict[str, Any], ws: Workspace | None) -> list[ItemRef]:
    return []


def validate(ws: Workspace, kind: str, args: Any) -> dict[str, Any]:
    """``args`` checked (and normalised) for a ``kind`` job, or an ``InputError`` naming the argument."""
    if kind not in TASKS:
        raise InputError(f"unknown job kind {kind!r}; choose one of {', '.join(TASKS)}")
    if not isinstance(args, dict):
        raise InputError(f"{kind} job arguments must be an object, got {type(args).__name__}")
    return TASKS[kind].validate(ws, dict(args))


# ---------------------------------------------------------------------------------------------- checks
def _number(args: dict, key: str, default: int | float, lo: int | float, hi: int | float) -> int | float:
    """``args[key]`` (``default`` when absent) checked by **the** range rule (``ranges.check_number``)."""
    return check_number(key, args.get(key, default), lo, hi)


def _names(args: dict, key: str, what: str) -> list[str]:
    value = args.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{key} must be a list of {what} names")
    return value


def _text(args: dict, key: str, what: str) -> str:
    value = args.get(key, "")
    if not isinstance(value, str):
        raise InputError(f"{key} (the {what}) must be a name, got {type(value).__name__}")
    return value


def _existing(ws: Workspace, folder: str, name: Any, what: str) -> Path:
    if not isinstance(name, str):
        raise InputError(f"the {what} must be a name, got {name!r}")
    path = ws.resolve(Path(folder) / safe_name(name, what))
    if not path.is_dir():
        raise InputError(f"{what} {name!r} is not in the workspace ({folder}/)")
    return path


def _device(args: dict) -> str:
    from ..device import resolve_device

    device = args.get("device", "auto")
    resolve_device(device if isinstance(device, str) else repr(device))
    return device


# ---------------------------------------------------------------------------------------------- train
def _check_train(ws: Workspace, a: dict) -> dict:
    from ..training.config import TrainConfig

    pairs = ws.dataset_pairs(a.get("dataset") if isinstance(a.get("dataset"), str) else "")
    stems = _names(a, "stems", "image")
    missing = sorted(set(stems) - {s for s, _, _ in pairs})
    if missing:
        raise InputError(f"dataset {a['dataset']!r} has no pair(s) {', '.join(missing)}")
    names = a.get("names") or {}
    if not isinstance(names, dict):
        raise InputError("names must map image stems to checkpoint names")
    wanted = stems or [s for s, _, _ in pairs]
    chosen = [safe_name(names.get(s, s), "checkpoint name") for s in wanted]
    if len(set(chosen)) != len(chosen):
        raise InputError("two models would share one checkpoint name; give each a name of its own")
    if not isinstance(a.get("fresh", True), bool):
        raise InputError("fresh must be true or false")
    overrides = a.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise InputError("overrides must be an object of training settings")
    if overrides.get("init_from") is not None:  # a path any visitor could name: a job names a workspace checkpoint
        raise InputError("a training job names its warm start by checkpoint (prior), not by path (init_from)")
    cfg = TrainConfig.from_preset(a.get("preset", "quick"), **overrides)
    if a.get("prior") is not None:
        _warm_start(ws, a, cfg)
    parallel = a.get("parallel", 1)
    if parallel != "auto":
        _number(a, "parallel", 1, *PARALLEL_RANGE)
    _device(a)
    if a.get("fresh", True):  # last: nothing is reserved for a job that is refused
        a["names"] = {s: ws.reserve_dir(ws.checkpoints, name).name for s, name in zip(wanted, chosen)}
        a["stems"], a["fresh"] = wanted, False  # a resumed job continues in the reserved folders
    return a


def _warm_start(ws: Workspace, a: dict, cfg: Any) -> Path:
    """The folder of the job's warm start (``prior``: the name of a finished workspace checkpoint), checked against
    the job's settings (``training.prior.load_prior``: same kind, finite weights); errors name it by its name."""
    from ..training.prior import load_prior

    if not isinstance(a.get("prior"), str):
        raise InputError("prior must be the name of a finished checkpoint")
    name = safe_name(a["prior"], "warm-start checkpoint")
    folder = ws.checkpoints / name
    if name not in ws.list_checkpoints(finished_only=True):
        raise InputError(f"warm start: there is no finished checkpoint {name!r}")
    try:
        load_prior(folder, cfg)
    except InputError as err:
        raise InputError(str(err).replace(str(folder), f"checkpoints/{name}")) from None
    return folder


def _run_train(ctx: JobContext) -> dict[str, Any]:
    """Every model gets ``config.seed`` (as ``singanseg train`` does) and its per-scale progress is an item; a
    resumed job continues partial checkpoints from their last finished scale and skips finished ones."""
    from ..training.config import TrainConfig
    from ..training.many import train_pairs

    a, ws = ctx.args, ctx.ws
    cfg = TrainConfig.from_preset(a.get("preset", "quick"), **(a.get("overrides") or {}))
    if a.get("prior") is not None:
        cfg = replace(cfg, init_from=str(_warm_start(ws, a, cfg)))
    pairs = ws.dataset_pairs(a["dataset"])
    by_stem = {s: (i, m) for s, i, m in pairs}
    names = a.get("names") or {}
    entries = []
    for stem in a.get("stems") or [s for s, _, _ in pairs]:
        name = safe_name(names.get(stem, stem), "checkpoint name")
        entries.append((name, by_stem[stem][0], by_stem[stem][1], ws.resolve(Path("checkpoints") / name)))
    for name, *_ in entries:
        ctx.update(item=name, item_state="queued", item_progress=0.0)
    fractions = {name: 0.0 for name, *_ in entries}

    def on_event(ev) -> bool:  # noqa: ANN001 - groups.ModelEvent
        fractions[ev.stem] = ev.fraction
        state = {"finished": "done", "skipped": "done", "failed": "failed"}.get(ev.kind, "running")
        fields = None
        if ev.kind == "skipped":
            msg = "already trained"
        elif ev.kind == "failed":
            msg = ev.message
        elif ev.num_scales:
            msg = f"scale {ev.scale + 1}/{ev.num_scales}, iteration {ev.iteration}/{ev.niter}" + (
                f", about {ev.eta_s / 60:.0f} min left" if ev.eta_s else "")
        else:
            msg = ev.kind
        if ev.num_scales and ev.kind in ("started", "iteration", "scale_done"):
            # 1-based scale: what a person reads ("scale 3 of 8"); s_per_it and eta_s in seconds (None until known)
            fields = {"scale": ev.scale + 1, "num_scales": ev.num_scales, "s_per_it": ev.s_per_it,
                      "eta_s": ev.eta_s}
        elif ev.num_scales and ev.kind == "finished":
            fields = {"scale": ev.num_scales, "num_scales": ev.num_scales, "eta_s": 0.0}
        if ev.kind == "scale_done":
            ctx.log(f"{ev.stem}: scale {ev.scale + 1}/{ev.num_scales} done")
        elif ev.kind == "failed":
            ctx.log(f"{ev.stem}: failed: {ev.message}")
        total = sum(fractions.values()) / max(len(fractions), 1)
        return ctx.update(progress=total, message=f"{ev.stem}: {msg}", item=ev.stem, item_progress=ev.fraction,
                          item_state=state if state != "running" or ev.kind == "started" else None,
                          item_message=msg, force=ev.kind in ("scale_done", "finished", "failed"), fields=fields)

    summary = train_pairs(entries, cfg, parallel=a.get("parallel", 1), progress=on_event,
                          device=a.get("device", "auto"), derive_seeds=False)
    if summary.failed:
        first = next(iter(sorted(summary.failed.items())))
        raise InputError(f"{len(summary.failed)} of {len(entries)} model(s) failed; {first[0]}: "
                         f"{first[1].splitlines()[0] if first[1] else 'see log'}")
    done = list(summary.trained) + list(summary.skipped)
    return {"checkpoints": done, "message": f"trained {len(summary.trained)} model(s)"
            + (f", {len(summary.skipped)} already trained" if summary.skipped else "")}


# ---------------------------------------------------------------------------------------------- sample
def _check_sample(ws: Workspace, a: dict) -> dict:
    from ..model.config import checkpoint_status

    names = _names(a, "checkpoints", "checkpoint")
    if not names:
        raise InputError("choose at least one checkpoint")
    for name in names:
        status = checkpoint_status(_existing(ws, "checkpoints", name, "checkpoint"))
        if status.state != "finished":
            raise InputError(f"checkpoint {name!r} is {status.state}" + (f": {status.message}" if status.message else ""))
    defaults = {"n": 16, "gen_start_scale": 0, "seed": 0, "scale_h": 1.0, "scale_v": 1.0, "redraw_empty": 0}
    for key, default in defaults.items():
        a[key] = _number(a, key, default, *SAMPLING_RANGES[key])
    a["out"] = ws.reserve_dir(ws.samples, _text(a, "out", "samples folder")).name
    return a


def _run_sample(ctx: JobContext) -> dict[str, Any]:
    """All or nothing (``sampling.write_sample_set``): the set appears in ``samples/<out>`` only when complete;
    a resumed job starts the set again."""
    from ..model.singanseg import SinGANSeg
    from ..sampling.writer import write_sample_set

    a = ctx.args
    out = ctx.ws.resolve(Path("samples") / safe_name(a["out"], "samples folder"))
    names = list(a["checkpoints"])
    models = [SinGANSeg.from_pretrained(ctx.ws.resolve(Path("checkpoints") / safe_name(n), must_exist=True))
              for n in names]

    def progress(name: str, done: int, n: int) -> bool:
        k = names.index(name)
        return ctx.update(progress=(k + done / max(n, 1)) / len(names), message=f"sampling {name}", item=name,
                          item_progress=done / max(n, 1), item_state="running" if done < n else "done")

    write_sample_set(models, out, int(a["n"]), int(a["gen_start_scale"]), int(a["seed"]),
                     scale_h=float(a["scale_h"]), scale_v=float(a["scale_v"]), progress=progress,
                     redraw_empty=int(a.get("redraw_empty", 0)))
    for name in names:
        ctx.update(item=name, item_progress=1.0, item_state="done")
    return {"samples": ctx.ws.relative(out), "message": f"wrote samples of {len(names)} checkpoint(s)"}


# ---------------------------------------------------------------------------------------------- style-batch
def _check_style(ws: Workspace, a: dict) -> dict:
    from ..sampling.manifest import read_manifest
    from ..style.config import StyleTransferConfig

    src = _existing(ws, "samples", a.get("samples"), "samples folder")
    chosen = _names(a, "images", "image")
    listed = set(read_manifest(src)["image"].astype(str))
    missing = sorted(set(chosen) - listed)
    if missing:
        raise InputError(f"samples/{src.name} has no image(s) {', '.join(missing[:5])}")
    out = _text(a, "out", "style folder")
    safe_name(out, "style folder")
    a["steps"] = _number(a, "steps", 100, *STYLE_RANGES["steps"])
    a["seed"] = _number(a, "seed", 0, *SEED_RANGE)
    if a.get("size") is not None:
        a["size"] = _number(a, "size", 0, *STYLE_RANGES["size"])
    StyleTransferConfig.from_ratio(a.get("ratio", "1:1000"), steps=a["steps"], optimizer=a.get("optimizer", "adam"),
                                   size=a.get("size"), seed=a["seed"])
    a["out"] = ws.reserve_dir(ws.style, out).name
    return a


def _run_style(ctx: JobContext) -> dict[str, Any]:
    """The input is a small samples folder of its own (copies of the chosen rows; the original is untouched)
    whose checkpoint_path points into this workspace, so the style image is never read from wherever the
    samples were first written."""
    import pandas as pd

    from ..sampling.manifest import read_manifest, stored_path, write_manifest
    from ..style.config import StyleTransferConfig
    from ..style.folder import style_transfer_samples
    from ..style.vgg import resolve_random_features

    a = ctx.args
    src = ctx.ws.resolve(Path("samples") / safe_name(a["samples"], "samples folder"), must_exist=True)
    out = ctx.ws.resolve(Path("style") / safe_name(a["out"], "style folder"))
    chosen = list(a.get("images") or [])
    frame = read_manifest(src)
    if chosen:
        frame = frame[frame["image"].isin(chosen)]
    if frame.empty:
        raise InputError(f"none of the chosen images are in samples/{a['samples']}")
    sel = out / "_input"
    paths = []
    for ck in frame["checkpoint"].astype(str):
        ck_dir = ctx.ws.resolve(Path("checkpoints") / safe_name(ck, "checkpoint"))
        if not (ck_dir / "real.png").is_file():
            raise InputError(f"checkpoint {ck!r} of these samples is not in the workspace (its real image is "
                             "the style image)")
        paths.append(stored_path(ck_dir, sel))
    frame = frame.assign(checkpoint_path=paths)
    for _, r in frame.iterrows():
        for col in ("image", "mask"):
            dest = sel / safe_name(r[col], "file name")
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ctx.ws.resolve(Path("samples") / src.name / safe_name(r[col], "file name"),
                                               must_exist=True), dest)
    write_manifest(sel, pd.DataFrame(frame))
    random_features, why = resolve_random_features(True if a.get("random_features") else None)
    if random_features:
        ctx.log(f"style transfer uses RANDOM VGG19 features: {why}")
    cfg = StyleTransferConfig.from_ratio(a.get("ratio", "1:1000"), steps=int(a["steps"]),
                                         optimizer=a.get("optimizer", "adam"), size=a.get("size"), seed=int(a["seed"]))

    def per_image(done: int, total: int, name: str) -> bool:
        return ctx.update(progress=done / max(total, 1), message=f"{done}/{total} images", item=name,
                          item_progress=1.0, item_state="done")

    def per_step(step: int, losses: dict) -> bool:
        return ctx.update(message=f"step {step}/{cfg.steps} (loss {losses.get('total', float('nan')):.3g})")

    from .timings import STYLE_BATCH, record_run, style_key

    started = time.perf_counter()
    style_transfer_samples(sel, out, cfg, random_features=random_features, progress=per_image,
                           step_progress=per_step, allow_download=False,
                           device="cpu" if a.get("device") == "cpu" else None)
    record_run(ctx.ws, STYLE_BATCH, style_key(a.get("size"), cfg.optimizer), len(frame) * cfg.steps,
               time.perf_counter() - started)
    return {"style": ctx.ws.relative(out), "random_features": random_features,
            "message": "style transfer finished" + (" (random VGG features)" if random_features else "")}


# ---------------------------------------------------------------------------------------------- study
def _check_study(ws: Workspace, a: dict) -> dict:
    from ..studies.config import StudyConfig

    data = _existing(ws, "datasets", a.get("dataset"), "dataset")
    name = _text(a, "name", "study name")
    safe_name(name, "study name")
    overrides = a.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise InputError("overrides must be an object of study settings")
    config = StudyConfig.from_preset(a.get("kind", "small-data"), a.get("preset", "demo"), data, **overrides)
    a["name"] = _study_folder(ws, name, config)
    return a


def _study_folder(ws: Workspace, name: str, config: Any) -> str:
    """Where a ``study`` job named ``name`` writes: a study of that name with the same settings is continued (its
    finished runs are skipped); a new name gets a new folder. Refused with one line while another job writes the
    study, when the study there has other settings, or when the folder is not a study."""
    from ..studies.config import STUDY_FILE
    from ..studies.run import rerun_differences
    from .catalog import jobs_using

    folder = ws.resolve(Path("studies") / safe_name(name, "study name"))
    if not folder.exists():
        return ws.reserve_dir(ws.studies, name).name
    users = jobs_using(ws, "studies", folder.name)
    if users:
        raise InputError(f"study {folder.name!r} is being written by the {users[0].state} job '{users[0].title}'; "
                         "wait for it or choose another name")
    if not (folder / STUDY_FILE).is_file():
        if folder.is_dir() and not any(folder.iterdir()):
            return folder.name  # an empty folder a job reserved and left: nothing to lose
        raise InputError(f"studies/{folder.name} exists but is not a study; choose another name")
    diffs = rerun_differences(folder, config)
    if diffs:
        raise InputError(f"study {folder.name!r} was started with other settings ({', '.join(diffs)}); choose "
                         "another name to start a new study")
    return folder.name


def _run_study(ctx: JobContext) -> dict[str, Any]:
    """Delegates to ``studies.run_study``, which skips finished runs: resuming continues the study."""
    from ..studies.config import StudyConfig
    from ..studies.run import run_study

    a = ctx.args
    data = ctx.ws.resolve(Path("datasets") / safe_name(a["dataset"], "dataset"), must_exist=True)
    out = ctx.ws.resolve(Path("studies") / safe_name(a["name"], "study name"))
    config = StudyConfig.from_preset(a.get("kind", "small-data"), a.get("preset", "demo"), data,
                                     **dict(a.get("overrides") or {}))

    def progress(ev) -> bool:  # noqa: ANN001 - studies.StudyProgress
        item = ev.run_id if ev.run_id else None
        state = {"run-done": "done", "skip": "done", "train": "running"}.get(ev.stage)
        return ctx.update(progress=ev.fraction if ev.total else None, message=ev.message, item=item,
                          item_state=state if state != "running" else None,
                          item_progress=1.0 if state == "done" else ev.inner,
                          item_message=ev.message if item else None)

    result = run_study(config, out, progress=progress)
    return {"study": ctx.ws.relative(out), "runs": int(len(result.table)),
            "message": f"study finished: {len(result.table)} run(s)"}


# ---------------------------------------------------------------------------------------------- import-legacy
def _check_import(ws: Workspace, a: dict) -> dict:
    src = a.get("src")
    if not isinstance(src, str) or not ws.resolve(src, must_exist=True).is_dir():
        raise InputError(f"src {src!r} must be a folder inside the workspace")
    return a


def _run_import_legacy(ctx: JobContext) -> dict[str, Any]:
    """Every legacy model found under ``src`` becomes ``checkpoints/<id>/``; existing ones are skipped, so
    resuming just continues."""
    from ..legacy.importer import import_legacy

    src = ctx.ws.resolve(ctx.args["src"], must_exist=True)

    def progress(done: int, total: int, name: str) -> bool:
        return ctx.update(progress=done / max(total, 1), message=f"{done}/{total} models",
                          item=name or None, item_state="done" if name else None, item_progress=1.0 if name else None)

    summary = import_legacy(src, ctx.ws.checkpoints, progress=progress)
    for name, why in list(summary.refused) + list(summary.skipped):
        ctx.log(f"{name}: {why}")
    msg = (f"imported {len(summary.imported)}, skipped {len(summary.skipped)}, refused {len(summary.refused)} "
           "model(s)")
    return {"imported": list(summary.imported), "refused": [list(r) for r in summary.refused], "message": msg}


TASKS: dict[str, JobTask] = {
    "train": JobTask("train", _check_train, _run_train, _reads("datasets", "dataset"), _train_writes),
    "sample": JobTask("sample-save", _check_sample, _run_sample, _reads("checkpoints", "checkpoints"),
                      _writes("samples", "out")),
    "style-batch": JobTask("style", _check_style, _run_style, _style_reads, _writes("style", "out")),
    "study": JobTask("study", _check_study, _run_study, _reads("datasets", "dataset"), _writes("studies", "name")),
    "import-legacy": JobTask("import", _check_import, _run_import_legacy, _nothing, _imported, reserves=False),
}
KINDS = tuple(TASKS)


def action_for(kind: str) -> str:
    """The ``services.access`` action submitting a ``kind`` job needs (an unknown kind: itself, which the
    policy treats as a write action only if listed there)."""
    task = TASKS.get(kind)
    return task.action if task is not None else kind
