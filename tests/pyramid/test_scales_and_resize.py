"""Scale schedule (hand-computed from the original formula) and the torch MATLAB-bicubic resize."""

import math

import numpy as np
import pytest
import torch

from singanseg_core.pyramid.imresize import imresize, output_length, resize_matrix
from singanseg_core.pyramid.schedule import compute_schedule


def test_schedule_529x622_has_9_scales():
    # num = ceil(log_.75(25/529)) + 1 = 12; scale2stop = ceil(log_.75(250/622)) = 4; stop = 8 → 9 scales.
    s = compute_schedule(529, 622)
    assert s.num_scales == 9
    assert s.resized_size == (213, 250)          # ceil(529 * 250/622) = 213
    assert s.scale_factor == pytest.approx((25 / 213) ** (1 / 8))
    assert s.sizes[-1] == (213, 250)
    assert s.sizes[0] == (math.ceil(213 * s.scale_factor ** 8), math.ceil(250 * s.scale_factor ** 8))


def test_schedule_matches_the_fixture_run():
    # FIXTURE.md: 128x128 at max_size 64 → scale factor sqrt(0.625), sizes 26, 32, 41, 51, 64.
    s = compute_schedule(128, 128, max_size=64)
    assert s.num_scales == 5
    assert s.scale_factor == pytest.approx(math.sqrt(0.625))
    assert [h for h, _ in s.sizes] == [26, 32, 41, 51, 64]


@pytest.mark.parametrize("hw, scales", [((1080, 1350), 10), ((250, 250), 11), ((546, 626), 9), ((100, 400), 5)])
def test_schedule_counts(hw, scales):
    h, w = hw
    num = math.ceil(math.log(25 / min(h, w), 0.75)) + 1
    stop = num - math.ceil(math.log(min(250, max(h, w)) / max(h, w), 0.75))
    assert stop + 1 == scales
    assert compute_schedule(h, w).num_scales == scales


def test_schedule_rejects_images_below_min_size():
    with pytest.raises(ValueError, match="smaller than the coarsest scale"):
        compute_schedule(20, 300)


def test_resize_matrix_rows_sum_to_one_and_constant_image_is_kept():
    for n_in, scale in [(26, 1 / 0.79), (64, 0.5), (41, 0.8)]:
        m = resize_matrix(n_in, output_length(n_in, scale), scale)
        assert torch.allclose(m.sum(1), torch.ones(m.shape[0], dtype=m.dtype))
    x = torch.full((1, 4, 30, 20), 0.2)
    y = imresize(x, 1.3, faithful=False)
    assert y.shape == (1, 4, 39, 26)
    assert torch.allclose(y, torch.full_like(y, 0.2), atol=1e-6)


def test_faithful_resize_quantises_like_the_original():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 17, 23, generator=g) * 2 - 1
    # scale 1 is an identity except for the uint8 truncation round trip.
    y = imresize(x, 1.0, faithful=True)
    levels = torch.trunc(255 * ((x + 1) / 2))
    assert torch.allclose(y, (levels / 255 - 0.5) * 2, atol=1e-6)
    assert not torch.equal(y, x)


def test_left_border_taps_are_dropped_and_right_border_mirrored_in_faithful_mode():
    # Upsampling a ramp: the interior is identical in both modes; only the left edge differs.
    x = torch.arange(10, dtype=torch.float64).view(1, 1, 1, 10) / 10 - 0.5
    a = imresize(x, 1.5, faithful=False)
    mf = resize_matrix(10, 15, 1.5, faithful=True)
    mr = resize_matrix(10, 15, 1.5, faithful=False)
    diff_rows = [i for i in range(15) if not torch.allclose(mf[i], mr[i])]
    assert diff_rows and max(diff_rows) < 3
    assert torch.allclose(mf[-1], mr[-1])
    assert a.shape[-1] == 15


def test_downscale_antialiases():
    # A checkerboard averages out to its mean when downscaled 4x with the stretched kernel.
    x = torch.tensor(np.indices((64, 64)).sum(0) % 2, dtype=torch.float64).view(1, 1, 64, 64) * 2 - 1
    y = imresize(x, 0.25, faithful=False)
    assert y.shape == (1, 1, 16, 16)
    assert y[..., 2:-2, 2:-2].abs().max() < 0.05



def test_preset_help_lines_follow_the_presets_values():
    from dataclasses import replace

    from singanseg_core.training import config

    saved = config.PRESETS["quick"]
    config.PRESETS["quick"] = replace(saved, min_size=40, niter=300)
    try:
        assert "quick: 64 px, coarsest 40 px, 300 it/scale" in config.describe_preset("quick")
    finally:
        config.PRESETS["quick"] = saved


@pytest.mark.parametrize("hw", [(529, 622), (1072, 1280), (332, 487), (64, 64)])   # Kvasir-SEG-like sizes, a thumbnail
def test_the_quick_presets_coarsest_scale_is_about_one_receptive_field(hw):
    # Why the quick preset starts at 16 px (bench/RESULTS.md, "Quick preset"): small polyps vanish from the draws of
    # a coarsest generator that sees only part of the picture (empty masks: 40 px 20 %, 25 px 9 %, 20 px 14 %,
    # 16 px 1 %).
    from singanseg_core.training.config import PRESETS

    cfg = PRESETS["quick"]
    field = 1 + cfg.num_layer * (cfg.ker_size - 1)       # 5 convolutions of 3x3, no padding inside: 11 px
    s = compute_schedule(*hw, cfg.min_size, cfg.max_size, cfg.scale_factor)
    assert field <= min(s.sizes[0]) <= 1.6 * field   # 16-17 px (the sizes are rounded up)
    assert max(s.sizes[-1]) == cfg.max_size
