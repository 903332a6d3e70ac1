"""``redraw_empty``: an explicit sampling option that draws a sample again when its mask comes out empty.

The mechanics are checked on a demo checkpoint whose ``generate`` is replaced by a stand-in that makes the mask
empty for about half of the noise draws (a trained model's empty share depends on its training; the small-polyp
numbers are in bench/RESULTS.md, "Quick preset"). The stand-in keeps everything the option relies on: output
depends on the drawn noise only, sample by sample.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from singanseg_core.errors import InputError
from singanseg_core.model.singanseg import SinGANSeg, redraw_seed
from singanseg_core.sampling.manifest import read_manifest
from singanseg_core.sampling.writer import MAX_REDRAWS, write_sample_set, write_samples
from singanseg_core.services.demo import ASSETS_DIR

CKPT = ASSETS_DIR / "checkpoints" / "ihc_r256_c256"


def _half_empty(self: SinGANSeg, noise, gen_start_scale=0, scale_v=1.0, scale_h=1.0, batch=1, precision="fp32",
                compile=False) -> torch.Tensor:
    """``(N, 4, H, W)``: the image from the finest scale's noise; the mask a block when that noise's mean is
    positive, else empty."""
    z = noise[-1].float()
    n, (h, w) = z.shape[0], z.shape[2:]
    out = torch.empty(n, 4, h, w)
    out[:, :3] = z[:, :3].clamp(-1, 1)
    out[:, 3] = -1.0
    out[z.reshape(n, -1).mean(dim=1) > 0, 3, : h // 2, : w // 2] = 1.0
    return out


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> SinGANSeg:
    monkeypatch.setattr(SinGANSeg, "generate", _half_empty)
    return SinGANSeg.from_pretrained(CKPT)


def _empty(masks: np.ndarray) -> np.ndarray:
    return masks.reshape(len(masks), -1).max(axis=1) == 0


def test_only_empty_samples_are_redrawn_each_from_its_own_seed(model: SinGANSeg) -> None:
    base = model.sample(16, seed=5)
    red = model.sample(16, seed=5, redraw_empty=3)
    was_empty = _empty(base.masks)
    assert base.redraws is None and 3 <= was_empty.sum() <= 13
    # samples with a mask are untouched, and not counted as redrawn
    assert np.array_equal(red.images[~was_empty], base.images[~was_empty])
    assert np.array_equal(red.masks[~was_empty], base.masks[~was_empty]) and (red.redraws[~was_empty] == 0).all()
    # the empty ones: redrawn 1..3 times; a success replaces the sample, a failure keeps the first draw
    assert ((red.redraws[was_empty] >= 1) & (red.redraws[was_empty] <= 3)).all()
    fixed = was_empty & ~_empty(red.masks)
    assert fixed.sum() > 0 and _empty(red.masks).sum() < was_empty.sum()
    still = was_empty & _empty(red.masks)
    assert (red.redraws[still] == 3).all() and np.array_equal(red.images[still], base.images[still])
    # each success is the draw that redraw_seed names (seed, index, attempt): no two samples share noise
    for j in np.flatnonzero(fixed):
        gen = torch.Generator().manual_seed(redraw_seed(5, int(j), int(red.redraws[j])))
        alone = model.sample(1, noise=model.draw_noise(1, gen), seed=5)
        assert np.array_equal(alone.images[0], red.images[j])
    assert len({red.images[j].tobytes() for j in np.flatnonzero(fixed)}) == fixed.sum()
    # same seed, same result
    again = model.sample(16, seed=5, redraw_empty=3)
    assert np.array_equal(again.images, red.images) and np.array_equal(again.redraws, red.redraws)


def test_write_samples_records_redraws_whatever_the_batching(model: SinGANSeg, tmp_path: Path) -> None:
    whole = write_samples(model, tmp_path / "a", 12, seed=2, batch_size=4, redraw_empty=4)
    write_samples(model, tmp_path / "b", 7, seed=2, batch_size=16, redraw_empty=4)
    write_samples(model, tmp_path / "b", 5, seed=2, batch_size=3, start_index=7, redraw_empty=4)
    a, b = read_manifest(tmp_path / "a"), read_manifest(tmp_path / "b")
    assert "redraws" in a and list(pd_int(a["redraws"])) == list(pd_int(b["redraws"]))
    assert (pd_int(a["redraws"]) > 0).sum() >= 3 and list(whole["redraws"]) == list(pd_int(a["redraws"]))
    for name in a["image"]:
        assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / name)), np.asarray(Image.open(tmp_path / "b" / name)))
    assert "redraws" not in read_manifest(write_plain(model, tmp_path / "c"))


def pd_int(col) -> np.ndarray:
    return np.asarray(col, dtype=np.int64)


def write_plain(model: SinGANSeg, out: Path) -> Path:
    write_sample_set([model], out, 3, seed=2)
    return out


def test_out_of_range_and_maskless_models_are_refused(model: SinGANSeg, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"redraw_empty must be an integer in 0..{MAX_REDRAWS}, got 33"):
        write_sample_set([model], tmp_path / "x", 2, redraw_empty=MAX_REDRAWS + 1)
    assert not (tmp_path / "x").exists()
    model.config.nc_im = 3
    with pytest.raises(InputError, match="needs a model with a mask channel"):
        model.sample(2, redraw_empty=1)


@pytest.mark.slow
def test_cli_redraw_option(tmp_path: Path) -> None:
    """The real command on a demo checkpoint: the manifest gets the ``redraws`` column; a bad count is one line."""
    out = tmp_path / "s"
    r = subprocess.run([sys.executable, "-m", "singanseg_core", "sample", "--checkpoint", str(CKPT), "--n", "3",
                        "--redraw-empty", "2", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "redraws" in read_manifest(out) and "empty mask(s)" in r.stdout
    r = subprocess.run([sys.executable, "-m", "singanseg_core", "sample", "--checkpoint", str(CKPT),
                        "--redraw-empty", "99", "--out", str(tmp_path / "t")], capture_output=True, text=True)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 1 and len(lines) == 1 and f"--redraw-empty: must be an integer in 0..{MAX_REDRAWS}" in lines[0]


def test_names_captions_and_notes_state_the_redraws(model: SinGANSeg) -> None:
    from ui.labels import describe_sampling, sample_set_name

    assert sample_set_name(["a"], 0, 3) == "a-s0-seed3" and sample_set_name(["a", "b"], 1, 3, 4) == "a-etc-s1-seed3-redraw4"
    assert describe_sampling(0, 3) == "start scale 0, seed 3"
    assert describe_sampling(0, 3, 4) == "start scale 0, seed 3, empty masks redrawn up to 4x"
    plain, red = model.sample(8, seed=5), model.sample(8, seed=5, redraw_empty=3)
    assert plain.redraw_note() is None and all("redrawn" not in c for c in plain.captions())
    fixed = int((red.redraws > 0).sum())
    assert fixed > 0 and red.redraw_note().startswith(f"{fixed} of 8 sample(s) redrawn")
    assert red.redraw_note().endswith(f"{int((red.true_pixel_pct == 0).sum())} still empty")
    assert sum("redrawn" in c for c in red.captions()) == fixed
    assert red.captions()[0].startswith(f"#0 · {red.true_pixel_pct[0]:.1f} % object")
