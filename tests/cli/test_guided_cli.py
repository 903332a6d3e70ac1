"""``singanseg sample --guide-mask`` and ``singanseg edit`` end to end on a tiny trained model: the files, the
manifest's guide columns (old manifests still read), one clear line for bad guides."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from singanseg_core.cli.main import main
from singanseg_core.model.guided import mask_iou
from singanseg_core.sampling.manifest import GUIDE_COLUMNS, MANIFEST_COLUMNS, read_manifest
from singanseg_core.training import train
from singanseg_core.training.config import TrainConfig
from tests.helpers import polyp

STEM = "cju2zp89k9q1g0855k1x0f1xa"
CFG = TrainConfig.from_preset("tiny", max_size=40, min_size=16, niter=8, seed=3)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, one_torch_thread):
    out = tmp_path_factory.mktemp("guided_cli") / STEM
    train(*polyp(STEM), out, CFG, device="cpu")
    return out


@pytest.fixture
def guide_mask(tmp_path):
    mask = np.zeros((70, 80), np.uint8)
    mask[20:45, 40:70] = 255
    path = tmp_path / "want.png"
    Image.fromarray(mask).save(path)
    return path


def test_guided_sample_writes_the_set_and_records_the_guide(ckpt, guide_mask, tmp_path, capsys) -> None:
    out = tmp_path / "set"
    assert main(["sample", "--checkpoint", str(ckpt), "--guide-mask", str(guide_mask), "--inject-scale", "3",
                 "--n", "3", "--seed", "5", "--out", str(out)]) == 0
    assert "3 samples injected at scale 3, mean IoU with the requested mask" in capsys.readouterr().out
    frame = read_manifest(out)
    assert list(frame.columns) == MANIFEST_COLUMNS + GUIDE_COLUMNS and len(frame) == 3
    assert set(frame["guide"]) == {"mask:want.png"} and set(frame["guide_image"]) == {"derived:paste"}
    assert set(frame["guide_mask_sha256"]) == {hashlib.sha256(guide_mask.read_bytes()).hexdigest()}
    assert frame["inject_scale"].tolist() == [3, 3, 3] and frame["gen_start_scale"].tolist() == [3, 3, 3]
    requested = np.asarray(Image.open(out / frame["requested_mask"][0]))
    assert requested.shape == (35, 40) and set(np.unique(requested)) == {0, 255}
    assert (out / f"{STEM}_s3_guide.png").is_file()
    for _, row in frame.iterrows():  # each row's IoU is its files' IoU
        mask = np.asarray(Image.open(out / row["mask"]))
        assert row["guide_iou"] == pytest.approx(mask_iou(mask, requested)[0], abs=1e-4)
    assert frame["guide_iou"].mean() > 0.5


def test_a_guide_image_file_is_recorded_and_used(ckpt, guide_mask, tmp_path) -> None:
    image = tmp_path / "paint.png"
    Image.fromarray(np.full((35, 40, 3), (200, 40, 40), np.uint8)).save(image)
    out = tmp_path / "set"
    assert main(["sample", "--checkpoint", str(ckpt), "--guide-mask", str(guide_mask), "--guide-image",
                 str(image), "--inject-scale", "4", "--n", "1", "--out", str(out)]) == 0
    frame = read_manifest(out)
    assert frame["guide_image"][0] == "file:paint.png"
    assert frame["guide_image_sha256"][0] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert np.array_equal(np.asarray(Image.open(out / f"{STEM}_s4_guide.png")), np.asarray(Image.open(image)))


def test_edit_writes_the_edited_set(ckpt, tmp_path, capsys) -> None:
    out = tmp_path / "edit"
    assert main(["edit", "--checkpoint", str(ckpt), "--move=-4,3", "--duplicate", "10,0", "--inject-scale", "3",
                 "--n", "2", "--out", str(out)]) == 0
    frame = read_manifest(out)
    assert set(frame["guide"]) == {"edit:move=-4,3;duplicate=10,0"} and set(frame["guide_image"]) == {"edit"}
    requested = out / frame["requested_mask"][0]
    assert set(frame["guide_mask_sha256"]) == {hashlib.sha256(requested.read_bytes()).hexdigest()}
    assert "2 samples injected at scale 3" in capsys.readouterr().out


def test_plain_manifests_read_as_before(ckpt, tmp_path) -> None:
    out = tmp_path / "plain"
    assert main(["sample", "--checkpoint", str(ckpt), "--n", "2", "--out", str(out)]) == 0
    frame = read_manifest(out)
    assert list(frame.columns) == MANIFEST_COLUMNS and not set(GUIDE_COLUMNS) & set(frame.columns)


@pytest.mark.parametrize("extra, words", [
    (["--inject-scale", "2"], "--guide-image and --inject-scale need --guide-mask"),
    (["--guide-mask", "{mask}"], "--guide-mask needs --inject-scale"),
    (["--guide-mask", "{mask}", "--inject-scale", "2", "--gen-start-scale", "1"],
     "--gen-start-scale do(es) not apply to guided sampling"),
    (["--guide-mask", "{mask}", "--inject-scale", "5"], "inject scale must be an integer in 1..4"),
    (["--guide-mask", "{empty}", "--inject-scale", "2"], "empty.png: empty at the model's 40x35 px"),
    (["--guide-mask", "{white}", "--inject-scale", "2"], "white.png: all white"),
    (["--guide-mask", "{missing}", "--inject-scale", "2"], "missing.png: file not found"),
])
def test_bad_guides_are_one_line_and_write_nothing(ckpt, guide_mask, tmp_path, capsys, extra, words) -> None:
    for name, value in (("empty", 0), ("white", 255)):
        Image.fromarray(np.full((20, 20), value, np.uint8)).save(tmp_path / f"{name}.png")
    paths = {"mask": guide_mask, "empty": tmp_path / "empty.png", "white": tmp_path / "white.png",
             "missing": tmp_path / "missing.png"}
    argv = [a.format(**paths) for a in extra]
    out = tmp_path / "never"
    assert main(["sample", "--checkpoint", str(ckpt), "--out", str(out), *argv]) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], lines
    assert not out.exists()


@pytest.mark.parametrize("extra, words", [
    (["--remove", "--move", "2,2"], "cannot be combined"),
    (["--move", "1"], "must be DX,DY"),
    (["--move", "400,0"], "leaves the 40x35 px image"),
    (["--inject-scale", "9"], "inject scale must be an integer in 1..4"),
])
def test_bad_edits_are_one_line(ckpt, tmp_path, capsys, extra, words) -> None:
    argv = ["edit", "--checkpoint", str(ckpt), "--out", str(tmp_path / "e"), "--inject-scale", "2", *extra]
    assert main(argv) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], lines
    assert not (tmp_path / "e").exists()
