"""Renaming a checkpoint: the folder, its config name and every reference, together; refused names and uses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from singanseg_core.errors import InputError
from singanseg_core.sampling.manifest import read_manifest
from singanseg_core.services import jobs
from singanseg_core.services.rename import rename_checkpoint
from singanseg_core.services.workspace import Workspace
from tests.helpers import REPO_ROOT


def _sample_set(ws: Workspace, ck: str, name: str = "set1"):  # noqa: ANN202
    from singanseg_core.model import SinGANSeg
    from singanseg_core.sampling.writer import write_samples

    write_samples(SinGANSeg.from_pretrained(ws.checkpoints / ck), ws.samples / name, 2, seed=1)
    return ws.samples / name


def test_rename_changes_the_folder_and_every_reference(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.model import SinGANSeg

    monkeypatch.setattr(jobs, "_spawn", lambda ws, job_dir: None)
    old, other = "ihc_r128_c384", "ihc_r256_c256"
    folder = _sample_set(demo_ws, old)
    _sample_set(demo_ws, other, "set2")
    job = jobs.submit(demo_ws, "sample", {"checkpoints": [old, other], "n": 1, "gen_start_scale": 0, "seed": 0,
                                          "out": "later"}, title="sample")
    jobs.cancel(demo_ws, job.id)   # a finished record that names it
    (demo_ws.studies / "st").mkdir(parents=True)
    (demo_ws.studies / "st" / "study.json").write_text(json.dumps({"checkpoints_dir": str(demo_ws.checkpoints / old),
                                                                   "data_dir": "elsewhere"}))
    line = rename_checkpoint(demo_ws, old, "my_gland")
    assert "my_gland" in line
    assert not (demo_ws.checkpoints / old).exists()
    assert SinGANSeg.from_pretrained(demo_ws.checkpoints / "my_gland").name == "my_gland"
    manifest = read_manifest(folder)
    assert set(manifest["checkpoint"]) == {"my_gland"}
    assert all(p.endswith("/checkpoints/my_gland") for p in manifest["checkpoint_path"])
    assert set(read_manifest(demo_ws.samples / "set2")["checkpoint"]) == {other}   # others untouched
    spec = json.loads((job.dir / "spec.json").read_text())
    assert spec["args"]["checkpoints"] == ["my_gland", other]
    study = json.loads((demo_ws.studies / "st" / "study.json").read_text())
    assert study == {"checkpoints_dir": str(demo_ws.checkpoints / "my_gland"), "data_dir": "elsewhere"}
    assert "my_gland" in demo_ws.list_checkpoints(finished_only=True)


def test_rename_is_refused_for_a_name_in_use_a_bad_name_or_a_checkpoint_a_job_uses(
        demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "_spawn", lambda ws, job_dir: None)
    with pytest.raises(InputError, match="is in use"):
        rename_checkpoint(demo_ws, "ihc_r128_c384", "ihc_r256_c256")
    for bad in ("../up", "", ".hidden", "a/b"):
        with pytest.raises(InputError):
            rename_checkpoint(demo_ws, "ihc_r128_c384", bad)
    with pytest.raises(InputError, match="no checkpoint"):
        rename_checkpoint(demo_ws, "nope", "fine")
    jobs.submit(demo_ws, "sample", {"checkpoints": ["ihc_r128_c384"], "n": 1, "gen_start_scale": 0, "seed": 0,
                                    "out": "queued"}, title="sample")   # queued: its worker never started
    with pytest.raises(InputError, match="used by the queued job"):
        rename_checkpoint(demo_ws, "ihc_r128_c384", "fine")
    assert (demo_ws.checkpoints / "ihc_r128_c384" / "config.json").is_file()
    assert not (demo_ws.checkpoints / "fine").exists()


@pytest.mark.slow
def test_cli_rename(demo_ws: Workspace) -> None:
    run = subprocess.run([sys.executable, "-m", "singanseg_core", "rename", "ihc_r128_c384", "renamed",
                          "--workspace", str(demo_ws.root)], capture_output=True, text=True, cwd=REPO_ROOT,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Renamed checkpoint ihc_r128_c384 to renamed" in run.stdout
    again = subprocess.run([sys.executable, "-m", "singanseg_core", "rename", "renamed", "ihc_r256_c256",
                            "--workspace", str(demo_ws.root)], capture_output=True, text=True, cwd=REPO_ROOT,
                           timeout=300)
    assert again.returncode != 0 and "is in use" in again.stderr and "Traceback" not in again.stderr
