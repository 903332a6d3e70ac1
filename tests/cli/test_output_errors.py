"""The CLI turns every OSError on its output into one line naming the path and the reason, and a full disk's
line says what was kept (nothing for an all-or-nothing sample set, the trained scales for a checkpoint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import singanseg_core.persistence as persistence
from singanseg_core.cli.main import main
from singanseg_core.services.demo import ASSETS_DIR
from testkit import hostile
from tests.helpers import polyp

DEMO_CK = ASSETS_DIR / "checkpoints" / "ihc_r256_c256"


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith(("error", "Traceback", "  File"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture()
def unwritable(tmp_path: Path) -> Path:
    """A path no one can create: its parent is a plain file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    return blocker / "out"


def test_sample_and_style_to_an_unwritable_place_are_one_line(tmp_path: Path, unwritable: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(DEMO_CK, tmp_path / "ck")
    assert main(["sample", "--checkpoint", str(tmp_path / "ck"), "--out", str(unwritable), "--n", "1"]) == 1
    line = _one_error_line(capsys)
    assert str(unwritable.parent) in line and "File exists" in line and "nothing was written" in line
    img = tmp_path / "c.png"
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(img)
    assert main(["style", "--content", str(img), "--style", str(img), "--out", str(unwritable / "x.png"),
                 "--steps", "1", "--size", "16", "--random-features"]) == 1
    assert str(unwritable.parent) in _one_error_line(capsys)


@pytest.mark.slow
def test_train_on_a_full_disk_says_which_scales_were_kept(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ck"
    image, mask = polyp("cju5k3j3uf6de0817hszzfr7n")
    with hostile.disk_budget(monkeypatch, 0, only=".config.json.", armed=False) as disk:
        real_write = persistence.atomic_write_together

        def write_then_fill_the_disk(files):  # noqa: ANN001, ANN202 - the first scale is saved, then none
            real_write(files)
            disk["armed"] = True

        monkeypatch.setattr(persistence, "atomic_write_together", write_then_fill_the_disk)
        assert main(["train", "--image", str(image), "--mask", str(mask), "--out", str(out), "--preset", "tiny",
                     "--max-size", "40", "--iters", "2", "--device", "cpu"]) == 1
    line = _one_error_line(capsys)
    assert "the disk is full" in line and "keeps its 1 of" in line and "--resume" in line
    assert "nothing was written" not in line
