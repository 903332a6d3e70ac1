"""The training-free 4-channel patch nearest-neighbour baseline (singanseg_core.baselines.patch_nn)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from singanseg_core.baselines import PatchNN, PatchNNConfig
from singanseg_core.baselines.patch_nn import exhaustive_nn, local_nn
from singanseg_core.errors import InputError
from singanseg_core.model import Samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 48, 56  # 5 scales (25x30 ... 48x56): the first four searched exhaustively, the finest locally


def _smooth(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth random field in [0, 1], ``(h, w)``: bilinear upsampling of a ``cells x cells`` grid."""
    coarse = torch.from_numpy(rng.random((1, 1, cells, cells))).float()
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True)[0, 0].numpy()


def _synthetic(h: int = H, w: int = W, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Image whose red channel IS the mask (255 inside the two blobs, 0 elsewhere); green/blue hold a texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    blobs = (((yy - 0.3 * h) / (0.16 * h)) ** 2 + ((xx - 0.3 * w) / (0.12 * w)) ** 2 < 1) | \
            (((yy - 0.7 * h) / (0.12 * h)) ** 2 + ((xx - 0.72 * w) / (0.18 * w)) ** 2 < 1)
    mask = np.where(blobs, 255, 0).astype(np.uint8)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (yy / 9.0 + xx / 13.0) + rng.uniform(0, 2 * np.pi))
    texture = np.stack([0.6 * _smooth(rng, h, w, 7) + 0.4 * stripes, _smooth(rng, h, w, 5)], -1)
    image = np.dstack([mask, (texture * 255).round().astype(np.uint8)])
    return image, mask


@pytest.fixture(scope="module")
def gen() -> PatchNN:
    image, mask = _synthetic()
    return PatchNN(image, mask, PatchNNConfig(iters=4))


@pytest.fixture(scope="module")
def samples(gen: PatchNN) -> Samples:
    return gen.sample(4, seed=3, return_raw_mask=True)


def _real(gen: PatchNN) -> np.ndarray:
    """Finest real scale as ``(H, W, 4)`` float64 in [0, 255]."""
    return gen.reals[-1][0].permute(1, 2, 0).double().numpy() * 255.0


def test_both_search_modes_are_exercised(gen: PatchNN):
    pairs = [(s.grid[0] * s.grid[1]) ** 2 for s in gen._scales]
    assert gen.num_scales == 5 and gen.size == (H, W)
    assert pairs[0] <= gen.config.exhaustive_max_pairs < pairs[-1]


def test_shapes_dtypes_and_value_ranges(samples: Samples):
    assert samples.images.shape == (4, H, W, 3) and samples.images.dtype == np.uint8
    assert samples.masks.shape == (4, H, W) and samples.masks.dtype == np.uint8
    assert set(np.unique(samples.masks)) <= {0, 255}
    assert samples.raw_masks is not None and samples.raw_masks.shape == (4, H, W)
    assert samples.raw_masks.dtype == np.float32
    assert samples.raw_masks.min() >= 0.0 and samples.raw_masks.max() <= 1.0
    assert np.array_equal(samples.masks == 255, samples.raw_masks > 0.5)
    assert samples.seed == 3 and samples.gen_start_scale == 0 and len(samples) == 4


def test_no_raw_mask_unless_asked_and_zero_samples(gen: PatchNN):
    assert gen.sample(1, seed=0).raw_masks is None
    empty = gen.sample(0, seed=0, return_raw_mask=True)
    assert empty.images.shape == (0, H, W, 3) and empty.masks.shape == (0, H, W)
    assert empty.raw_masks is not None and empty.raw_masks.shape == (0, H, W)


def test_same_seed_same_output_whatever_the_batch_size(gen: PatchNN, samples: Samples):
    again = gen.sample(4, seed=3, batch_size=3, return_raw_mask=True)
    assert np.array_equal(again.images, samples.images)
    assert np.array_equal(again.masks, samples.masks)
    assert np.array_equal(again.raw_masks, samples.raw_masks)
    # sample i only depends on (seed, i): the first two of four are the two of a run of two
    assert np.array_equal(gen.sample(2, seed=3).images, samples.images[:2])


def test_different_seeds_and_samples_differ(gen: PatchNN, samples: Samples):
    other = gen.sample(4, seed=4)
    for a, b in zip(samples.images, other.images):
        assert np.abs(a.astype(int) - b.astype(int)).mean() > 3.0
    assert np.abs(samples.images[0].astype(int) - samples.images[1].astype(int)).mean() > 3.0
    assert isinstance(gen.sample(1).seed, int)  # seed=None draws one and reports it


def test_the_mask_moves_with_the_image(samples: Samples):
    # The red channel equals the mask in every real patch, and the generator copies and averages whole
    # 4-channel patches, so red and mask stay equal wherever the patches land (seams included): red within
    # half a grey level of 255 * raw mask, and red (>= 128) exactly where the mask is 255 except where the raw
    # mask is within 1/255 of the 0.5 threshold (allowed: at most 0.5 % of the pixels).
    red = samples.images[..., 0].astype(np.float64)
    assert np.abs(red - 255.0 * samples.raw_masks).max() <= 0.5 + 1e-3
    decided = np.abs(samples.raw_masks - 0.5) > 1.0 / 255.0
    assert decided.mean() > 0.995
    assert np.array_equal((red >= 128)[decided], (samples.masks == 255)[decided])
    for m in samples.masks:  # and there is a mask to align: foreground and background in every sample
        assert 0.03 < (m == 255).mean() < 0.6


def test_outputs_are_made_of_real_content(gen: PatchNN, samples: Samples):
    # Bounds set against what fails them (measured): real + N(0, 8) noise has 90 % of pixels within 12 levels
    # and patch quantiles (25 %, 50 %) = (6.7, 6.9); the real blurred (sigma 1.5) (9.6, 10.6); skipping the
    # finest-scale search (upsampled coarser output) (5.3, 12.8). This generator: 98.5 %, (1.6, 5.0).
    real = _real(gen)
    # (1) colours: output pixels' RGB lie near some real pixel's RGB; averaging overlapping patches at the
    # hard red 0/255 blob borders makes new in-between colours, hence 3 % slack
    palette = torch.from_numpy(real[..., :3].reshape(-1, 3))
    out = torch.from_numpy(samples.images.reshape(-1, 3).astype(np.float64))
    nearest = torch.cdist(out, palette).min(1).values.numpy()
    assert (nearest <= 12.0).mean() >= 0.97 and nearest.mean() < 3.0
    # (2) patches: RMS difference (grey levels) of each 7x7 4-channel output patch to its closest real patch
    p = gen.config.patch_size
    real_patches = F.unfold(torch.from_numpy(real).permute(2, 0, 1)[None], p)[0].T
    stacked = np.concatenate([samples.images, samples.masks[..., None]], -1).astype(np.float64)
    stacked[..., 3] = samples.raw_masks * 255.0
    rms = []
    for img in stacked:
        patches = F.unfold(torch.from_numpy(img).permute(2, 0, 1)[None], p)[0].T
        rms.append((torch.cdist(patches, real_patches).min(1).values / math.sqrt(4 * p * p)).numpy())
    q25, q50 = np.quantile(np.concatenate(rms), [0.25, 0.5])
    assert q25 < 3.0 and q50 < 6.5, (q25, q50)


def test_samples_are_not_the_input(gen: PatchNN, samples: Samples):
    real = _real(gen)[..., :3]
    diffs = [np.abs(img.astype(np.float64) - real).mean() for img in samples.images]
    assert min(diffs) > 5.0, diffs


def test_completeness_pushes_queries_to_unused_keys():
    # Keys A and B; query 0 is A itself, query 1 is a bit closer to A than to B. Plain NN sends both to A;
    # GPNN's score D / (alpha + min_q D) makes A "taken" (its best query is at distance 0) and sends query 1 to B.
    keys = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    queries = torch.tensor([[0.0, 0.0], [0.45, 0.0]])
    assert exhaustive_nn(queries, keys, math.inf, 1 << 20).tolist() == [0, 0]
    assert exhaustive_nn(queries, keys, 1e-3, 1 << 20).tolist() == [0, 1]
    cand = torch.tensor([[[0, 1], [0, 1]]])
    assert local_nn(queries[None], keys, cand, math.inf, 1 << 20).tolist() == [[0, 0]]
    assert local_nn(queries[None], keys, cand, 1e-3, 1 << 20).tolist() == [[0, 1]]


def test_chunked_search_equals_unchunked():
    g = torch.Generator().manual_seed(0)
    q, k = torch.rand(300, 12, generator=g), torch.rand(257, 12, generator=g)
    for alpha in (0.005, math.inf):
        whole = exhaustive_nn(q, k, alpha, chunk_elems=1 << 30)
        assert torch.equal(exhaustive_nn(q, k, alpha, chunk_elems=257 * 7), whole)  # 43 chunks of 7 rows
        assert torch.equal(exhaustive_nn(q, k, alpha, chunk_elems=1), whole)  # one row at a time
    cand = torch.randint(0, 257, (2, 150, 9), generator=g)
    whole = local_nn(q.view(2, 150, 12), k, cand, 0.005, chunk_elems=1 << 30)
    assert torch.equal(local_nn(q.view(2, 150, 12), k, cand, 0.005, chunk_elems=9 * 12 * 5), whole)


def test_memory_bound_does_not_change_samples(gen: PatchNN, samples: Samples):
    image, mask = _synthetic()
    small = PatchNN(image, mask, PatchNNConfig(iters=4, chunk_elems=4096))
    assert np.array_equal(small.sample(2, seed=3).images, samples.images[:2])


def test_local_search_follows_a_translation():
    # Queries are the real image shifted by (3, -2) px; every query starts matched 2 px (diagonally) off its
    # true key. One pass of the local search (window radius 2) must find the exact copy for every query.
    image, mask = _synthetic(64, 64, seed=1)
    gen = PatchNN(image, mask, PatchNNConfig(max_size=64, pca_dims=None))
    s = gen._scales[-1]
    real = gen.reals[-1]
    shifted = real[:, :, 3:, :-2]  # query pixel (i, j) = real (i + 3, j)
    query = F.pad(shifted, (2, 0, 0, 3), mode="replicate")  # back to 64x64: pixel (i, j) = real (i + 3, j - 2)
    gh, gw = s.grid
    qi, qj = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    inside = (qi + 3 < gh) & (qj - 2 >= 2)
    truth = ((qi + 3).clamp(max=gh - 1) * gw + (qj - 2).clamp(min=0)).view(1, -1)
    start = ((qi + 3 + 2).clamp(max=gh - 1) * gw + (qj - 2 - 2).clamp(min=0)).view(1, -1)
    found = local_nn(gen._project(query, s), s.keys, gen._candidates(start, s), math.inf, 1 << 20)
    assert torch.equal(found.view(gh, gw)[inside], truth.view(gh, gw)[inside])


def test_matches_are_carried_to_the_next_scale():
    # A coarse match field that is a pure shift by (6, 9) patch positions becomes a shift of about
    # (6, 9) / scale_factor positions one scale up (rounded, up to one position of slack); away from the
    # borders, where the shifted positions would be clamped.
    image, mask = _synthetic(64, 64, seed=2)
    gen = PatchNN(image, mask, PatchNNConfig(max_size=64))
    src, dst = gen._scales[-2], gen._scales[-1]
    gi, gj = torch.meshgrid(torch.arange(src.grid[0]), torch.arange(src.grid[1]), indexing="ij")
    nnf = ((gi + 6).clamp(max=src.grid[0] - 1) * src.grid[1] + (gj + 9).clamp(max=src.grid[1] - 1)).view(1, -1)
    up = gen._upsample_nnf(nnf, src, dst).view(dst.grid)
    ri, rj = up // dst.grid[1], up % dst.grid[1]
    fi, fj = torch.meshgrid(torch.arange(dst.grid[0]), torch.arange(dst.grid[1]), indexing="ij")
    r = dst.size[0] / src.size[0]
    interior = (fi < dst.grid[0] - 17) & (fj < dst.grid[1] - 17)
    assert interior.sum() > 1000
    assert ((ri - fi)[interior] - 6 * r).abs().max() <= 1.0
    assert ((rj - fj)[interior] - 9 * r).abs().max() <= 1.0


def test_from_files_and_from_pair(tmp_path):
    image, mask = _synthetic()
    Image.fromarray(image).save(tmp_path / "i.png")
    Image.fromarray(mask).save(tmp_path / "m.png")
    Image.fromarray(np.dstack([image, mask])).save(tmp_path / "rgba.png")
    cfg = PatchNNConfig(iters=2)
    a = PatchNN.from_files(tmp_path / "i.png", tmp_path / "m.png", cfg).sample(1, seed=5)
    b = PatchNN.from_files(tmp_path / "rgba.png", config=cfg).sample(1, seed=5)
    c = PatchNN(image, mask, cfg).sample(1, seed=5)
    assert np.array_equal(a.images, c.images) and np.array_equal(b.images, c.images)
    assert np.array_equal(a.masks, c.masks)


def test_bad_inputs_raise_input_error(tmp_path):
    image, mask = _synthetic()
    with pytest.raises(InputError, match=r"mask is 56x40 px but the image is 56x48 px"):
        PatchNN(image, mask[:40])
    with pytest.raises(InputError, match=r"image of 20x20 px is smaller than the coarsest scale \(25 px\)"):
        PatchNN(image[:20, :20], mask[:20, :20])
    with pytest.raises(InputError, match=r"image must be \(H, W, 3\) uint8"):
        PatchNN(image.astype(np.float32), mask)
    with pytest.raises(InputError, match=r"min_size \(25\) must be ≥ patch_size \(31\)"):
        PatchNN(image, mask, PatchNNConfig(patch_size=31))
    with pytest.raises(InputError, match=r"missing\.png: file not found"):
        PatchNN.from_files(tmp_path / "missing.png", tmp_path / "m.png")
    gen = PatchNN(image, mask, PatchNNConfig(iters=1))
    with pytest.raises(InputError, match=r"n must be an integer ≥ 0, got -1"):
        gen.sample(-1)
    with pytest.raises(InputError, match=r"batch_size must be ≥ 1"):
        gen.sample(1, batch_size=0)
