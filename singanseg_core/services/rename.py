"""Renaming a checkpoint of the workspace, with every reference to it.

A checkpoint is named by its folder ``checkpoints/<name>`` and its ``config.json`` ``name``; sample and style sets
name it in their manifests (``checkpoint``, ``checkpoint_path``), job records in their arguments, results and
per-model items, studies in ``study.json`` when they use the workspace's checkpoints. :func:`rename_checkpoint`
changes all of them together: every new file is prepared first, the folder is renamed, then the files are written
all or nothing (``files.atomic.atomic_write_together``); a failure puts the folder back. It is refused when the
new name is taken or not a plain name, and while a queued or running job uses the checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files.atomic import atomic_write_together, folder_lock
from ..files.bounded_json import read_json
from ..sampling.manifest import MANIFEST_NAME, read_manifest_rows
from .workspace import Workspace, safe_name

MAX_RECORD_BYTES = 4 * 2**20   # a job record or study.json read for references (real ones are a few KB)


def _manifest_bytes(folder: Path, old: str, new: str, new_path: str) -> bytes | None:
    """The manifest of ``folder`` with ``old`` renamed, or ``None`` when it does not name ``old``."""
    columns, rows = read_manifest_rows(folder)
    hit = False
    for row in rows:
        if row.get("checkpoint") == old:
            hit = True
            row["checkpoint"] = new
            if "checkpoint_path" in row and Path(row["checkpoint_path"] or ".").name == old:
                row["checkpoint_path"] = new_path
    if not hit:
        return None
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def _renamed_paths(obj: Any, old_paths: set[str], new_path: str) -> Any:
    """``obj`` (JSON) with every string that is one of ``old_paths`` replaced by ``new_path``."""
    if isinstance(obj, dict):
        return {k: _renamed_paths(v, old_paths, new_path) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_renamed_paths(v, old_paths, new_path) for v in obj]
    return new_path if isinstance(obj, str) and obj in old_paths else obj


def _job_record(obj: dict, old: str, new: str, old_paths: set[str], new_rel: str) -> dict:
    """A job's ``spec.json`` or ``status.json`` with checkpoint ``old`` renamed where a job names a checkpoint:
    ``args.checkpoints`` / ``args.checkpoint`` / the values of ``args.names``, ``result.checkpoints``, the per-model
    ``items`` and workspace paths (``checkpoints/<old>``). Image stems (``args.stems``) are left alone."""
    out = _renamed_paths(obj, old_paths, new_rel)
    swap = (lambda v: new if v == old else v)  # noqa: E731
    for holder in (out.get("args"), out.get("result")):
        if isinstance(holder, dict):
            if isinstance(holder.get("checkpoints"), list):
                holder["checkpoints"] = [swap(v) for v in holder["checkpoints"]]
            if holder.get("checkpoint") == old:
                holder["checkpoint"] = new
            if isinstance(holder.get("names"), dict):
                holder["names"] = {k: swap(v) for k, v in holder["names"].items()}
    if isinstance(out.get("items"), dict) and old in out["items"]:
        out["items"] = {new if k == old else k: v for k, v in out["items"].items()}
    return out


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def rename_checkpoint(ws: Workspace, old: str, new: str) -> str:
    """Rename checkpoint ``old`` to ``new`` everywhere in ``ws`` (see the module docstring); returns one line
    saying what changed.

    Raises:
        InputError: ``old`` is not a checkpoint of ``ws``; ``new`` is not a plain name or is in use; a queued or
            running job uses ``old``; another writer holds the checkpoint.
    """
    from ..model.config import name_problem
    from .catalog import jobs_using

    old = safe_name(old, "checkpoint")
    problem = name_problem(new)
    if problem:
        raise InputError(f"new {problem}")
    new = safe_name(new, "new checkpoint name")
    src = ws.checkpoints / old
    if src.is_symlink() or not (src / "config.json").is_file():
        raise InputError(f"there is no checkpoint {old!r} in the workspace (checkpoints/)")
    if new == old:
        raise InputError(f"the checkpoint is already called {old!r}")
    dst = ws.checkpoints / new
    if dst.exists() or dst.is_symlink():
        raise InputError(f"the name {new!r} is in use (checkpoints/{new}); choose another")
    users = jobs_using(ws, "checkpoints", old)
    if users:
        raise InputError(f"checkpoint {old!r} is used by the {users[0].state} job '{users[0].title}'; rename it "
                         "when that job has finished")
    with folder_lock(src, "checkpoint"):
        new_abs = str(dst)
        old_paths = {str(src), str(src.resolve()), f"checkpoints/{old}"}
        files: list[tuple[Path, bytes]] = []   # (path once renamed, contents)
        config = read_json(src / "config.json", MAX_RECORD_BYTES)
        config["name"] = new
        for category in ("samples", "style"):
            for folder in sorted(p for p in (ws.root / category).glob("*") if (p / MANIFEST_NAME).is_file()):
                data = _manifest_bytes(folder, old, new, new_abs)
                if data is not None:
                    files.append((folder / MANIFEST_NAME, data))
        for record in sorted(ws.jobs.glob("*/*.json")) if ws.jobs.is_dir() else []:
            obj = read_json(record, MAX_RECORD_BYTES)
            changed = _job_record(obj, old, new, old_paths, f"checkpoints/{new}") if isinstance(obj, dict) else obj
            if changed != obj:
                files.append((record, _json_bytes(changed)))
        for study in sorted(ws.studies.glob("*/study.json")) if ws.studies.is_dir() else []:
            obj = read_json(study, MAX_RECORD_BYTES)
            changed = _renamed_paths(obj, old_paths, new_abs)
            if changed != obj:
                files.append((study, _json_bytes(changed)))
        os.rename(src, dst)
        try:
            atomic_write_together(files + [(dst / "config.json", _json_bytes(config))])
        except BaseException:
            os.rename(dst, src)
            raise
    (dst / ".lock").unlink(missing_ok=True)
    return (f"Renamed checkpoint {old} to {new} (and {len(files)} reference file(s): sample-set manifests, job "
            "records, studies).")
