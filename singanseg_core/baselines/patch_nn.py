"""A training-free 4-channel patch nearest-neighbour generator (GPNN-style baseline).

After Granot et al., "Drop the GAN: In Defense of Patches Nearest Neighbors as Single Image Generative
Models" (CVPR 2022). The image and its mask are stacked into one 4-channel picture (RGB + mask, in [0, 1]),
so every patch copied into an output carries its own piece of mask and the two stay aligned.

Coarse to fine over SinGAN's pyramid (same sizes as a SinGAN-Seg model with the same ``min_size`` /
``max_size`` / ``scale_factor``):

1. coarsest scale: query = downscaled real + Gaussian noise (all four channels, clipped to [0, 1]);
2. every ``p x p`` query patch is replaced by its nearest real patch under GPNN's normalised score
   ``D(q, k) / (alpha + min_q' D(q', k))`` (the denominator favours real patches no query is close to yet,
   GPNN's completeness term), the overlapping copies are averaged back into a picture (fold), repeated;
3. the result is upsampled to the next scale and step 2 runs again. On the first pass of a scale the keys are
   the blurry real (the coarser real upsampled the same way) and the values the sharp real.

Search: scales with few patches compare every query with every key (exhaustive, a matrix product in row
chunks of at most ``chunk_elems`` distances). On larger scales an exhaustive search would cost minutes on a
CPU (50k x 50k patches at 250 px), so those use a local search: each query only looks at keys within
``search_radius`` of where its match from the coarser scale (or the previous pass) points, plus the matches
of its four neighbours (PatchMatch-style propagation). The completeness term is then taken over the queries
that saw each key. Distances are computed on patch vectors projected onto their ``pca_dims`` leading
principal components (of the real patches at that scale); ``pca_dims=None`` keeps all ``4 p^2`` values.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..files.pairs import ImagePair, load_pair
from ..errors import InputError
from ..pyramid.imresize import imresize
from ..model import Samples
from ..pyramid.schedule import compute_schedule

__all__ = ["PatchNNConfig", "PatchNN", "exhaustive_nn", "local_nn"]


@dataclass(frozen=True)
class PatchNNConfig:
    """Settings of :class:`PatchNN`. Intensities are in [0, 1] (all four channels), sizes in pixels.

    Attributes:
        patch_size: side of the square patches, pixels (GPNN uses 7).
        min_size: short side of the coarsest scale, pixels (SinGAN's 25).
        max_size: long side of the finest scale, pixels (SinGAN-Seg paper preset 250); smaller inputs keep
            their size.
        scale_factor: initial ratio between consecutive scales (< 1), adjusted as in SinGAN.
        noise_std: std of the Gaussian noise added to the coarsest real (all four channels), [0, 1] intensity
            units; more noise, more varied layouts. 1.5 was chosen by eye on polyps: at 0.75 most samples keep
            the input's layout, at 3 they start to break into pieces.
        alpha: GPNN's completeness constant, in mean-squared-difference units (per patch value, [0, 1]^2);
            small = every real patch is pushed to appear somewhere, ``math.inf`` = plain nearest neighbour.
        mask_weight: weight of the mask channel in the squared patch distance (RGB channels weigh 1).
        iters: nearest-neighbour passes per exhaustively searched (coarse) scale (GPNN uses 10).
        local_iters: passes per locally searched (fine) scale.
        search_radius: half-width of the local search window, pixels at the current scale.
        exhaustive_max_pairs: a scale whose query count x key count is at most this is searched exhaustively.
        pca_dims: principal components kept for the distance (``None`` = the full ``4 p^2`` values).
        chunk_elems: most distances held at once by the search (float32: ``4 * chunk_elems`` bytes), the
            memory bound of the search; results do not depend on it.
    """

    patch_size: int = 7
    min_size: int = 25
    max_size: int = 250
    scale_factor: float = 0.75
    noise_std: float = 1.5
    alpha: float = 0.005
    mask_weight: float = 1.0
    iters: int = 10
    local_iters: int = 2
    search_radius: int = 2
    exhaustive_max_pairs: int = 1 << 22
    pca_dims: int | None = 32
    chunk_elems: int = 1 << 22

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first setting out of range."""
        checks = [
            (self.patch_size >= 2, f"patch_size must be ≥ 2, got {self.patch_size}"),
            (self.min_size >= self.patch_size,
             f"min_size ({self.min_size}) must be ≥ patch_size ({self.patch_size})"),
            (self.max_size >= self.min_size, f"max_size ({self.max_size}) must be ≥ min_size ({self.min_size})"),
            (0.0 < self.scale_factor < 1.0, f"scale_factor must be in (0, 1), got {self.scale_factor}"),
            (self.noise_std >= 0.0, f"noise_std must be ≥ 0, got {self.noise_std}"),
            (self.alpha > 0.0, f"alpha must be > 0 (math.inf = plain nearest neighbour), got {self.alpha}"),
            (self.mask_weight >= 0.0, f"mask_weight must be ≥ 0, got {self.mask_weight}"),
            (self.iters >= 1 and self.local_iters >= 1,
             f"iters and local_iters must be ≥ 1, got {self.iters} and {self.local_iters}"),
            (self.search_radius >= 0, f"search_radius must be ≥ 0, got {self.search_radius}"),
            (self.pca_dims is None or self.pca_dims >= 1, f"pca_dims must be ≥ 1 or None, got {self.pca_dims}"),
            (self.chunk_elems >= 1, f"chunk_elems must be ≥ 1, got {self.chunk_elems}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(f"PatchNNConfig: {message}")


def _sq_dist(q: torch.Tensor, k: torch.Tensor, k_sq: torch.Tensor) -> torch.Tensor:
    """``(n, m)`` squared L2 distances between rows of ``q (n, d)`` and ``k (m, d)`` (``k_sq`` = row norms²)."""
    d = torch.addmm(k_sq[None, :], q, k.T, beta=1.0, alpha=-2.0)
    return d.add_(q.pow(2).sum(1, keepdim=True)).clamp_min_(0.0)


def exhaustive_nn(q: torch.Tensor, k: torch.Tensor, alpha: float, chunk_elems: int,
                  scale: float = 1.0) -> torch.Tensor:
    """Index of the key with the lowest normalised score for every query, comparing all pairs.

    Args:
        q: ``(n, d)`` query vectors; k: ``(m, d)`` key vectors (same device, float32).
        alpha: completeness constant; score = ``D / (alpha + min over queries of D)``, ``inf`` = plain NN.
        chunk_elems: at most this many distances are held at once (rows of ``q`` are processed in chunks of
            ``max(1, chunk_elems // m)``); the answer does not depend on it.
        scale: ``D = scale * squared L2`` (turns sums into means so ``alpha`` has fixed units).

    Returns:
        ``(n,)`` int64 indices into ``k``.
    """
    n, m = q.shape[0], k.shape[0]
    rows = max(1, chunk_elems // m)
    k_sq = k.pow(2).sum(1)
    spans = [(i, min(n, i + rows)) for i in range(0, n, rows)]
    if math.isinf(alpha):
        return torch.cat([_sq_dist(q[a:b], k, k_sq).argmin(1) for a, b in spans])
    cached = None
    col_min = torch.full((m,), math.inf, device=q.device, dtype=q.dtype)
    for a, b in spans:  # pass 1: the closest query to every key
        d = _sq_dist(q[a:b], k, k_sq).mul_(scale)
        col_min = torch.minimum(col_min, d.min(0).values)
        cached = d if len(spans) == 1 else None
    denom = col_min.add_(alpha)
    out = []
    for a, b in spans:  # pass 2: distances again (unless they fitted in one chunk), now normalised
        d = cached if cached is not None else _sq_dist(q[a:b], k, k_sq).mul_(scale)
        out.append(d.div_(denom).argmin(1))
    return torch.cat(out)


def local_nn(q: torch.Tensor, k: torch.Tensor, cand: torch.Tensor, alpha: float, chunk_elems: int,
             scale: float = 1.0) -> torch.Tensor:
    """Best key among each query's candidates under the normalised score (completeness over candidates).

    Args:
        q: ``(B, n, d)`` queries of ``B`` independent samples; k: ``(m, d)`` keys shared by all samples.
        cand: ``(B, n, c)`` int64 candidate key indices per query.
        alpha, scale: as in :func:`exhaustive_nn`; the minimum over queries of a key's distance is taken over
            the queries of the same sample that have it as a candidate.
        chunk_elems: at most about this many gathered key values (``rows x c x d``) are held at once.

    Returns:
        ``(B, n)`` int64 indices into ``k``.
    """
    bsz, n, c = cand.shape
    d = q.shape[-1]
    flat_q, flat_c = q.reshape(bsz * n, d), cand.reshape(bsz * n, c)
    rows = max(1, chunk_elems // (c * d))
    dist = torch.empty((bsz * n, c), device=q.device, dtype=q.dtype)
    for a in range(0, bsz * n, rows):
        b = min(bsz * n, a + rows)
        diff = k[flat_c[a:b]] - flat_q[a:b, None, :]
        dist[a:b] = diff.pow_(2).sum(-1)
    dist = dist.mul_(scale).view(bsz, n, c)
    if not math.isinf(alpha):
        col_min = torch.full((bsz, k.shape[0]), math.inf, device=q.device, dtype=q.dtype)
        col_min.scatter_reduce_(1, cand.view(bsz, n * c), dist.view(bsz, n * c), reduce="amin")
        dist = dist / (col_min.gather(1, cand.view(bsz, n * c)).view(bsz, n, c) + alpha)
    best = dist.argmin(-1, keepdim=True)
    return cand.gather(-1, best).squeeze(-1)


def _sample_seed(seed: int, index: int) -> int:
    """A 63-bit seed for sample ``index`` of a run with ``seed`` (independent of the batch size)."""
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, index]).generate_state(2, np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1]))


@dataclass
class _Scale:
    """Per-scale tensors of the real pyramid (``L = (h - p + 1) * (w - p + 1)`` patches)."""

    size: tuple[int, int]
    grid: tuple[int, int]  # patch positions (rows, cols)
    real: torch.Tensor  # (4, h * w) the sharp real (the values), [0, 1]
    kernel: torch.Tensor  # (d, 4, p, p) channel weights x principal directions, as a convolution
    bias: torch.Tensor  # (d,) minus the projected mean patch
    coverage: torch.Tensor  # (1, 1, h, w) number of patches covering each pixel
    keys: torch.Tensor | None = None  # (L, d) projected sharp real patches
    blurry_keys: torch.Tensor | None = None  # (L, d) projected upsampled-coarser real patches (None at scale 0)


class PatchNN:
    """GPNN-style generator of image/mask pairs from one real pair; nothing to train.

    >>> gen = PatchNN.from_files("polyp.jpg", "polyp_mask.png")
    >>> s = gen.sample(4, seed=0)          # Samples: images (4, H, W, 3) uint8, masks (4, H, W) uint8 0/255

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)`` uint8, 0/255 (other levels are used as given, scaled by 1/255).
        config: :class:`PatchNNConfig` (defaults if ``None``).
        device: torch device for the search (``"cpu"``, ``"cuda"``).
        name: label used in error messages.

    Raises:
        InputError: wrong dtype/shape, image and mask of different sizes, image smaller than the coarsest
            scale, or a setting out of range.
    """

    def __init__(self, image: np.ndarray, mask: np.ndarray, config: PatchNNConfig | None = None,
                 device: str | torch.device = "cpu", name: str = "image"):
        self.config = config or PatchNNConfig()
        self.config.validate()
        self.name = name
        image, mask = np.asarray(image), np.asarray(mask)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"{name}: image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise InputError(f"{name}: mask must be (H, W) uint8, got {mask.shape} {mask.dtype}")
        if mask.shape != image.shape[:2]:
            raise InputError(f"{name}: mask is {mask.shape[1]}x{mask.shape[0]} px but the image is "
                             f"{image.shape[1]}x{image.shape[0]} px (width x height); they must match")
        cfg = self.config
        try:
            self.schedule = compute_schedule(image.shape[0], image.shape[1], cfg.min_size, cfg.max_size,
                                             cfg.scale_factor)
        except ValueError as err:
            raise InputError(f"{name}: {err}") from None
        self.device = torch.device(device)
        stacked = np.dstack([image, mask]).astype(np.float32) / 255.0
        full = torch.from_numpy(stacked.transpose(2, 0, 1)[None].copy()).to(self.device)
        finest = imresize(full, self.schedule.scale1, faithful=False).clamp(0.0, 1.0)
        stop = self.schedule.stop_scale
        self.reals = [imresize(finest, self.schedule.scale_factor ** (stop - i), faithful=False).clamp(0.0, 1.0)
                      if i < stop else finest for i in range(stop + 1)]
        for r, size in zip(self.reals, self.schedule.sizes):
            assert tuple(r.shape[-2:]) == size, (r.shape, size)
        weight = torch.tensor([1.0, 1.0, 1.0, math.sqrt(cfg.mask_weight)], device=self.device)
        self._channel_weight = weight.view(1, 4, 1, 1)
        self._scales = [self._build_scale(i) for i in range(stop + 1)]

    @classmethod
    def from_pair(cls, pair: ImagePair, config: PatchNNConfig | None = None,
                  device: str | torch.device = "cpu") -> PatchNN:
        """From a loaded :class:`~singanseg_core.data.ImagePair`."""
        return cls(pair.image, pair.mask, config, device, name=pair.image_path or pair.name)

    @classmethod
    def from_files(cls, image: str | os.PathLike, mask: str | os.PathLike | None = None,
                   config: PatchNNConfig | None = None, device: str | torch.device = "cpu") -> PatchNN:
        """From an image + mask file, or one RGBA file whose alpha is the mask (see :func:`load_pair`)."""
        return cls.from_pair(load_pair(image, mask), config, device)

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the generated samples (the finest scale), pixels."""
        return self.schedule.sizes[-1]

    @property
    def num_scales(self) -> int:
        return self.schedule.num_scales

    # -- building blocks ------------------------------------------------------------------------------------

    @staticmethod
    def _project(x: torch.Tensor, s: _Scale) -> torch.Tensor:
        """``(B, 4, h, w)`` → ``(B, L, d)``: every stride-1 patch (row-major positions), channel-weighted,
        centred and projected on the scale's principal directions; one convolution, no ``4 p²`` copy."""
        return F.conv2d(x, s.kernel, s.bias).flatten(2).transpose(1, 2).contiguous()

    def _build_scale(self, i: int) -> _Scale:
        cfg, real = self.config, self.reals[i]
        p = cfg.patch_size
        h, w = real.shape[-2:]
        weighted = F.unfold(real * self._channel_weight, p)[0].T  # (L, 4 p²), set-up only
        mean = weighted.mean(0)
        dim = weighted.shape[1]
        if cfg.pca_dims is None or cfg.pca_dims >= dim:
            basis = torch.eye(dim, device=self.device)
        else:
            centred = (weighted - mean).double()
            _, vecs = torch.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
            basis = vecs[:, -cfg.pca_dims:].flip(1).float().contiguous()
        grid = (h - p + 1, w - p + 1)
        coverage = F.fold(torch.ones((1, p * p, grid[0] * grid[1]), device=self.device), (h, w), p)
        kernel = (basis.T.reshape(-1, 4, p, p) * self._channel_weight).contiguous()
        scale = _Scale((h, w), grid, real[0].reshape(4, h * w), kernel, -(mean @ basis), coverage)
        scale.keys = self._project(real, scale)[0].contiguous()
        if i > 0:
            scale.blurry_keys = self._project(self._upsample(self.reals[i - 1], (h, w)), scale)[0].contiguous()
        return scale

    @staticmethod
    def _upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp_(0.0, 1.0)

    def _fold(self, idx: torch.Tensor, s: _Scale) -> torch.Tensor:
        """``(B, L)`` key indices → ``(B, 4, h, w)``: the chosen real patches, overlaps averaged.

        Adds the patches one pixel offset ``(u, v)`` at a time, so memory stays ``O(B * 4 * h * w)`` instead of
        the ``O(B * 4 p² * L)`` of gathering whole patches for ``F.fold``."""
        p, (gh, gw), (h, w) = self.config.patch_size, s.grid, s.size
        bsz = idx.shape[0]
        top_left = ((idx // gw) * w + idx % gw).view(-1)  # flat pixel index of each chosen patch's corner
        out = torch.zeros((bsz, 4, h, w), device=idx.device, dtype=s.real.dtype)
        for u in range(p):
            for v in range(p):
                pixels = s.real.index_select(1, top_left + (u * w + v)).view(4, bsz, gh, gw)
                out[:, :, u:u + gh, v:v + gw] += pixels.transpose(0, 1)
        return out / s.coverage

    def _upsample_nnf(self, nnf: torch.Tensor, src: _Scale, dst: _Scale) -> torch.Tensor:
        """Carry matches ``(B, L_src)`` one scale up: each fine query takes the offset (key - query position)
        of the coarse query under its centre, stretched by the size ratio. Returns ``(B, L_dst)``."""
        half = (self.config.patch_size - 1) / 2.0
        coarse, fine = [], []
        for dim in range(2):
            pos = torch.arange(dst.grid[dim], device=nnf.device)
            centre = (pos + half + 0.5) * (src.size[dim] / dst.size[dim]) - 0.5  # in coarse pixels
            coarse.append(torch.round(centre - half).long().clamp_(0, src.grid[dim] - 1))
            fine.append(pos)
        (ci, cj), (fi, fj) = coarse, fine
        match = nnf.view(-1, *src.grid)[:, ci][:, :, cj]  # (B, gh_dst, gw_dst) coarse key index
        off_i = (match // src.grid[1] - ci[:, None]) * (dst.size[0] / src.size[0])
        off_j = (match % src.grid[1] - cj[None, :]) * (dst.size[1] / src.size[1])
        ti = (fi[:, None] + torch.round(off_i).long()).clamp_(0, dst.grid[0] - 1)
        tj = (fj[None, :] + torch.round(off_j).long()).clamp_(0, dst.grid[1] - 1)
        return (ti * dst.grid[1] + tj).flatten(1)

    def _candidates(self, nnf: torch.Tensor, s: _Scale) -> torch.Tensor:
        """``(B, L)`` current matches → ``(B, L, c)`` candidates: a window around each query's own offset,
        plus the offsets of its four neighbours applied to it."""
        r, (gh, gw) = self.config.search_radius, s.grid
        bsz = nnf.shape[0]
        ki, kj = (nnf // gw).view(bsz, gh, gw), (nnf % gw).view(bsz, gh, gw)
        qi = torch.arange(gh, device=nnf.device).view(1, gh, 1)
        qj = torch.arange(gw, device=nnf.device).view(1, 1, gw)
        oi, oj = ki - qi, kj - qj
        shifts = [(di, dj) for di in range(-r, r + 1) for dj in range(-r, r + 1)]
        ci = [oi + di for di, _ in shifts]
        cj = [oj + dj for _, dj in shifts]
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # the neighbours' offsets (clamped at the edges)
            rows = (torch.arange(gh, device=nnf.device) + dy).clamp_(0, gh - 1)
            cols = (torch.arange(gw, device=nnf.device) + dx).clamp_(0, gw - 1)
            ci.append(oi[:, rows][:, :, cols])
            cj.append(oj[:, rows][:, :, cols])
        ti = (torch.stack(ci, -1) + qi[..., None]).clamp_(0, gh - 1)
        tj = (torch.stack(cj, -1) + qj[..., None]).clamp_(0, gw - 1)
        return (ti * gw + tj).view(bsz, gh * gw, -1)

    # -- generation -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        """Run the pyramid from coarsest-scale noise.

        Args:
            noise: ``(B, 4, h0, w0)`` added to the coarsest real (already scaled by ``noise_std``).

        Returns:
            ``(B, 4, H, W)`` float32 in [0, 1]: RGB + raw mask at the finest scale.
        """
        cfg = self.config
        scale = 1.0 / (4 * cfg.patch_size ** 2)  # squared L2 → mean squared difference per patch value
        bsz = noise.shape[0]
        y = (self.reals[0] + noise.to(self.device)).clamp_(0.0, 1.0)
        nnf: torch.Tensor | None = None
        for i, s in enumerate(self._scales):
            if i > 0:
                y = self._upsample(y, s.size)
                if nnf is not None:
                    nnf = self._upsample_nnf(nnf, self._scales[i - 1], s)
            n = s.grid[0] * s.grid[1]
            exhaustive = n * n <= cfg.exhaustive_max_pairs
            for t in range(cfg.iters if exhaustive else cfg.local_iters):
                keys = s.blurry_keys if (t == 0 and s.blurry_keys is not None) else s.keys
                q = self._project(y, s)
                if exhaustive:
                    nnf = torch.stack([exhaustive_nn(q[b], keys, cfg.alpha, cfg.chunk_elems, scale)
                                       for b in range(bsz)])
                else:
                    if nnf is None:  # no coarser match yet: start from each query's own position
                        nnf = torch.arange(n, device=self.device).expand(bsz, n)
                    nnf = local_nn(q, keys, self._candidates(nnf, s), cfg.alpha, cfg.chunk_elems, scale)
                y = self._fold(nnf, s)
        return y

    def default_batch_size(self) -> int:
        """1 on a CPU (batching brings nothing there), 16 on a GPU."""
        return 16 if self.device.type == "cuda" else 1

    def sample(self, n: int = 1, seed: int | None = None, batch_size: int | None = None,
               return_raw_mask: bool = False, start_index: int = 0) -> Samples:
        """Generate ``n`` image/mask pairs of size :attr:`size`.

        Sample ``i`` draws its noise from its own generator seeded by ``(seed, i)``, so a seed gives the same
        samples whatever ``batch_size`` is.

        Args:
            n: number of samples (≥ 0).
            seed: RNG seed; ``None`` draws one (returned in ``Samples.seed``).
            batch_size: samples generated together; ``None`` = :meth:`default_batch_size`.
            return_raw_mask: also return the mask channel before thresholding, float32 in [0, 1].
            start_index: index of the first sample: the call gives samples ``start_index .. start_index + n - 1``
                of the seed (a folder is extended without regenerating the samples it has).

        Returns:
            :class:`~singanseg_core.model.Samples` with ``gen_start_scale = 0``.
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise InputError(f"n must be an integer ≥ 0, got {n!r}")
        if isinstance(start_index, bool) or not isinstance(start_index, (int, np.integer)) or start_index < 0:
            raise InputError(f"start_index must be an integer ≥ 0, got {start_index!r}")
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be ≥ 1, got {batch_size}")
        batch_size = batch_size or self.default_batch_size()
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        h0, w0 = self.schedule.sizes[0]
        h, w = self.size
        images, masks, raws = [np.zeros((0, h, w, 3), np.uint8)], [np.zeros((0, h, w), np.uint8)], []
        for start in range(0, n, batch_size):
            noise = torch.stack([
                torch.randn((4, h0, w0), generator=torch.Generator().manual_seed(_sample_seed(seed, start_index + j)))
                for j in range(start, min(n, start + batch_size))]) * self.config.noise_std
            out = self.generate(noise)
            images.append((out[:, :3] * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
            raw = out[:, 3]
            masks.append(((raw > 0.5).to(torch.uint8) * 255).cpu().numpy())
            if return_raw_mask:
                raws.append(raw.float().cpu().numpy())
        raw_masks = (np.concatenate(raws) if raws else np.zeros((0, h, w), np.float32)) if return_raw_mask else None
        return Samples(np.concatenate(images), np.concatenate(masks), raw_masks, 0, int(seed))

