"""Mask-guided generation and editing (``model.guided``, ``model.edit``, ``analysis.realism``) on a tiny polyp model
trained here (40 px, 5 scales, a few seconds): the requested mask drives the generated one, seeds reproduce, bad
guides get one clear line."""

from __future__ import annotations

import numpy as np
import pytest

from singanseg_core.analysis.realism import guide_distance, patch_nn_distance
from singanseg_core.errors import InputError
from singanseg_core.model.edit import EditSpec, edit, edited_pair
from singanseg_core.model.guided import (MAX_GUIDE_PIXELS, GuidedSamples, derive_guide_image, guided_sample, inpaint,
                                         mask_iou, read_guide_mask, real_pair)
from singanseg_core.training import train
from singanseg_core.training.config import TrainConfig
from tests.helpers import polyp
from testkit.hostile import decompression_bomb_png, png_bytes

STEM = "cju2zp89k9q1g0855k1x0f1xa"
CFG = TrainConfig.from_preset("tiny", max_size=40, min_size=16, niter=12, seed=3)


@pytest.fixture(scope="module")
def model(tmp_path_factory, one_torch_thread):
    return train(*polyp(STEM), tmp_path_factory.mktemp("guided") / STEM, CFG, device="cpu")


def shifted_real_mask(model, dy: int = 8, dx: int = -10) -> np.ndarray:
    """The real polyp's mask moved to a place the model never drew it: ``(H, W)`` uint8 0/255."""
    _, mask = real_pair(model)
    return np.roll(mask, (dy, dx), axis=(0, 1)).astype(np.uint8) * 255


def test_the_requested_mask_drives_the_generated_one(model) -> None:
    """From scale 2 on the guided masks follow the request (the coarsest inject scale of this barely trained
    model, 16x19 px where the polyp is a few pixels, lets the model's own scales wash it out: a coarse scale leaves
    the model more freedom)."""
    requested = shifted_real_mask(model)
    unguided = mask_iou(model.sample(16, 0, seed=0).masks, requested).mean()
    assert model.num_scales == 5 and unguided < 0.1
    agreement = {}
    for k in range(1, model.num_scales):
        got = guided_sample(model, requested, k, n=8, seed=0)
        assert isinstance(got, GuidedSamples) and got.gen_start_scale == k and got.images.shape == (8, 35, 40, 3)
        assert np.array_equal(got.requested_mask, requested)
        agreement[k] = got.iou.mean()
    assert min(agreement[k] for k in (2, 3, 4)) > unguided + 0.5, (agreement, unguided)
    assert agreement[4] > 0.75 and agreement[4] > agreement[1], agreement


def test_same_seed_same_samples_and_another_seed_others(model) -> None:
    requested = shifted_real_mask(model)
    a = guided_sample(model, requested, 2, n=5, seed=7, batch_size=2)
    b = guided_sample(model, requested, 2, n=5, seed=7, batch_size=2)
    c = guided_sample(model, requested, 2, n=5, seed=8, batch_size=2)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.images, c.images)
    assert len(np.unique(a.images.reshape(5, -1), axis=0)) == 5  # each sample its own noise


def test_a_guide_image_is_what_gets_injected(model) -> None:
    requested = shifted_real_mask(model)
    red = np.zeros((70, 80, 3), np.uint8)
    red[..., 0] = 255
    got = guided_sample(model, requested, model.num_scales - 1, guide_image=red, n=2, seed=0)
    assert (got.guide_image[..., 0] == 255).all() and (got.guide_image[..., 1:] == 0).all()
    # injected at the finest inject scale, the output stays near the guide: far redder than the model's own
    own = model.sample(2, 0, seed=0).images
    redness = lambda im: (im[..., 0].astype(float) - im[..., 1:].mean(axis=-1)).mean()  # noqa: E731
    assert redness(got.images) > redness(own) + 50


def test_derived_guides_remove_the_real_object_and_fill_the_requested_region(model) -> None:
    rgb, mask = real_pair(model)
    requested = shifted_real_mask(model).astype(np.float32) / 255.0
    colour = rgb[mask].mean(axis=0)
    paste, repaint = (derive_guide_image(model, requested, m) for m in ("paste", "repaint"))
    inside, old_only = requested > 0.5, mask & (requested < 0.5)
    assert np.allclose(repaint[inside], colour, atol=1e-5)
    assert not np.allclose(paste[inside], colour, atol=0.02)  # a texture, not one colour
    for guide in (paste, repaint):
        assert guide.shape == rgb.shape and 0 <= guide.min() and guide.max() <= 1
        # the real object's place now holds the surroundings, not the object
        assert np.abs(guide[old_only] - colour).mean() > np.abs(rgb[old_only] - colour).mean()
    with pytest.raises(InputError, match="unknown guide derivation 'blur'"):
        derive_guide_image(model, requested, "blur")


def test_inpaint_fills_a_hole_from_its_surroundings_and_keeps_the_rest() -> None:
    image = np.full((20, 30, 3), 0.25, np.float32)
    image[:, 15:] = 0.75
    hole = np.zeros((20, 30), bool)
    hole[5:15, 3:8] = True
    noisy = image.copy()
    noisy[hole] = np.random.default_rng(0).random((hole.sum(), 3))
    out = inpaint(noisy, hole)
    assert np.array_equal(out[~hole], noisy[~hole])
    assert np.allclose(out[hole], 0.25, atol=1e-5)
    with pytest.raises(InputError, match="covers the whole image"):
        inpaint(image, np.ones((20, 30), bool))


def test_mask_iou() -> None:
    a = np.zeros((4, 4), np.uint8)
    a[:2] = 255
    b = np.zeros((4, 4), np.uint8)
    b[1:3] = 255
    assert mask_iou(np.stack([a, b, np.zeros_like(a)]), a).tolist() == [1.0, 1 / 3, 0.0]
    assert mask_iou(np.zeros((1, 4, 4)), np.zeros((4, 4))).tolist() == [1.0]
    with pytest.raises(InputError, match="cannot be compared"):
        mask_iou(a, np.zeros((3, 3)))


@pytest.mark.parametrize("k", [0, 5, -1, 2.5, True])
def test_an_inject_scale_out_of_range_is_one_clear_error(model, k) -> None:
    with pytest.raises(InputError, match=r"inject scale must be an integer in 1\.\.4 for .*5 scales"):
        guided_sample(model, shifted_real_mask(model), k)


def test_empty_all_white_and_malformed_guides_are_refused(model) -> None:
    with pytest.raises(InputError, match=r"m\.png: empty at the model's 40x35 px"):
        guided_sample(model, np.zeros((50, 60), np.uint8), 2, what="m.png")
    speck = np.zeros((400, 400), np.uint8)
    speck[200, 200] = 255  # one pixel of a large mask: nothing left at 40 px
    with pytest.raises(InputError, match="empty at the model's"):
        guided_sample(model, speck, 2)
    with pytest.raises(InputError, match="all white"):
        guided_sample(model, np.full((50, 60), 255, np.uint8), 2)
    with pytest.raises(InputError, match="single-channel"):
        guided_sample(model, np.zeros((5, 5, 3), np.uint8), 2)
    with pytest.raises(InputError, match=r"guide image: expected \(h, w, 3\) uint8"):
        guided_sample(model, shifted_real_mask(model), 2, guide_image=np.zeros((5, 5), np.uint8))
    with pytest.raises(InputError, match="n must be in 0..1000"):
        guided_sample(model, shifted_real_mask(model), 2, n=1001)


def test_guide_mask_files_binary_label_soft_16_bit_and_hostile(tmp_path) -> None:
    binary = np.zeros((10, 12), np.uint8)
    binary[2:6, 3:9] = 255
    assert np.array_equal(read_guide_mask(png_bytes(binary)), binary / 255.0)
    assert np.array_equal(read_guide_mask(png_bytes(binary // 255)), binary / 255.0)  # a 0/1 label mask
    soft = np.linspace(0, 255, 120).astype(np.uint8).reshape(10, 12)
    assert np.allclose(read_guide_mask(png_bytes(soft)), soft / 255.0)
    deep = (binary.astype(np.uint16) * 257)
    assert np.allclose(read_guide_mask(png_bytes(deep)), binary / 255.0)  # 16-bit levels scaled, not clipped
    with pytest.raises(InputError, match=r"bomb\.png: .*(megapixels|decompression)"):
        read_guide_mask(decompression_bomb_png(), "bomb.png")
    assert MAX_GUIDE_PIXELS < 30_000 ** 2
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(InputError, match="junk.png: not a readable image"):
        read_guide_mask(junk)
    with pytest.raises(InputError, match="nope.png: file not found"):
        read_guide_mask(tmp_path / "nope.png")


def test_edits_move_scale_duplicate_and_remove_the_object(model) -> None:
    _, mask = real_pair(model)
    moved = edited_pair(model, EditSpec(move=(4, -3)))[1] > 0.5
    assert np.array_equal(moved, np.roll(mask, (-3, 4), axis=(0, 1)))
    bigger = edited_pair(model, EditSpec(scale=2.0))[1] > 0.5
    assert 3.0 < bigger.sum() / mask.sum() < 5.0
    twice = edited_pair(model, EditSpec(duplicates=((12, 0),)))[1] > 0.5
    assert twice.sum() == 2 * mask.sum() and (twice & mask).sum() == mask.sum()
    image, gone = edited_pair(model, EditSpec(remove=True))
    assert not gone.any()
    got = edit(model, EditSpec(move=(4, -3)), 3, n=4, seed=0)
    unguided = mask_iou(model.sample(8, 0, seed=0).masks, moved).mean()
    assert np.array_equal(got.requested_mask > 0, moved) and got.iou.mean() > unguided + 0.5
    removed = edit(model, EditSpec(remove=True), 3, n=4, seed=0)
    assert not removed.requested_mask.any() and removed.true_pixel_pct.max() < 1.0
    assert np.array_equal(edit(model, EditSpec(scale=1.5), 2, n=2, seed=4).images,
                          edit(model, EditSpec(scale=1.5), 2, n=2, seed=4).images)


@pytest.mark.parametrize("spec, words", [
    (EditSpec(remove=True, move=(1, 0)), "cannot be combined"),
    (EditSpec(scale=0.01), r"edit scale must be in 0\.1\.\.4"),
    (EditSpec(scale=float("nan")), "edit scale must be in"),
    (EditSpec(move=(40, 0)), "offset 40,0 px leaves the 40x35 px image"),
    (EditSpec(duplicates=((1, 1),) * 9), "at most 8 duplicates"),
    (EditSpec(move=(39, 34)), "outside the 40x35 px image"),
])
def test_bad_edits_are_one_clear_error(model, spec, words) -> None:
    with pytest.raises(InputError, match=words):
        edit(model, spec, 2)


def test_realism_measures(model) -> None:
    rgb, _ = real_pair(model)
    real = (rgb * 255).astype(np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (1, *real.shape), dtype=np.uint8)
    flat = np.full((1, *real.shape), 128, np.uint8)
    own = patch_nn_distance(model.sample(2, 0, seed=0).images, real)
    assert patch_nn_distance(real[None], real)[0] == pytest.approx(0.0, abs=1e-3)
    assert (own < patch_nn_distance(noise, real)).all()
    assert guide_distance(real[None], real).tolist() == [0.0]
    assert guide_distance(flat, np.zeros_like(real))[0] == pytest.approx(128 / 255)
