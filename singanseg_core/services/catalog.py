"""What the workspace holds, as tables for the UI, which jobs use what, and deleting an item.

Five kinds of item live in a workspace (:data:`CATEGORIES`): datasets, checkpoints, sample sets, style sets and
studies, each a folder ``<root>/<category>/<name>``. This module lists them as ``pandas`` tables (newest first
where a person picks the latest one), says which background job reads or writes an item (from the job's
arguments, :func:`job_targets`) and deletes an item only while no active job uses it (:func:`delete_item`).

Everything here reads the disk only (no Streamlit); the dashboard caches what it shows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..errors import InputError
from .items import CATEGORIES, LABELS, ItemRef, refs
from .workspace import Workspace, safe_name



def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise InputError(f"unknown item kind {category!r}; choose one of {', '.join(CATEGORIES)}")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def item_names(ws: Workspace, category: str) -> list[str]:
    """The items of ``category`` as the workspace lists them (alphabetical); for checkpoints also the broken ones
    (the table shows them with their problem, and they can be deleted)."""
    _check_category(category)
    if category == "checkpoints":
        return sorted([*ws.list_checkpoints(), *ws.checkpoint_problems()])
    return {"datasets": ws.list_datasets, "samples": ws.list_sample_sets,
            "style": ws.list_style_sets, "studies": ws.list_studies}[category]()


def folder_stamp(folder: str | os.PathLike, suffixes: tuple[str, ...] = (".png", ".jpg", ".csv", ".json")) -> float:
    """Newest modification time (s since the epoch) of ``folder`` and the files below it with ``suffixes``
    (hidden folders skipped): a cache key that changes when a set gains, loses or rewrites a file."""
    folder = Path(folder)
    latest = folder.stat().st_mtime
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(suffixes):
                try:
                    latest = max(latest, os.stat(os.path.join(root, name)).st_mtime)
                except OSError:  # removed while walking
                    pass
    return latest


def _modified(folder: Path) -> float:
    """When a set last changed: the newest of the folder and its direct files (cheap: one level)."""
    stamps = [folder.stat().st_mtime]
    for p in folder.iterdir():
        try:
            stamps.append(p.stat().st_mtime)
        except OSError:
            pass
    return max(stamps)


def newest_first(ws: Workspace, category: str) -> list[str]:
    """Names of ``category``'s items, most recently changed first (ties: by name)."""
    names = item_names(ws, category)
    root = ws.root / category
    return sorted(names, key=lambda n: (-_modified(root / n), n))


def newest_own_checkpoint(ws: Workspace, names: list[str]) -> tuple[str, float] | None:
    """Among ``names``, the checkpoint this workspace's user trained (or imported) last, not one the demo ships
    (``services.demo.DEMO_CHECKPOINTS``), with when its ``config.json`` was last written (seconds since the
    epoch; a checkpoint writes it last); ``None`` when there is none."""
    from .demo import DEMO_CHECKPOINTS

    best: tuple[str, float] | None = None
    for name in names:
        if name in DEMO_CHECKPOINTS:
            continue
        try:
            when = (ws.checkpoints / name / "config.json").stat().st_mtime
        except OSError:
            continue
        if best is None or when > best[1]:
            best = (name, when)
    return best


# ---------------------------------------------------------------------------------------------- tables
def dataset_table(ws: Workspace) -> pd.DataFrame:
    """Datasets newest first: ``dataset``, ``pairs`` (image/mask pairs found), ``modified``."""
    from ..files.pairs import find_pairs

    rows = []
    for name in newest_first(ws, "datasets"):
        folder = ws.datasets / name
        try:
            pairs: Any = len(find_pairs(folder))
        except InputError as err:  # unmatched files: say so instead of failing the whole table
            pairs = f"problem: {str(err).splitlines()[0][:80]}"
        rows.append({"dataset": name, "pairs": pairs, "modified": _when(_modified(folder))})
    return pd.DataFrame(rows, columns=["dataset", "pairs", "modified"])


CHECKPOINT_COLUMNS = ["checkpoint", "state", "scales", "finest size (h×w)", "iterations/scale", "origin",
                      "modified", "note"]


def folder_message(message: str, folder: Path) -> str:
    """The first line of ``message`` with ``folder``'s server path written ``<category>/<name>`` (the workspace
    layout), so a stored or shown problem names the file without a server path."""
    first = (message.splitlines() or [""])[0]
    return first.replace(str(folder), f"{folder.parent.name}/{folder.name}")


def unreadable_checkpoints(ws: Workspace) -> dict[str, str]:
    """``{name: why}`` of every checkpoint folder whose ``config.json`` cannot be loaded (one line each, the file
    named relative to the workspace); the pages list the other checkpoints and mark these."""
    return {name: folder_message(why, ws.checkpoints / name) for name, why in ws.checkpoint_problems().items()}


def checkpoint_row(folder: Path) -> dict[str, Any]:
    """One row of :func:`checkpoint_table` for a checkpoint folder, its state from the one rule
    (:func:`..model.checkpoint_status`): ``finished``, ``partial k/n`` (scales trained of planned), ``broken``, or
    ``unreadable: <why>`` (a ``config.json`` that cannot be parsed)."""
    from ..model.config import checkpoint_status

    status = checkpoint_status(folder)
    row: dict[str, Any] = dict.fromkeys(CHECKPOINT_COLUMNS, "")
    row.update(checkpoint=folder.name, modified=_when(folder.stat().st_mtime))
    cfg = status.config
    if cfg is None or status.state in ("missing", "broken"):
        state = f"unreadable: {status.unreadable[:80]}" if status.unreadable else status.state
        row.update(state=state, scales=None, note=folder_message(status.message, folder)[:160])
        return row
    sizes = cfg.sizes
    state = "finished" if status.state == "finished" else f"partial {cfg.num_scales}/{cfg.total_scales}"
    row.update(state=state, scales=cfg.num_scales,
               **{"finest size (h×w)": "×".join(map(str, sizes[-1])) if sizes else "",
                  "iterations/scale": (cfg.train.get("config") or {}).get("niter"),
                  "origin": str((cfg.source or {}).get("origin", ""))},
               note=folder_message(status.message, folder)[:160])
    return row


def checkpoint_table(ws: Workspace) -> pd.DataFrame:
    """Every checkpoint folder (with a ``config.json``) newest first, one row each (:data:`CHECKPOINT_COLUMNS`);
    a folder being trained by an active job says so in ``state``."""
    writing = {ref.name: job for job in active_jobs(ws) for ref in job_targets(job)["writes"]
               if ref.category == "checkpoints"}
    rows = []
    for name in newest_first(ws, "checkpoints"):
        row = checkpoint_row(ws.checkpoints / name)
        if name in writing and row["state"] != "finished":
            row["state"] = f"training ({row['state']})" if row["state"].startswith("partial") else "training"
        rows.append(row)
    return pd.DataFrame(rows, columns=CHECKPOINT_COLUMNS)


def _manifest_table(ws: Workspace, category: str, label: str, count: str,
                    joined: dict[str, str]) -> pd.DataFrame:
    """One row per folder of ``category`` (newest first) read from its ``manifest.csv``: ``label`` (the name),
    ``count`` (rows), each ``joined`` column (table column → manifest column, distinct values joined) and
    ``modified``; a folder whose manifest is unreadable says so in ``count``."""
    from ..sampling.manifest import read_manifest

    rows = []
    for name in newest_first(ws, category):
        folder = getattr(ws, category) / name
        row: dict[str, Any] = {label: name, "modified": _when(_modified(folder))}
        try:
            frame = read_manifest(folder)
            row[count] = len(frame)
            row.update({col: _joined(frame.get(source)) for col, source in joined.items()})
        except InputError as err:
            row[count] = f"problem: {str(err).splitlines()[0][:80]}"
        rows.append(row)
    return pd.DataFrame(rows, columns=[label, count, *joined, "modified"])


def sample_set_table(ws: Workspace) -> pd.DataFrame:
    """Saved sample sets newest first: ``samples set``, ``pairs``, ``checkpoints``, ``start scales``, ``seeds``,
    ``modified``."""
    return _manifest_table(ws, "samples", "samples set", "pairs",
                           {"checkpoints": "checkpoint", "start scales": "gen_start_scale", "seeds": "seed"})


def style_set_table(ws: Workspace) -> pd.DataFrame:
    """Style-transfer sets newest first: ``style set``, ``images`` (finished), ``ratio``, ``random features``,
    ``modified``."""
    return _manifest_table(ws, "style", "style set", "images",
                           {"ratio": "st_ratio", "random features": "st_random_features"})


def study_table(ws: Workspace) -> pd.DataFrame:
    """Study folders newest first: ``study``, ``kind``, ``runs finished``, ``runs pending``, ``dataset``,
    ``modified`` (a folder without ``study.json`` yet is listed as ``starting``)."""
    from ..studies.results import load_study

    rows = []
    for name in newest_first(ws, "studies"):
        folder = ws.studies / name
        row: dict[str, Any] = {"study": name, "modified": _when(_modified(folder))}
        try:
            res = load_study(folder)
            row.update(kind=res.config.kind, **{"runs finished": len(res.table), "runs pending": len(res.pending)},
                       dataset=Path(res.config.data_dir).name)
        except InputError:
            row.update(kind="starting")
        except (ValueError, TypeError, KeyError, OSError) as err:
            row.update(kind=f"problem: {type(err).__name__}")
        rows.append(row)
    return pd.DataFrame(rows, columns=["study", "kind", "runs finished", "runs pending", "dataset", "modified"])


TABLES = {"datasets": dataset_table, "checkpoints": checkpoint_table, "samples": sample_set_table,
          "style": style_set_table, "studies": study_table}


def table(ws: Workspace, category: str) -> pd.DataFrame:
    """The table of ``category`` (one of :data:`CATEGORIES`), newest first; its first column is the item name."""
    _check_category(category)
    return TABLES[category](ws)


def _joined(values: Iterable[Any] | None, limit: int = 4) -> str:
    if values is None:
        return ""
    seen = list(dict.fromkeys(str(v) for v in values if str(v) not in ("", "nan", "<NA>")))
    return ", ".join(seen[:limit]) + (f" (+{len(seen) - limit})" if len(seen) > limit else "")


def settings_table(data: dict[str, Any], prefix: str = "") -> pd.DataFrame:
    """A nested dict (e.g. a checkpoint's ``train`` / ``source`` record) as readable ``setting`` / ``value`` rows:
    nested keys joined with ``.``, lists of numbers shortened, every value as text."""
    rows: list[dict[str, str]] = []

    def walk(obj: Any, key: str) -> None:
        if isinstance(obj, dict) and obj:
            for k, v in obj.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(obj, (list, tuple)):
            items = [round(v, 4) if isinstance(v, float) else v for v in obj]
            text = ", ".join(map(str, items[:12])) + (f", … ({len(items)} values)" if len(items) > 12 else "")
            rows.append({"setting": key, "value": text})
        else:
            rows.append({"setting": key, "value": "" if obj is None else
                         (f"{obj:.6g}" if isinstance(obj, float) else str(obj))})

    walk(data, prefix)
    return pd.DataFrame(rows, columns=["setting", "value"])


def checkpoint_settings(cfg: dict[str, Any]) -> pd.DataFrame:
    """A checkpoint config's ``train`` and ``source`` records as one :func:`settings_table`."""
    return pd.concat([settings_table(cfg.get("train") or {}, "train"),
                      settings_table(cfg.get("source") or {}, "source")])


def scales_table(cfg: dict[str, Any]) -> pd.DataFrame:
    """One row per trained scale of a checkpoint config (1 = coarsest): size, channels and noise amplitude."""
    sizes = cfg["sizes"]
    return pd.DataFrame({"scale": [f"{i} of {len(sizes)}" for i in range(1, len(sizes) + 1)],
                         "height": [s[0] for s in sizes], "width": [s[1] for s in sizes],
                         "channels (nfc)": cfg["nfc"][:len(sizes)], "noise amplitude": cfg["noise_amp"][:len(sizes)]})


def taken_names(ws: Workspace, category: str, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that already name an item folder of ``category`` (as the core would spell them)."""
    _check_category(category)
    return [n for n in names if (ws.root / category / safe_name(n)).exists()]


def legacy_folders(ws: Workspace) -> list[str]:
    """The folders under ``legacy/`` an import can start from (links are not followed), sorted."""
    if not ws.legacy.is_dir():
        return []
    return sorted(p.name for p in ws.legacy.iterdir() if p.is_dir() and not p.is_symlink())


# ---------------------------------------------------------------------------------------------- jobs ↔ items
def job_targets(job: Any, ws: Workspace | None = None) -> dict[str, list[ItemRef]]:
    """What a job (a :class:`.jobs.Job`) ``reads`` and ``writes``, as its kind's ``job_tasks.JobTask`` says
    (with ``ws``, a style job also reads the checkpoints its sample set's manifest names)."""
    from .job_tasks import TASKS

    task = TASKS.get(job.kind)
    if task is None:
        return {"reads": [], "writes": []}
    a, result = dict(job.args or {}), (job.status or {}).get("result") or {}
    return {"reads": task.reads(a, ws), "writes": task.writes(a, result)}


def active_jobs(ws: Workspace) -> list[Any]:
    """Queued and running jobs of the workspace, newest first."""
    from .jobs import list_jobs

    return [j for j in list_jobs(ws) if j.active]


def jobs_using(ws: Workspace, category: str, name: str) -> list[Any]:
    """Active jobs that read or write ``category/name``."""
    ref = ItemRef(category, name)
    return [j for j in active_jobs(ws) if any(ref in refs for refs in job_targets(j, ws).values())]


def job_outputs(job: Any) -> list[str]:
    """Where a job's output goes (or went), as workspace-relative folders, e.g. ``["checkpoints/img1"]``."""
    result = (job.status or {}).get("result") or {}
    for key in ("samples", "style", "study"):
        if isinstance(result.get(key), str):
            return [result[key]]
    if job.kind == "import-legacy" and not result:
        return ["checkpoints/ (imported models)"]
    return [ref.path for ref in job_targets(job)["writes"]]


def job_caption(job: Any, limit: int = 3) -> str:
    """What tells jobs of the same kind apart: when it was created and where its output goes,
    e.g. ``created 14:02:31 · → checkpoints/img1, checkpoints/img2 (+3 more)``."""
    created = datetime.fromtimestamp(job.created)
    when = created.strftime("%H:%M:%S") if created.date() == datetime.now().date() else created.strftime(
        "%Y-%m-%d %H:%M")
    outs = job_outputs(job)
    text = ", ".join(outs[:limit]) + (f" (+{len(outs) - limit} more)" if len(outs) > limit else "")
    return f"created {when}" + (f" · → {text}" if text else "")


def item_state(item: dict[str, Any], job_state: str | None = None) -> str:
    """The state to show for one job item: an item still marked ``queued`` that has progress is ``running``; in a
    job that ended ``cancelled`` or ``interrupted`` (``job_state``), an item still marked running or queued takes
    the job's state (records written before a cancel marked its items)."""
    state = str(item.get("state") or "queued")
    if job_state in ("cancelled", "interrupted") and state in ("queued", "running"):
        return job_state
    if state == "queued" and float(item.get("progress") or 0.0) > 0:
        return "running"
    return state


# ---------------------------------------------------------------------------------------------- delete
def delete_item(ws: Workspace, category: str, name: str) -> str:
    """Delete ``<category>/<name>`` from the workspace and return a sentence saying what was deleted.

    Refused with an ``InputError`` naming the item while an active job reads or writes it, and for a checkpoint
    folder another process is writing (its lock is held). The folder is first renamed to a hidden name, so it
    disappears from every listing at once, and then removed.
    """
    _check_category(category)
    ref = ItemRef(category, safe_name(name, LABELS[category]))
    folder = ws.resolve(ref.path, must_exist=True)
    if not folder.is_dir() or ref.name not in item_names(ws, category):
        raise InputError(f"{ref.path} is not a {LABELS[category]} of this workspace")
    _refuse_if_used(ws, ref)
    if category == "checkpoints":
        from ..files.atomic import folder_lock

        with folder_lock(folder, "checkpoint"):  # refuses while a writer outside the job system holds it
            pass
    trash = folder.parent / f".{ref.name}.deleting-{uuid.uuid4().hex[:8]}"
    os.replace(folder, trash)
    try:
        _refuse_if_used(ws, ref)  # a job submitted meanwhile: put the folder back
    except InputError:
        os.replace(trash, folder)
        raise
    shutil.rmtree(trash, ignore_errors=True)
    return f"Deleted {ref.label} ({ref.path})."


def _refuse_if_used(ws: Workspace, ref: ItemRef) -> None:
    users = jobs_using(ws, ref.category, ref.name)
    if users:
        j = users[0]
        raise InputError(f"{ref.label} is used by the {j.state} job '{j.title}' ({j.id}); cancel it or wait "
                         "until it finishes, then delete")

