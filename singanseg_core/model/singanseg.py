"""``SinGANSeg``: a trained multi-scale model = config + weights, with ``save_pretrained`` /
``from_pretrained`` (safetensors + JSON, never pickle) and batched sampling."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..device import autocast_dtype, compile_module
from ..errors import CheckpointError, InputError
from ..files.atomic import save_png
from ..networks.singan import Generator, fold_batchnorm
from ..persistence import CONFIG_NAME, WEIGHTS_NAME, read_config, read_weights, save_pretrained, tensor_bytes
from ..pyramid.imresize import imresize
from .config import FORMAT_VERSION, KIND, ModelConfig
from .samples import Samples, tensor_to_uint8

if TYPE_CHECKING:
    from .trace import PyramidTrace

REAL_IMAGE_NAME = "real.png"
REAL_MASK_NAME = "real_mask.png"


class SinGANSeg:
    """A trained SinGAN-Seg pyramid.

    Attributes:
        config: :class:`ModelConfig`.
        generators: one :class:`Generator` per scale, coarse to fine, eval mode.
        z_opt: reconstruction noise per scale, ``(1, nc_z, h + 10, w + 10)``.
        reals: the real pyramid per scale, ``(1, nc_im, h, w)`` in [-1, 1].
    """

    def __init__(self, config: ModelConfig, generators: Sequence[Generator], z_opt: Sequence[torch.Tensor],
                 reals: Sequence[torch.Tensor], device: torch.device | str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.generators = [g.to(self.device).eval() for g in generators]
        for g in self.generators:
            g.requires_grad_(False)
        self.z_opt = [z.to(self.device, torch.float32) for z in z_opt]
        self.reals = [r.to(self.device, torch.float32) for r in reals]
        self.path: Path | None = None
        self._inference: list[Generator] | None = None
        self._compiled: list[torch.nn.Module] | None = None

    def inference_generators(self, compile: bool = False) -> list[Generator]:
        """Generators used for sampling. With ``faithful_resize`` (the default) these are the trained modules
        themselves, so outputs match the original code bit for bit (its uint8 round trip between scales
        turns any float rounding difference into whole grey levels). Otherwise BatchNorm is folded into
        the convs and memory is channels-last: the same function to float rounding, ~1.3-1.6x faster on CPU.

        ``compile=True`` (an option, off by default): the folded channels-last generators under ``torch.compile``
        (compiled on first use, per input shape); the same function to float rounding, so with
        ``faithful_resize`` a sample may differ from the eager one by a grey level where the uint8 round trip
        between scales rounds the other way."""
        if compile:
            if self._compiled is None:
                self._compiled = [compile_module(fold_batchnorm(g).to(memory_format=torch.channels_last))
                                  for g in self.generators]
            return self._compiled  # type: ignore[return-value]
        if self._inference is None:
            self._inference = (list(self.generators) if self.config.faithful_resize else
                               [fold_batchnorm(g).to(memory_format=torch.channels_last) for g in self.generators])
        return self._inference

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def num_scales(self) -> int:
        return self.config.num_scales

    @property
    def scale_sizes(self) -> list[tuple[int, int]]:
        return [tuple(s) for s in self.config.sizes]

    def to(self, device: torch.device | str) -> "SinGANSeg":
        return SinGANSeg(self.config, self.generators, self.z_opt, self.reals, device)

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for i, g in enumerate(self.generators):
            for k, v in g.state_dict().items():
                out[f"generators.{i}.{k}"] = v.detach().cpu().contiguous()
        for i, z in enumerate(self.z_opt):
            out[f"z_opt.{i}"] = z.detach().cpu().contiguous()
        for i, r in enumerate(self.reals):
            out[f"reals.{i}"] = r.detach().cpu().contiguous()
        return out

    def save_pretrained(self, path: str | os.PathLike, real_image: np.ndarray | None = None,
                        real_mask: np.ndarray | None = None, extra: dict[str, bytes] | None = None) -> Path:
        """Write ``model.safetensors`` then ``config.json`` (see :mod:`..persistence`) and, when given or missing,
        ``real.png`` / ``real_mask.png`` (written before the config, so a config always has its images).

        Args:
            real_image: ``(H, W, 3)`` uint8 to keep with the checkpoint; default: the finest real scale.
            real_mask: ``(H, W)`` uint8 0/255; default: the finest real scale's mask channel > 0.
            extra: more files (name → bytes) written together with the weights and config (all or nothing),
                e.g. the trainer's resume state.
        """
        path = Path(path)
        problem = self.config.problem()  # never write a checkpoint that from_pretrained would refuse
        if problem:
            raise CheckpointError(f"{path}: not saved: {problem}")
        path.mkdir(parents=True, exist_ok=True)
        if real_image is not None or not (path / REAL_IMAGE_NAME).exists():
            finest = tensor_to_uint8(self.reals[-1])[0]
            save_png(path / REAL_IMAGE_NAME, real_image if real_image is not None else finest[..., :3])
            if self.config.nc_im >= 4:
                mask = real_mask if real_mask is not None else np.where(finest[..., 3] > 127, 255, 0).astype(np.uint8)
                save_png(path / REAL_MASK_NAME, mask)
        config = {k: v for k, v in self.config.to_dict().items() if k != "format_version"}
        save_pretrained(path, KIND, FORMAT_VERSION, config, self.state_dict(), extra=extra)
        self.path = path
        return path

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> "SinGANSeg":
        """Load a checkpoint folder written by :meth:`save_pretrained`. Never unpickles anything.

        The config is validated in full (:meth:`ModelConfig.problem`) and the weights file may be no larger
        than the architecture it describes needs.

        Raises:
            CheckpointError: missing files, bad JSON, a config that fails validation, weights that do not fit.
        """
        path = Path(path)
        if path.is_dir() and not (path / CONFIG_NAME).is_file() and any(path.glob("*.pth")):
            raise CheckpointError(f"{path}: holds .pth files, not a SinGAN-Seg Studio checkpoint; legacy folders "
                                  "must be imported with `singanseg import-legacy`")
        config = ModelConfig.from_dict(read_config(path, KIND, {FORMAT_VERSION}, unlabelled_ok=True),
                                       path / CONFIG_NAME)
        tensors = read_weights(path, weights_budget(config))
        model = cls.from_state_dict(config, tensors, device=device, where=path / WEIGHTS_NAME)
        model.path = path
        return model

    @classmethod
    def from_state_dict(cls, config: ModelConfig, tensors: dict[str, torch.Tensor],
                        device: torch.device | str = "cpu", where: Any = "weights") -> "SinGANSeg":
        gens, zs, reals = [], [], []
        for i, nfc in enumerate(config.nfc):
            g = Generator(config.nc_im, nfc, config.ker_size, config.num_layer)
            prefix = f"generators.{i}."
            sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            try:
                g.load_state_dict(sd, strict=True)
            except RuntimeError as err:
                first = str(err).splitlines()[0] if str(err) else "mismatch"
                raise CheckpointError(f"{where}: generator {i} does not fit the config "
                                      f"(nc_im={config.nc_im}, nfc={nfc}): {first}") from None
            h, w = config.sizes[i]
            for key, store, shape in ((f"z_opt.{i}", zs, (1, config.nc_z, h + 2 * config.pad, w + 2 * config.pad)),
                                      (f"reals.{i}", reals, (1, config.nc_im, h, w))):
                if key not in tensors:
                    raise CheckpointError(f"{where}: tensor {key} is missing")
                if tuple(tensors[key].shape) != shape:
                    raise CheckpointError(f"{where}: tensor {key} has shape {tuple(tensors[key].shape)}, "
                                          f"expected {shape}")
                store.append(tensors[key])
            gens.append(g)
        return cls(config, gens, zs, reals, device)

    def _kept_image(self, name: str, mode: str) -> Image.Image | None:
        """``real.png`` / ``real_mask.png`` of the folder, if it is a plain file (never a link) that decodes."""
        from ..files.images import open_bounded

        p = None if self.path is None else self.path / name
        if p is None or p.is_symlink() or not p.is_file():
            return None
        try:
            return open_bounded(p).convert(mode)
        except InputError:
            return None

    def real_image(self) -> Image.Image:
        """The training image kept with the checkpoint (RGB); the finest real scale if none is kept."""
        kept = self._kept_image(REAL_IMAGE_NAME, "RGB")
        return kept if kept is not None else Image.fromarray(tensor_to_uint8(self.reals[-1])[0][..., :3])

    def real_mask(self) -> Image.Image:
        """The training mask kept with the checkpoint (L, 0/255), at the size of :meth:`real_image`."""
        kept = self._kept_image(REAL_MASK_NAME, "L")
        image = self.real_image()
        if kept is not None and kept.size == image.size:
            return kept
        mask = np.where(tensor_to_uint8(self.reals[-1])[0][..., -1] > 127, 255, 0).astype(np.uint8)
        return Image.fromarray(mask).resize(image.size, Image.NEAREST)

    # ------------------------------------------------------------------ generation
    def clamp_start_scale(self, gen_start_scale: int) -> tuple[int, str | None]:
        """Clamp to ``[0, num_scales]``; returns the value and a message when it changed."""
        k = int(gen_start_scale)
        if 0 <= k <= self.num_scales:
            return k, None
        c = min(max(k, 0), self.num_scales)
        return c, (f"gen_start_scale={k} is outside 0..{self.num_scales} for {self.name} "
                   f"({self.num_scales} scales); using {c}")

    def default_batch_size(self) -> int:
        """4 on a CPU (larger batches of 64-channel maps fall out of cache and run slower), 64 on a GPU."""
        return 64 if self.device.type == "cuda" else 4

    def noise_shapes(self, scale_v: float = 1.0, scale_h: float = 1.0) -> list[tuple[int, int, int]]:
        """``(channels, h, w)`` of the (unpadded) random noise each scale draws for one sample."""
        shapes = []
        for n, (h, w) in enumerate(self.config.sizes):
            shapes.append((1 if n == 0 else self.config.nc_z, round(h * scale_v), round(w * scale_h)))
        return shapes

    def draw_noise(self, n: int, generator: torch.Generator, scale_v: float = 1.0,
                   scale_h: float = 1.0) -> list[torch.Tensor]:
        """Gaussian noise for ``n`` samples, drawn sample by sample (so results don't depend on batching).

        Returns one ``(n, c, h, w)`` CPU tensor per scale, ``c`` = 1 at scale 0 (expanded later), else nc_z.
        """
        shapes = self.noise_shapes(scale_v, scale_h)
        per_scale: list[list[torch.Tensor]] = [[] for _ in shapes]
        for _ in range(n):
            for s, shape in enumerate(shapes):
                per_scale[s].append(torch.randn(shape, generator=generator))
        return [torch.stack(items) for items in per_scale]

    def _run_scales(self, noise: Sequence[torch.Tensor] | None, gen_start_scale: int, scale_v: float,
                    scale_h: float, batch: int, precision: str = "fp32",
                    compile: bool = False, injected: tuple[int, torch.Tensor] | None = None
                    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The pyramid, coarse to fine: yields ``(n, z, prev_p, out)`` per scale, where ``z`` is the padded noise
        before its amplitude (stored ``z_opt`` below ``gen_start_scale``), ``prev_p`` the padded upsampled output
        of the scale below (zeros at scale 0) and ``out`` this scale's output ``(N, nc_im, h, w)`` in [-1, 1].
        The one loop behind :meth:`generate` and :meth:`trace` (call it under ``torch.no_grad()``).
        ``precision`` (``device.autocast_dtype``) and ``compile`` are the faster paths of :meth:`sample`.
        ``injected = (k, x)``: ``x`` ``(N, nc_im, h, w)`` in [-1, 1] at scale ``k - 1``'s size stands in for that
        scale's output and scales below ``k`` are not run (SinGAN's paint-to-image / editing injection;
        :mod:`.guided`)."""
        cfg, pad = self.config, self.config.pad
        dtype = autocast_dtype(self.device, precision)
        channels_last = compile or not cfg.faithful_resize
        if (scale_v != 1.0 or scale_h != 1.0) and gen_start_scale > 0:
            raise InputError("scale_v/scale_h other than 1 only work with gen_start_scale=0 "
                             "(finer starts reuse the stored noise of the training size)")
        prev: torch.Tensor | None = None if injected is None else injected[1].to(self.device, torch.float32)
        for n, g in enumerate(self.inference_generators(compile)):
            if injected is not None and n < injected[0]:
                continue
            h, w = cfg.sizes[n]
            zh, zw = round(h * scale_v), round(w * scale_h)
            if n < gen_start_scale:
                nb = batch if noise is None else noise[0].shape[0]
                z = self.z_opt[n].expand(nb, -1, -1, -1)
            else:
                zn = noise[n].to(self.device, torch.float32)
                z = F.pad(zn.expand(-1, cfg.nc_z, -1, -1), (pad,) * 4)
            if prev is None:
                prev_p = torch.zeros_like(z)
            else:
                up = imresize(prev, 1.0 / cfg.scale_factor, faithful=cfg.faithful_resize)
                up = up[:, :, :zh, :zw]
                prev_p = F.pad(up, (pad,) * 4)[:, :, :z.shape[2], :z.shape[3]]
                if prev_p.shape[2:] != z.shape[2:]:
                    prev_p = F.interpolate(prev_p, size=z.shape[2:], mode="bilinear", align_corners=True)
            z_in = cfg.noise_amp[n] * z + prev_p
            if channels_last:
                z_in = z_in.contiguous(memory_format=torch.channels_last)
            if dtype is None:
                prev = g(z_in, prev_p)
            else:
                with torch.autocast(device_type=self.device.type, dtype=dtype):
                    prev = g(z_in, prev_p)
                prev = prev.float()
            yield n, z, prev_p, prev

    @torch.no_grad()
    def generate(self, noise: Sequence[torch.Tensor] | None, gen_start_scale: int = 0, scale_v: float = 1.0,
                 scale_h: float = 1.0, batch: int = 1, precision: str = "fp32", compile: bool = False) -> torch.Tensor:
        """Run the pyramid; returns ``(N, nc_im, H, W)`` in [-1, 1] on ``self.device``.

        Args:
            noise: per scale, ``(N, 1 or nc_z, h, w)`` unpadded noise (see :meth:`draw_noise`); scales
                below ``gen_start_scale`` use the stored reconstruction noise instead. ``None`` only
                when every scale is below ``gen_start_scale`` (pure reconstruction), with ``batch`` copies.
        """
        out = None
        for _, _, _, out in self._run_scales(noise, gen_start_scale, scale_v, scale_h, batch, precision, compile):
            pass
        return out.contiguous()

    def reconstruct(self) -> torch.Tensor:
        """All scales on the stored reconstruction noise: ``(1, nc_im, H, W)`` in [-1, 1] (≈ the training image)."""
        return self.generate(None, gen_start_scale=self.num_scales)

    def sample(self, n: int = 1, gen_start_scale: int = 0, scale_h: float = 1.0, scale_v: float = 1.0,
               seed: int | None = None, batch_size: int | None = None, return_raw_mask: bool = False,
               noise: Sequence[torch.Tensor] | None = None, precision: str = "fp32",
               compile: bool = False, redraw_empty: int = 0, first_index: int = 0) -> Samples:
        """Generate ``n`` image/mask pairs, batched on the model's device.

        Below ``gen_start_scale`` the stored reconstruction noise is used, from it on fresh noise (0 = most
        varied, ``num_scales`` = the reconstruction). Sample ``i`` always gets the same noise for a seed, so the
        same seed and ``batch_size`` give identical output; another batch size can differ by one grey level
        (float summation order inside batched convolutions).

        Args:
            scale_h, scale_v: output width/height relative to the training size (only with start scale 0).
            seed: RNG seed; ``None`` draws one (returned in ``Samples.seed``).
            noise: optional explicit noise per scale, ``(n, 1 or nc_z, h, w)`` (see :meth:`noise_shapes`).
            batch_size: samples per forward; ``None`` = :meth:`default_batch_size` for the device.
            precision: ``"fp32"`` (default, exact), ``"bf16"`` or ``"fp16"`` (CUDA): autocast for the generators
                where the hardware has it (``device.autocast_dtype``; ``InputError`` elsewhere). Changes the output
                slightly (a few grey levels; masks near the 0.5 threshold may flip).
            compile: the compiled sampler (:meth:`inference_generators`); equal to the eager one to float
                rounding.
            redraw_empty: off (0, the paper) or the most times a sample whose mask came out empty is drawn again
                from fresh noise (:func:`redraw_seed` of ``seed``, its index and the attempt, so it does not move
                any other sample; samples with a mask are unchanged). Changes the set's distribution: it keeps
                the polyp-bearing draws. The count per sample is in ``Samples.redraws``.
            first_index: the index of the first sample in its set (for ``redraw_empty``'s seeds).
        """
        batch_size = batch_size or self.default_batch_size()
        autocast_dtype(self.device, precision)  # an unsupported precision fails before any work
        if n < 0:
            raise InputError(f"n must be ≥ 0, got {n}")
        if redraw_empty and self.config.nc_im < 4:
            raise InputError("redraw_empty needs a model with a mask channel (nc_im = 4)")
        k, msg = self.clamp_start_scale(gen_start_scale)
        if msg:
            warnings.warn(msg, stacklevel=2)
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        gen = torch.Generator().manual_seed(int(seed))
        images, masks, raws = [], [], []
        done = 0
        while done < n:
            b = min(batch_size, n - done)
            batch_noise = (self.draw_noise(b, gen, scale_v, scale_h) if noise is None
                           else [z[done:done + b] for z in noise])
            out = self.generate(batch_noise, k, scale_v, scale_h, precision=precision, compile=compile)
            for part, arr in zip((images, masks, raws), self._to_arrays(out, return_raw_mask)):
                if arr is not None:
                    part.append(arr)
            done += b
        if not images:
            h, w = round(self.config.sizes[-1][0] * scale_v), round(self.config.sizes[-1][1] * scale_h)
            images, masks = [np.zeros((0, h, w, 3), np.uint8)], [np.zeros((0, h, w), np.uint8)]
        img = np.concatenate(images)
        msk = np.concatenate(masks) if masks else np.zeros(img.shape[:3], np.uint8)
        raw = np.concatenate(raws) if raws else None
        samples = Samples(img, msk, raw, k, int(seed))
        if redraw_empty:
            self._redraw_empty(samples, int(redraw_empty), first_index, scale_v, scale_h, precision, compile)
        return samples

    def _redraw_empty(self, samples: Samples, tries: int, first_index: int, scale_v: float, scale_h: float,
                      precision: str, compile: bool) -> None:
        """In place: each sample of ``samples`` with an empty mask drawn again (up to ``tries`` times, noise from
        :func:`redraw_seed`) until one has a mask; ``samples.redraws`` counts the attempts."""
        samples.redraws = np.zeros(len(samples), np.int64)
        raw_too = samples.raw_masks is not None
        for j in np.flatnonzero(samples.true_pixel_pct == 0):
            for attempt in range(1, tries + 1):
                samples.redraws[j] = attempt
                gen = torch.Generator().manual_seed(redraw_seed(samples.seed, first_index + int(j), attempt))
                out = self.generate(self.draw_noise(1, gen, scale_v, scale_h), samples.gen_start_scale, scale_v,
                                    scale_h, precision=precision, compile=compile)
                img, msk, raw = self._to_arrays(out, raw_too)
                if msk.any():
                    samples.images[j], samples.masks[j] = img[0], msk[0]
                    if raw_too:
                        samples.raw_masks[j] = raw[0]
                    break

    def _to_arrays(self, out: torch.Tensor, return_raw_mask: bool
                   ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(N, nc_im, H, W)`` in [-1, 1] → uint8 images ``(N, H, W, 3)``, 0/255 masks ``(N, H, W)`` (``None``
        without a mask channel) and, if asked for, the raw mask channel in [0, 1]."""
        img = tensor_to_uint8(out[:, :3])
        if self.config.nc_im < 4:
            return img, None, None
        raw = ((out[:, 3] + 1.0) / 2.0).clamp(0.0, 1.0)
        msk = ((raw > 0.5).to(torch.uint8) * 255).cpu().numpy()
        return img, msk, (raw.float().cpu().numpy() if return_raw_mask else None)

    # ------------------------------------------------------------------ teaching
    def trace(self, seed: int = 0, gen_start_scale: int = 0) -> "PyramidTrace":
        """Every scale's intermediates for one sample (see :mod:`.trace`); its final image and mask are exactly
        ``sample(1, gen_start_scale, seed=seed)``'s."""
        from .trace import trace_pyramid

        return trace_pyramid(self, seed, gen_start_scale)

    def start_scale_grid(self, seed: int = 0, n: int = 1) -> list[Samples]:
        """The same seed generated from every start scale: element ``k`` is ``sample(n, k, seed=seed)`` for
        ``k = 0..num_scales`` (0 = all scales draw fresh noise, ``num_scales`` = the reconstruction).

        Bit for bit those samples, made with less work: the noise of a seed is the same at every start scale and
        the scales below ``k`` run on the stored reconstruction noise, so the reconstruction is run once per
        batch and row ``k`` starts from its output at scale ``k - 1`` (about half the generator evaluations)."""
        if n < 1:
            return [self.sample(n, k, seed=seed) for k in range(self.num_scales + 1)]
        batch_size = self.default_batch_size()
        gen = torch.Generator().manual_seed(int(seed))
        rows: list[list[tuple[np.ndarray, np.ndarray | None]]] = [[] for _ in range(self.num_scales + 1)]
        with torch.no_grad():
            done = 0
            while done < n:  # the batches of sample(): the same noise and the same batched arithmetic
                b = min(batch_size, n - done)
                noise = self.draw_noise(b, gen)
                recon = [out for _, _, _, out in self._run_scales(noise, self.num_scales, 1.0, 1.0, b)]
                for k in range(self.num_scales + 1):
                    if k == self.num_scales:
                        out = recon[-1]
                    else:
                        out = None
                        for _, _, _, out in self._run_scales(noise, k, 1.0, 1.0, b,
                                                             injected=(k, recon[k - 1]) if k else None):
                            pass
                    img, msk, _ = self._to_arrays(out.contiguous(), False)
                    rows[k].append((img, msk))
                done += b
        return [Samples(np.concatenate([i for i, _ in parts]),
                        np.concatenate([m for _, m in parts]) if parts[0][1] is not None
                        else np.zeros((n, *parts[0][0].shape[1:3]), np.uint8), None, k, int(seed))
                for k, parts in enumerate(rows)]

    def training_log(self) -> dict[str, Any] | None:
        """The training record kept with the checkpoint (``training_log.json``, see :mod:`.training_log`), or
        ``None`` when it has none (imported or older checkpoints, models held only in memory)."""
        from .training_log import read_training_log

        return None if self.path is None else read_training_log(self.path)


def redraw_seed(seed: int, index: int, attempt: int) -> int:
    """The seed of sample ``index``'s ``attempt``-th redraw (``SinGANSeg.sample(redraw_empty=...)``): a hash, so
    redraws never reuse another sample's noise and a sample's redraws do not depend on the batch or the set size."""
    digest = hashlib.blake2b(f"redraw:{seed}:{index}:{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def weights_budget(config: ModelConfig) -> int:
    """Most bytes a ``model.safetensors`` for ``config`` can need: every generator, z_opt and real in float32."""
    shapes: list[tuple[int, ...]] = []
    k, nc, pad = config.ker_size, config.nc_im, config.pad
    for nfc, (h, w) in zip(config.nfc, config.sizes):
        convs = [(nfc, nc, k, k)] + [(nfc, nfc, k, k)] * (config.num_layer - 2) + [(nc, nfc, k, k)]
        shapes += convs + [(c[0],) for c in convs] + [(nfc,)] * 5 * (config.num_layer - 1)
        shapes += [(1, config.nc_z, h + 2 * pad, w + 2 * pad), (1, nc, h, w)]
    return tensor_bytes(shapes, itemsize=8)  # 8: num_batches_tracked are int64, and a margin for the rest
