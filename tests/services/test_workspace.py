"""Workspace safety: paths stay inside, uploads and zips are checked, names are unique; demo workspace."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from singanseg_core.errors import InputError
from singanseg_core.services.workspace import Workspace, safe_name
from tests.helpers import make_zip


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def pair_bytes(h: int = 32, w: int = 40, seed: int = 0) -> tuple[bytes, bytes]:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[8:20, 10:30] = 255
    return png(img), png(mask)




def test_resolve_rejects_escapes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    assert ws.resolve("checkpoints/a") == ws.root / "checkpoints" / "a"
    for bad in ("../x", "checkpoints/../../x", "/etc/passwd", "C:/windows", "a/../../b"):
        with pytest.raises(InputError):
            ws.resolve(bad)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", ws.root / "datasets" / "link")
    with pytest.raises(InputError, match="symbolic link"):
        ws.resolve("datasets/link/x")
    assert "link" not in ws.list_datasets()


def test_safe_name() -> None:
    assert safe_name("my data set") == "my_data_set"
    for bad in ("..", "a/b", "", "  ", "..x", "a\\b"):
        with pytest.raises(InputError):
            safe_name(bad)


def test_add_pairs_checks_and_unique_names(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    img, mask = pair_bytes()
    other, _ = pair_bytes(seed=1)
    folder, written = ws.add_pairs("set1", [("a.png", img, mask)])
    _, written2 = ws.add_pairs("set1", [("a.png", other, mask)])  # same name, other picture: a new name
    assert written == ["a"] and written2 == ["a-2"]
    assert sorted(p.name for p in (folder / "images").iterdir()) == ["a-2.png", "a.png"]
    assert ws.list_datasets() == ["set1"]
    _, small_mask = pair_bytes(16, 16)
    with pytest.raises(InputError, match="must match"):
        ws.add_pairs("set1", [("b.png", img, small_mask)])
    with pytest.raises(InputError, match="not a readable image"):
        ws.add_pairs("set1", [("c.png", b"not an image", mask)])
    with pytest.raises(InputError, match="limited to"):
        ws.add_pairs("set1", [("d.png", img, mask)], max_mb=0.0001)


def test_add_pairs_names_the_file_each_problem_is_about_and_lists_every_problem(tmp_path: Path) -> None:
    """The mask's own file name in its problems (not the image's), and every problem of a batch in one line."""
    ws = Workspace(tmp_path / "ws")
    img, _ = pair_bytes(200, 300)
    _, small_mask = pair_bytes(20, 30)
    colour = np.zeros((32, 40, 3), np.uint8)
    colour[:16] = (255, 0, 0)
    colour[16:] = (0, 0, 255)
    img2, _ = pair_bytes(32, 40, seed=2)
    good_img, good_mask = pair_bytes(32, 40, seed=3)
    with pytest.raises(InputError) as err:
        ws.add_pairs("set1", [("sizediff.jpg", img, small_mask, "sizediff.png")])
    assert str(err.value).startswith("sizediff.png (mask): mask is 30x20 px but image sizediff.jpg")
    batch = [("sizediff.jpg", img, small_mask, "sizediff.png"), ("ok.png", good_img, good_mask, "ok.png"),
             ("col.jpg", img2, png(colour), "col.png"), ("bad.png", b"not an image", good_mask, "bad.png")]
    with pytest.raises(InputError) as err:
        ws.add_pairs("set1", batch)
    text = str(err.value)
    assert "\n" not in text and "3 problems" in text, text
    assert "sizediff.png (mask): mask is 30x20 px" in text and "col.png (mask): a colour mask" in text, text
    assert "bad.png (image)" in text and "col.jpg (mask)" not in text, text
    assert not (ws.datasets / "set1" / "images").exists() or not any((ws.datasets / "set1" / "images").iterdir())


def test_import_zip_kvasir_layout(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    img, mask = pair_bytes()
    img2, _ = pair_bytes(seed=2)
    data = make_zip({"Kvasir-SEG/images/p1.png": img, "Kvasir-SEG/masks/p1.png": mask,
                     "Kvasir-SEG/images/p2.png": img2, "Kvasir-SEG/masks/p2.png": mask})
    folder, n = ws.import_zip(data, "kvasir")
    assert n == 2 and folder.name == "kvasir"
    folder2, _ = ws.import_zip(data, "kvasir")
    assert folder2.name == "kvasir-2"
    assert ws.counts().datasets == 2


@pytest.mark.parametrize("entries,links,match", [
    ({"../evil.png": b"x", "images/a.png": b"x", "masks/a.png": b"x"}, None, "unsafe path"),
    ({"/abs/evil.png": b"x", "images/a.png": b"x", "masks/a.png": b"x"}, None, "unsafe path"),
    ({"images/a.png": b"x", "masks/a.png": b"x"}, {"images/b.png": "/etc/passwd"}, "link"),
    ({"foo/a.png": b"x"}, None, "no images/ and masks/"),
])
def test_import_zip_refuses_bad_archives(tmp_path: Path, entries, links, match) -> None:
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InputError, match=match):
        ws.import_zip(make_zip(entries, links), "bad")
    assert ws.list_datasets() == []
    assert not any(p.name.startswith(".bad") for p in ws.datasets.iterdir())


def test_import_zip_unmatched_and_not_zip(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    img, mask = pair_bytes()
    with pytest.raises(InputError, match="unmatched"):
        ws.import_zip(make_zip({"images/a.png": img, "masks/b.png": mask}), "x")
    with pytest.raises(InputError, match="not a valid zip"):
        ws.import_zip(b"PK-not-really", "x")
    assert ws.list_datasets() == []


def test_demo_workspace(demo_ws: Workspace) -> None:
    from singanseg_core.services.demo import DEMO_CHECKPOINTS, DEMO_DATASET, ensure_demo_workspace, is_demo_workspace
    from singanseg_core.model import is_finished_checkpoint

    assert DEMO_DATASET in demo_ws.list_datasets()
    assert len(demo_ws.dataset_pairs(DEMO_DATASET)) == 8
    assert sorted(demo_ws.list_checkpoints(finished_only=True)) == sorted(DEMO_CHECKPOINTS)
    assert all(is_finished_checkpoint(demo_ws.checkpoints / n) for n in DEMO_CHECKPOINTS)
    assert is_demo_workspace(demo_ws)
    assert ensure_demo_workspace(demo_ws) is False  # not empty: left alone


def test_demo_masks_are_documented_threshold() -> None:
    from singanseg_core.services.demo import ASSETS_DIR, make_tiles

    tiles = make_tiles()
    assert len(tiles) == 8
    for name, img, mask in tiles:
        committed = np.asarray(Image.open(ASSETS_DIR / "dataset" / "masks" / f"{name}.png"))
        assert np.array_equal(committed, mask), name
        assert set(np.unique(mask)) <= {0, 255}
        assert 0.05 < (mask > 0).mean() < 0.7


def test_demo_specs_describe_their_committed_checkpoints() -> None:
    """Each ``DEMO_SPECS`` entry's settings are those its committed checkpoint records (a spec that drifted from
    its checkpoint, e.g. after a default changed, would label the demo with settings it was not trained with)."""
    import json

    from singanseg_core.services.demo import ASSETS_DIR, DEMO_CHECKPOINTS, DEMO_SPECS
    from singanseg_core.training.config import TrainConfig

    for name in DEMO_CHECKPOINTS:
        recorded = json.loads((ASSETS_DIR / "checkpoints" / name / "config.json").read_text())["train"]["config"]
        assert TrainConfig.from_dict(recorded).to_dict() == DEMO_SPECS[name].config().to_dict(), name


@pytest.mark.slow
def test_an_emptied_demo_workspace_stays_empty(demo_ws: Workspace) -> None:
    """The demo is installed once: after the teacher deleted it, nothing that runs again (a restart, a visitor's
    cache clear) writes it back, and the sidebar no longer says demo data is loaded."""
    import shutil

    from singanseg_core.services.demo import ensure_demo_workspace, is_demo_workspace

    for folder in (demo_ws.datasets, demo_ws.checkpoints, demo_ws.samples):
        for item in folder.iterdir():
            shutil.rmtree(item)
    assert ensure_demo_workspace(demo_ws) is False
    assert demo_ws.list_datasets() == [] and demo_ws.list_checkpoints() == [] and demo_ws.list_sample_sets() == []
    assert not is_demo_workspace(demo_ws)
    assert ensure_demo_workspace(demo_ws, force=True) and is_demo_workspace(demo_ws)
