"""The teaching view: per-scale intermediates of a sample (``SinGANSeg.trace``), the start-scale grid, their
figures and ``singanseg explain``."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from singanseg_core.analysis import teaching
from singanseg_core.cli.main import main as cli
from singanseg_core.model import SinGANSeg, tensor_to_uint8
from singanseg_core.services.demo import ASSETS_DIR

CK = ASSETS_DIR / "checkpoints" / "ihc_r256_c256"   # 5 scales, 26 -> 64 px


@pytest.fixture(scope="module")
def model(one_torch_thread) -> SinGANSeg:
    return SinGANSeg.from_pretrained(CK)


@pytest.mark.parametrize("start", [0, 1, 2, 3, 4, 5])
def test_trace_is_the_sample(model: SinGANSeg, start: int) -> None:
    """The trace's final image and mask are sample(1, k, seed)'s, bit for bit, at every start scale."""
    trace = model.trace(seed=7, gen_start_scale=start)
    ref = model.sample(1, start, seed=7, return_raw_mask=True)
    assert trace.gen_start_scale == start and trace.seed == 7
    assert np.array_equal(trace.image, ref.images[0])
    mask, pct = trace.mask_at()
    assert np.array_equal(mask, ref.masks[0])
    assert pct == pytest.approx(ref.true_pixel_pct[0])
    assert np.array_equal(trace.raw_mask, ref.raw_masks[0])
    # the last scale's output is the final image, before the uint8 rule
    last = torch.from_numpy(trace.scales[-1].output).permute(2, 0, 1)[None]
    assert np.array_equal(tensor_to_uint8(last[:, :3])[0], trace.image)


def test_trace_intermediates(model: SinGANSeg) -> None:
    start, pad, cfg = 2, model.config.pad, model.config
    trace = model.trace(seed=3, gen_start_scale=start)
    noise = model.draw_noise(1, torch.Generator().manual_seed(3))
    assert len(trace.scales) == model.num_scales
    for s in trace.scales:
        h, w = cfg.sizes[s.scale]
        assert s.size == (h, w)
        assert s.real.shape == (h, w, 4) and s.real.dtype == np.uint8
        assert np.array_equal(s.real, tensor_to_uint8(model.reals[s.scale])[0])
        assert s.noise.shape == (h, w) and s.noise.dtype == np.float32
        assert s.prev_up.shape == s.output.shape == (h, w, 4)
        assert s.noise_amp == cfg.noise_amp[s.scale]
        assert s.used_stored_noise == (s.scale < start)
        if s.used_stored_noise:   # the reconstruction noise z_opt, unpadded
            assert np.array_equal(s.noise, model.z_opt[s.scale][0, 0, pad:pad + h, pad:pad + w].numpy())
        else:                     # the noise sample() draws for this seed
            assert np.array_equal(s.noise, noise[s.scale][0, 0].numpy())
        assert np.isfinite(s.output).all() and np.abs(s.prev_up).max() <= 1.0  # prev_up: after the uint8 trip
    assert not trace.scales[0].prev_up.any()            # nothing below the coarsest scale
    for below, here in zip(trace.scales, trace.scales[1:]):
        # what a scale refines is the scale below's output, enlarged (bicubic here vs MATLAB-style there)
        up = F.interpolate(torch.from_numpy(below.output).permute(2, 0, 1)[None], size=here.size, mode="bicubic",
                           align_corners=False)[0].permute(1, 2, 0).numpy()
        assert np.abs(up - here.prev_up).mean() < 0.05, here.scale
        assert np.corrcoef(up.ravel(), here.prev_up.ravel())[0, 1] > 0.95


def test_mask_at_threshold(model: SinGANSeg) -> None:
    trace = model.trace(seed=1)
    assert trace.raw_mask.shape == trace.image.shape[:2] and 0 <= trace.raw_mask.min() <= trace.raw_mask.max() <= 1
    pcts = [trace.mask_at(t)[1] for t in (0.1, 0.5, 0.9)]
    assert pcts[0] >= pcts[1] >= pcts[2]
    m, pct = trace.mask_at(0.3)
    assert set(np.unique(m)) <= {0, 255}
    assert pct == pytest.approx((trace.raw_mask > 0.3).mean() * 100)
    assert trace.mask_at(1.0)[1] == 0.0   # raw values never exceed 1


def test_start_scale_grid_rows_are_samples(model: SinGANSeg) -> None:
    grid = model.start_scale_grid(seed=5, n=3)
    assert len(grid) == model.num_scales + 1
    for k, row in enumerate(grid):
        ref = model.sample(3, k, seed=5)
        assert row.gen_start_scale == k and row.seed == 5
        assert np.array_equal(row.images, ref.images) and np.array_equal(row.masks, ref.masks)
    # the last row is the reconstruction: every sample the same, the stored-noise output
    rec = tensor_to_uint8(model.reconstruct()[:, :3])[0]
    assert all(np.array_equal(img, rec) for img in grid[-1].images)
    assert not np.array_equal(grid[0].images[0], grid[0].images[1])  # fresh noise everywhere: they differ


def test_trace_figure_layout(model: SinGANSeg) -> None:
    trace = model.trace(seed=0, gen_start_scale=1)
    small = teaching.trace_figure(trace, tile=64, captions=False)
    big = teaching.trace_figure(trace, tile=128, captions=False)
    captioned = teaching.trace_figure(trace, tile=64, captions=True)
    assert small.mode == "RGB" and big.width > small.width and big.height > small.height
    assert captioned.height > small.height and captioned.width == small.width
    # one row per scale plus the final row: height grows by one tile per scale
    fewer = teaching.trace_figure(trace.__class__(0, 0, trace.scales[:2], trace.raw_mask, trace.image), tile=64,
                                  captions=False)
    assert small.height - fewer.height >= 3 * 64
    # a real tile is pasted at its place: the first scale's noise tile, enlarged by nearest neighbours
    tile = np.asarray(teaching.scale_row_images(trace.scales[0], 64)[1])
    arr = np.asarray(small)
    assert any(np.array_equal(arr[y:y + 64, x:x + 64], tile) for y in range(0, 100) for x in range(100, 260))


def test_captions_are_one_sentence_each() -> None:
    texts = list(teaching.TRACE_CAPTIONS.values()) + [teaching.START_SCALE_CAPTION]
    for text in texts:
        assert text.endswith(".") and len(re.findall(r"[.!?](\s|$)", text)) == 1, text
    assert {k for k, _ in teaching.TRACE_COLUMNS} <= set(teaching.TRACE_CAPTIONS)


def test_start_scale_figure(model: SinGANSeg) -> None:
    grid = model.start_scale_grid(seed=0, n=2)
    fig = teaching.start_scale_figure(grid, tile=48, captions=False)
    with_real = teaching.start_scale_figure(grid, tile=48, real=np.asarray(model.real_image()),
                                            real_mask=np.asarray(model.real_mask()), captions=False)
    wider = teaching.start_scale_figure(model.start_scale_grid(seed=0, n=4), tile=48, captions=False)
    assert with_real.height - fig.height >= 48 and wider.width - fig.width >= 2 * 48
    assert fig.height >= (model.num_scales + 1) * 48
    assert teaching.start_scale_row_label(0, 5)[1:] == ["fresh noise at", "every scale"]
    assert "reconstruction" in teaching.start_scale_row_label(5, 5)
    assert "scale 3 of 5" in teaching.start_scale_row_label(2, 5)


def test_explain_cli(tmp_path, capsys) -> None:
    out = tmp_path / "fig.png"
    assert cli(["explain", "--checkpoint", str(CK), "--seed", "2", "--start-scale", "1", "--tile", "48",
                "--out", str(out)]) == 0
    assert "5 scales, seed 2, start scale 1" in capsys.readouterr().out
    img = Image.open(out)
    assert img.mode == "RGB" and img.height > 6 * 48
    grid = tmp_path / "grid.png"
    assert cli(["explain", "--checkpoint", str(CK), "--start-scales", "--n", "2", "--out", str(grid)]) == 0
    assert Image.open(grid).width > 2 * 96
    assert cli(["explain", "--checkpoint", str(CK), "--quality", "--n", "4"]) == 0
    assert "no sign of undertraining in 4 samples" in capsys.readouterr().out
    # bad input: one line naming the problem, no file
    assert cli(["explain", "--checkpoint", str(CK), "--out", str(tmp_path / "x.jpg")]) == 1
    assert cli(["explain", "--checkpoint", str(CK), "--start-scale", "9", "--out", str(tmp_path / "y.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--out must name a .png" in err[0] and "--start-scale must be in 0..5" in err[1]
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path / "y.png").exists()
