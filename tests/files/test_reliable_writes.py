"""Nothing lost, nothing mislabelled: study --overwrite, concurrent writers, reserved folders, all-or-nothing
sample sets, checkpoints, style sets and study runs, and a full disk as one clear line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from singanseg_core.cli.main import main
from singanseg_core.errors import Cancelled, InputError
from singanseg_core.files.atomic import folder_lock
from singanseg_core.files.pairs import load_pair
from singanseg_core.model import SinGANSeg, checkpoint_status
from singanseg_core.services import jobs
from singanseg_core.services.demo import ASSETS_DIR
from singanseg_core.services.workspace import Workspace
from singanseg_core.training import train
from singanseg_core.training.config import TrainConfig
from testkit import hostile
from tests.helpers import polyp

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny nets on a shared 2-core machine

DEMO_CK = ASSETS_DIR / "checkpoints" / "ihc_r256_c256"
STEMS = ("cju5k3j3uf6de0817hszzfr7n", "cju2zp89k9q1g0855k1x0f1xa")


def _error_lines(stderr: str) -> list[str]:
    """stderr without progress bars (tqdm redraws with carriage returns)."""
    return [ln for part in stderr.split("\n") for ln in part.split("\r") if ln.strip() and "%|" not in ln]


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or p.name.endswith(".tmp"))


# ---------------------------------------------------------------------------------------------- study --overwrite
@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    return hostile.textured_dataset(tmp_path / "data")


def _study(data: Path, out: Path, *extra: str) -> list[str]:
    return ["study", "small-data", "--data", str(data), "--out", str(out), "--r-values", "2", "--epochs", "1",
            "--overwrite", *extra]


def _snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_study_overwrite_never_deletes_the_data(dataset: Path, capsys: pytest.CaptureFixture) -> None:
    before = _snapshot(dataset)
    for out in (dataset, dataset / "images", dataset.parent):
        assert main(_study(dataset, out)) == 1
        line = _one_error_line(capsys)
        assert "overlap the data folder" in line and "nothing was deleted" in line
        assert _snapshot(dataset) == before


def test_study_overwrite_with_bad_data_deletes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    precious = tmp_path / "results"
    precious.mkdir()
    (precious / "study.json").write_text("{}")   # even a study folder of ours stays when the data is bad
    (precious / "thesis.txt").write_text("keep me")
    assert main(_study(tmp_path / "no-such-data", precious)) == 1
    assert "no-such-data" in _one_error_line(capsys)
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_study_overwrite_only_replaces_study_folders(dataset: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    assert main(_study(dataset, other)) == 1
    assert "is not a study folder" in _one_error_line(capsys) and (other / "holiday.jpg").exists()
    link = tmp_path / "link"
    link.symlink_to(other)
    assert main(_study(dataset, link)) == 1
    assert "not a study folder" in _one_error_line(capsys) and (other / "holiday.jpg").exists()
    # A study folder of ours is replaced (stopped at its first event: we only look at the deletion).
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "study.json").write_text("{}")
    (ours / "old-run.txt").write_text("old")
    from singanseg_core.studies import StudyConfig, run_study

    config = StudyConfig.from_preset("small-data", "demo", dataset, r_values=[2])
    with pytest.raises(Cancelled):
        run_study(config, ours, progress=lambda ev: False, overwrite=True)
    assert not (ours / "old-run.txt").exists() and (ours / "study.json").is_file()


# ---------------------------------------------------------------------------------------------- concurrent writers
@pytest.mark.slow
def test_two_train_processes_into_one_folder(tmp_path: Path) -> None:
    """The second `singanseg train` into a folder being trained is refused in one line; the folder keeps
    only the first image's model (never weights of one image with real.png of the other)."""
    (img_a, msk_a), (img_b, msk_b) = polyp(STEMS[0]), polyp(STEMS[1])
    out = tmp_path / "ck"
    base = [sys.executable, "-m", "singanseg_core", "train", "--out", str(out), "--preset", "tiny",
            "--max-size", "40", "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.Popen(base + ["--image", str(img_a), "--mask", str(msk_a), "--iters", "100000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        end = time.time() + 180
        while time.time() < end and first.poll() is None:  # until the first one holds the folder
            lock = out / ".lock"
            if lock.exists() and lock.read_text().strip() == str(first.pid):
                break
            time.sleep(0.2)
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        second = subprocess.run(base + ["--image", str(img_b), "--mask", str(msk_b), "--iters", "2"],
                                capture_output=True, text=True, env=env, timeout=300)
        assert first.poll() is None  # the refusal happened while the first one was training
        lines = _error_lines(second.stderr)
        assert second.returncode == 1 and second.stderr.count("\n") == 1 and len(lines) == 1, second.stderr
        assert f"being written by another process (pid {first.pid})" in lines[0]
    finally:
        first.kill()
        first.wait()
    status = checkpoint_status(out)
    if status.config is not None:  # a scale may have finished: it is the first image's, image and weights
        assert status.config.source["content_hash"] == load_pair(img_a, msk_a).content_hash()
        assert (np.asarray(Image.open(out / "real.png")) == load_pair(img_a, msk_a).image).all()


def test_reserve_dir_gives_every_caller_its_own_folder(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    got: list[Path] = []
    threads = [threading.Thread(target=lambda: got.append(ws.reserve_dir(ws.checkpoints, "polyp 1")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in got) == sorted(["polyp_1"] + [f"polyp_1-{i}" for i in range(2, 9)])
    assert all(p.is_dir() and not any(p.iterdir()) for p in got)
    assert ws.list_checkpoints() == []   # reserved (empty) folders are not checkpoints
    assert ws.release_dir(got[0]) and not got[0].exists()
    (got[1] / "x").write_text("x")
    assert not ws.release_dir(got[1]) and got[1].exists()
    with pytest.raises(InputError):
        ws.reserve_dir(tmp_path, "outside")


def test_two_sessions_submitting_the_same_names_get_their_own_folders(demo_ws: Workspace) -> None:
    stem = demo_ws.dataset_pairs("demo-ihc")[0][0]
    args = {"dataset": "demo-ihc", "stems": [stem], "names": {stem: "mine"}, "preset": "tiny", "device": "cpu"}
    a = jobs.submit(demo_ws, "train", dict(args), start=False)
    b = jobs.submit(demo_ws, "train", dict(args), start=False)
    assert a.args["names"] == {stem: "mine"} and b.args["names"] == {stem: "mine-2"}
    assert (demo_ws.checkpoints / "mine").is_dir() and (demo_ws.checkpoints / "mine-2").is_dir()
    into = jobs.submit(demo_ws, "train", dict(args, fresh=False), start=False)   # continue: the named folder
    assert into.args["names"] == {stem: "mine"}
    ck = demo_ws.list_checkpoints()[0]
    s1 = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 1, "out": "set"}, start=False)
    s2 = jobs.submit(demo_ws, "sample", {"checkpoints": [ck], "n": 1, "out": "set"}, start=False)
    assert (s1.args["out"], s2.args["out"]) == ("set", "set-2")


# ---------------------------------------------------------------------------------------------- sample sets
@pytest.fixture()
def model(tmp_path: Path) -> SinGANSeg:
    shutil.copytree(DEMO_CK, tmp_path / "ck")
    return SinGANSeg.from_pretrained(tmp_path / "ck")


def test_sample_set_is_all_or_nothing(model: SinGANSeg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.sampling.writer import write_sample_set

    out = tmp_path / "samples" / "set"
    with hostile.disk_budget(monkeypatch, 40_000) as disk:   # room for a few PNGs, not for 8
        with pytest.raises(InputError) as err:
            write_sample_set([model], out, 8, seed=1, batch_size=2)
    assert disk["refused"] >= 1 and "the disk is full" in str(err.value) and "\n" not in str(err.value)
    assert not out.exists() and _leftovers(out.parent) == []
    with pytest.raises(Cancelled):
        write_sample_set([model], out, 4, seed=1, batch_size=2, progress=lambda name, d, n: d < 2)
    assert not out.exists() and _leftovers(out.parent) == []
    frame = write_sample_set([model], out, 2, gen_start_scale=1, seed=7)
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(frame) == len(manifest) == 2 and set(manifest["seed"]) == {7} and set(manifest["gen_start_scale"]) == {1}
    with pytest.raises(InputError, match="already exists"):
        write_sample_set([model], out, 2)
    write_sample_set([model], out, 1, seed=8, overwrite=True)
    assert set(pd.read_csv(out / "manifest.csv")["seed"]) == {8}
    reserved = tmp_path / "samples" / "reserved"
    reserved.mkdir()
    write_sample_set([model], reserved, 1)   # an empty reserved folder is filled
    assert len(pd.read_csv(reserved / "manifest.csv")) == 1


def test_a_killed_writers_temporary_folder_is_cleared(model: SinGANSeg, tmp_path: Path) -> None:
    """kill -9 leaves the hidden temporary folder of an all-or-nothing write; the next write of that result
    removes it (its name carries the dead writer's pid), never one of a writer still alive."""
    from singanseg_core.sampling.writer import write_sample_set

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    parent = tmp_path / "samples"
    stale, alive = parent / f".set.partial-{dead.pid}-0000abcd", parent / f".set.partial-{os.getpid()}-0000abcd"
    for folder in (stale, alive):
        folder.mkdir(parents=True)
        (folder / "x_img.png").write_bytes(b"half")
    write_sample_set([model], parent / "set", 1)
    assert not stale.exists() and alive.exists() and (parent / "set" / "manifest.csv").is_file()


def test_cli_sample_on_a_full_disk_is_one_line(model: SinGANSeg, tmp_path: Path, capsys: pytest.CaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    with hostile.disk_budget(monkeypatch, 20_000):
        assert main(["sample", "--checkpoint", str(model.path), "--out", str(out), "--n", "8",
                     "--batch-size", "2"]) == 1
    assert "the disk is full" in _one_error_line(capsys)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_checkpoint_save_on_a_full_disk_keeps_the_last_scale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The config of scale 2 cannot be written: the checkpoint still is scale 1's, whole and resumable."""
    out = tmp_path / "ck"
    with hostile.disk_budget(monkeypatch, 0, only=".config.json.", armed=False) as disk:
        def arm(ev) -> None:  # noqa: ANN001
            disk["armed"] = disk["armed"] or ev.scale >= 1
        with pytest.raises(InputError, match="the disk is full"):
            train(*polyp(STEMS[0]), out, TrainConfig.from_preset("tiny", max_size=40, niter=2), progress=arm,
                  device="cpu")
    from safetensors import safe_open

    status = checkpoint_status(out)
    assert status.state == "partial" and status.config.num_trained == 1, status
    assert SinGANSeg.from_pretrained(out).num_scales == 1
    with safe_open(str(out / "model.safetensors"), "pt") as weights:  # the weights are scale 1's too
        assert sorted({k.split(".")[1] for k in weights.keys() if k.startswith("generators.")}) == ["0"]
    assert _leftovers(out) == []


# ---------------------------------------------------------------------------------------------- style sets, study runs
def test_style_set_resumes_without_unlabelled_rows_and_is_locked(tmp_path: Path) -> None:
    from singanseg_core.sampling.manifest import read_manifest_rows, write_manifest_rows
    from singanseg_core.style.config import StyleTransferConfig
    from singanseg_core.style.folder import style_transfer_samples
    from tests.style.style_inputs import samples_folder as _samples

    samples, out = _samples(tmp_path), tmp_path / "styled"
    cfg = StyleTransferConfig(steps=2, precision="fp32", size=16)
    style_transfer_samples(samples, out, cfg, random_features=True, device="cpu")
    columns, rows = read_manifest_rows(out)
    write_manifest_rows(out, columns, rows[1:])   # a crash after an image was written, before its row was
    style_transfer_samples(samples, out, cfg, random_features=True, device="cpu")
    _, rows = read_manifest_rows(out)
    assert len(rows) == 3 and all(r["st_ratio"] == "1:1000" and r["st_steps"] == "2" for r in rows)
    with folder_lock(out, "style folder"):
        with pytest.raises(InputError, match="being written by another process"):
            style_transfer_samples(samples, out, cfg, random_features=True, device="cpu")


def test_study_run_is_all_or_nothing(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from singanseg_core.studies import StudyConfig, run_study
    from singanseg_core.studies import run as study_run

    def fake_training(train, val, seg, out_dir=None, progress=None):  # noqa: ANN001, ANN202
        return SimpleNamespace(metrics={"iou": 0.5}, history=pd.DataFrame({"epoch": [1]}), best_epoch=1,
                               seconds=0.1, model=SimpleNamespace(info={}))

    monkeypatch.setattr(study_run, "train_segmentation", fake_training)
    config = StudyConfig.from_preset("small-data", "demo", dataset, r_values=[2])
    out = tmp_path / "study"
    with hostile.disk_budget(monkeypatch, 0, only="train_files.csv"):
        with pytest.raises(InputError, match="the disk is full"):
            run_study(config, out)
    runs = out / "runs"
    assert not runs.exists() or (not list(runs.iterdir()))
    assert (out / "study.json").is_file()
