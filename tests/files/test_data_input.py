"""Input reading: pairs, RGBA, Kvasir-SEG folders, and every bad input named in the engine issue."""

import numpy as np
import pytest
from PIL import Image

from singanseg_core.files.pairs import find_pairs, load_folder, load_pair
from singanseg_core.errors import InputError
from singanseg_core.training import train
from singanseg_core.training.config import TrainConfig
from tests.helpers import POLYPS, polyp, needs_shared


def _write(path, arr):
    Image.fromarray(arr).save(path)
    return path


def test_real_pair_loads_as_rgb_and_binary_mask():
    img, msk = polyp("cju16d65tzw9d0799ouslsw25")
    pair = load_pair(img, msk)
    assert pair.image.shape == (530, 481, 3) and pair.image.dtype == np.uint8
    assert set(np.unique(pair.mask)) <= {0, 255}
    # SOURCE.md lists the foreground fraction of this case as 0.0467.
    assert (pair.mask > 0).mean() == pytest.approx(0.0467, abs=5e-4)
    t = pair.to_tensor()
    assert t.shape == (1, 4, 530, 481) and float(t.min()) >= -1 and float(t.max()) <= 1


def test_rgba_png_alpha_is_the_mask(tmp_path):
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[10:20, 10:30, 3] = 255
    pair = load_pair(_write(tmp_path / "x.png", rgba))
    assert pair.mask.sum() == 255 * 200 and pair.image[0, 0, 0] == 200


def test_grey_mask_is_binarised_and_changes_are_counted(tmp_path):
    """Anti-aliased edge rows (grey next to black and white) are binarised at 127 and counted."""
    img = _write(tmp_path / "i.png", np.zeros((30, 30, 3), np.uint8))
    m = np.zeros((30, 30), np.uint8)
    m[10:20] = 255
    m[9] = 100    # → 0 (30 px changed)
    m[20] = 200   # → 255 (30 px changed)
    pair = load_pair(img, _write(tmp_path / "m.png", m))
    assert pair.changed_pixels == 60
    assert "binarised at 127 (60 pixels changed)" in pair.notes[0]
    assert (pair.mask == 255).sum() == 330


def test_rgb_mask_is_accepted(tmp_path):
    img = _write(tmp_path / "i.png", np.zeros((30, 30, 3), np.uint8))
    m = np.zeros((30, 30, 3), np.uint8)
    m[:10] = 255
    assert (load_pair(img, _write(tmp_path / "m.png", m)).mask == 255).sum() == 300


def test_bad_inputs_name_the_file_and_the_problem(tmp_path):
    img = _write(tmp_path / "i.png", np.zeros((30, 40, 3), np.uint8))
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(InputError, match=r"notes\.png: not a readable image"):
        load_pair(bad, img)
    with pytest.raises(InputError, match=r"missing\.png: file not found"):
        load_pair(img, tmp_path / "missing.png")
    small = _write(tmp_path / "m.png", np.zeros((20, 40), np.uint8))
    with pytest.raises(InputError, match=r"m\.png: mask is 40x20 px but image i\.png is 40x30 px"):
        load_pair(img, small)
    with pytest.raises(InputError, match="no mask given"):
        load_pair(img)


def test_image_smaller_than_the_coarsest_scale_is_refused(tmp_path):
    img = _write(tmp_path / "tiny.png", np.zeros((20, 60, 3), np.uint8))
    msk = _write(tmp_path / "tiny_m.png", np.zeros((20, 60), np.uint8))
    with pytest.raises(InputError, match=r"tiny\.png: image of 60x20 px is smaller than the coarsest scale"):
        train(img, msk, tmp_path / "out", TrainConfig.from_preset("tiny"), device="cpu")
    assert not (tmp_path / "out").exists()


@needs_shared
def test_kvasir_folder(tmp_path):
    pairs = find_pairs(POLYPS)
    assert len(pairs) == 40 and pairs[0][0] == "cju13cgqmnhwn0988yrainhcp"
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(InputError, match="no images found"):
        find_pairs(tmp_path)
    for stem in ("a", "b"):
        _write(tmp_path / "images" / f"{stem}.png", np.zeros((30, 30, 3), np.uint8))
    _write(tmp_path / "masks" / "a.png", np.zeros((30, 30), np.uint8))
    _write(tmp_path / "masks" / "c.png", np.zeros((30, 30), np.uint8))
    with pytest.raises(InputError, match="images without a mask: b; masks without an image: c"):
        find_pairs(tmp_path)
    (tmp_path / "masks" / "c.png").rename(tmp_path / "masks" / "b.png")
    assert [p.name for p in load_folder(tmp_path)] == ["a", "b"]
    with pytest.raises(InputError, match="folder not found"):
        find_pairs(tmp_path / "nope")
