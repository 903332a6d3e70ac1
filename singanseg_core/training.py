"""Per-scale SinGAN-Seg training (WGAN-GP + reconstruction), checkpointed after every scale.

The update rule is the SinGAN-Seg code's; the waste is not reproduced:

* its three generator inner steps zero the gradient at the top of each step and call
  ``optimizer.step()`` once afterwards, so only one (identical) gradient is applied. We compute it
  once; BatchNorm running statistics get the same three updates through an adjusted momentum.
* the first two discriminator steps' fakes need no graph through G, so they run without one.
* random "prev" images from the frozen lower scales are generated for several epochs in one batch
  (frozen generators run in eval mode, so batching does not change the math).
* resizing between scales runs in torch (see ``imresize``), not through numpy on the CPU.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from .config import TrainConfig
from .data import ImagePair, load_pair
from .errors import Cancelled, InputError
from .imresize import imresize
from .model import CONFIG_NAME, ModelConfig, SinGANSeg
from .models import Discriminator, Generator, init_weights, nfc_for_scale
from .scales import ScaleSchedule, compute_schedule

TRAINER_STATE_NAME = "trainer_state.safetensors"
BIAS_SEED_SALT = 0xB1A5


@dataclass
class TrainProgress:
    """What a progress callback receives. ``iteration`` counts from 1 to ``niter`` within ``scale``."""

    scale: int
    num_scales: int
    iteration: int
    niter: int
    losses: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    scale_done: bool = False

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1] (scales weighted equally)."""
        return (self.scale + self.iteration / max(self.niter, 1)) / max(self.num_scales, 1)


ProgressFn = Callable[[TrainProgress], "bool | None"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available (use --device cpu or auto)")
    return dev


def scale_seed(seed: int, scale: int) -> int:
    """A per-scale seed, so a resumed run continues exactly as an uninterrupted one."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{scale}".encode()).digest()[:8], "little") & (2**63 - 1)


def build_scale_nets(cfg: TrainConfig, nfc: int, seed: int, n: int,
                     device: torch.device | str = "cpu") -> tuple[Generator, Discriminator]:
    """Scale ``n``'s freshly initialised G and D. Every draw is seeded by ``(seed, n)``: SinGAN's init for
    conv weights and BatchNorm, and torch's default init for the conv biases (taken from a forked global
    RNG), so the result never depends on what ran before in the process."""
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(scale_seed(seed, n) ^ BIAS_SEED_SALT)
        netG = Generator(cfg.nc_im, nfc, cfg.ker_size, cfg.num_layer).to(dev)
        netD = Discriminator(cfg.nc_im, nfc, cfg.ker_size, cfg.num_layer).to(dev)
    init_gen = torch.Generator(device=dev).manual_seed(scale_seed(seed, n) ^ 0x5EED)
    init_weights(netG, init_gen)
    init_weights(netD, init_gen)
    return netG, netD


def build_pyramid(pair_tensor: torch.Tensor, schedule: ScaleSchedule, faithful: bool) -> list[torch.Tensor]:
    """``(1, C, H, W)`` full-resolution input → reals per scale, coarse to fine (``creat_reals_pyramid``)."""
    real = imresize(pair_tensor, schedule.scale1, faithful=faithful)
    reals = [imresize(real, math.pow(schedule.scale_factor, schedule.stop_scale - i), faithful=faithful)
             for i in range(schedule.stop_scale + 1)]
    for r, size in zip(reals, schedule.sizes):
        assert tuple(r.shape[2:]) == tuple(size), (r.shape, size)
    return reals


def gradient_penalty(netD: Discriminator, real: torch.Tensor, fake: torch.Tensor, lam: float,
                     gen: torch.Generator) -> torch.Tensor:
    """WGAN-GP as the original: one scalar mix for the image, gradient norm over channels per pixel."""
    a = torch.rand(1, generator=gen, device=gen.device).to(real.device)
    mix = (a * real + (1 - a) * fake).requires_grad_(True)
    out = netD(mix)
    (grad,) = torch.autograd.grad(out, mix, torch.ones_like(out), create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean() * lam


class _Pyramid:
    """Frozen lower scales: draws random 'prev' images and the reconstruction path for scale ``n``."""

    def __init__(self, gens: list[Generator], z_opt: list[torch.Tensor], reals: list[torch.Tensor],
                 noise_amp: list[float], cfg: TrainConfig, scale_factor: float) -> None:
        self.gens, self.z_opt, self.reals, self.noise_amp = gens, z_opt, reals, noise_amp
        self.cfg, self.scale_factor = cfg, scale_factor
        self.pad = (cfg.ker_size - 1) * cfg.num_layer // 2

    @torch.no_grad()
    def run(self, n: int, batch: int, gen: torch.Generator | None) -> torch.Tensor:
        """Output of scales ``0..n-1`` upsampled and cropped to scale ``n``: ``(batch, nc, h_n, w_n)``.

        ``gen=None`` follows the reconstruction path (stored noise), else fresh noise from ``gen``.
        """
        dev, pad, nc = self.reals[0].device, self.pad, self.cfg.nc_z
        x = torch.zeros(batch, nc, *self.reals[0].shape[2:], device=dev)
        for i in range(n):
            h, w = self.reals[i].shape[2:]
            if gen is None:
                z = self.z_opt[i].expand(batch, -1, -1, -1)
            else:
                z = torch.randn(batch, 1 if i == 0 else nc, h, w, generator=gen, device=gen.device).to(dev)
                z = F.pad(z.expand(-1, nc, -1, -1), (pad,) * 4)
            xp = F.pad(x[:, :, :h, :w], (pad,) * 4)
            x = self.gens[i](self.noise_amp[i] * z + xp, xp)
            x = imresize(x, 1.0 / self.scale_factor, faithful=self.cfg.faithful_resize)
            nh, nw = self.reals[i + 1].shape[2:]
            x = x[:, :, :nh, :nw]
        return x


def _set_bn_momentum(module: torch.nn.Module, momentum: float) -> None:
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = momentum


def _bump_bn_count(module: torch.nn.Module, extra: int) -> None:
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d) and m.num_batches_tracked is not None:
            m.num_batches_tracked += extra


def train_scale(n: int, netG: Generator, netD: Discriminator, pyramid: _Pyramid, cfg: TrainConfig,
                device: torch.device, gen: torch.Generator, num_scales: int,
                progress: ProgressFn | None = None, log_every: int = 10) -> tuple[torch.Tensor, float]:
    """Train scale ``n`` in place. Returns ``(z_opt, noise_amp)`` for this scale."""
    real = pyramid.reals[n]
    nc, pad = cfg.nc_z, pyramid.pad
    h, w = real.shape[2:]
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, 0.999))
    milestone = max(1, int(round(cfg.lr_drop_at * cfg.niter)))
    schedD = torch.optim.lr_scheduler.MultiStepLR(optD, milestones=[milestone], gamma=cfg.gamma)
    schedG = torch.optim.lr_scheduler.MultiStepLR(optG, milestones=[milestone], gamma=cfg.gamma)

    def randn(c: int) -> torch.Tensor:
        z = torch.randn(1, c, h, w, generator=gen, device=gen.device).to(device)
        return F.pad(z.expand(-1, nc, -1, -1), (pad,) * 4)

    if n == 0:
        noise_amp = 1.0
        z_prev = torch.zeros(1, nc, h + 2 * pad, w + 2 * pad, device=device)
        z_opt = z_prev
    else:
        rec = pyramid.run(n, 1, None)
        noise_amp = cfg.noise_amp_init * float(torch.sqrt(F.mse_loss(real, rec)))
        z_prev = F.pad(rec, (pad,) * 4)
        z_opt = torch.zeros(1, nc, h + 2 * pad, w + 2 * pad, device=device)

    # BN momentum for the single reconstruction forward that stands for the original's three identical ones.
    base_m = 0.1
    rec_m = 1.0 - (1.0 - base_m) ** 3
    prev_bank: list[torch.Tensor] = []
    t0 = time.perf_counter()
    for epoch in range(cfg.niter):
        if n == 0:
            z_opt = randn(1)
            noise_ = randn(1)
        else:
            noise_ = randn(nc)
            if not prev_bank:
                chunk = min(cfg.prev_batch_epochs, cfg.niter - epoch) * cfg.d_steps
                prev_bank = list(F.pad(pyramid.run(n, chunk, gen), (pad,) * 4).unbind(0))
                prev_bank.reverse()

        netG.requires_grad_(False)
        for j in range(cfg.d_steps):
            if n == 0:
                prev = torch.zeros_like(noise_)
                noise = noise_
            else:
                prev = prev_bank.pop().unsqueeze(0)
                noise = noise_amp * noise_ + prev
            last = j == cfg.d_steps - 1
            if last:
                netG.requires_grad_(True)
                fake = netG(noise, prev)
            else:
                with torch.no_grad():
                    fake = netG(noise, prev)
            optD.zero_grad(set_to_none=True)
            err_real = -netD(real).mean()
            err_fake = netD(fake.detach()).mean()
            gp = gradient_penalty(netD, real, fake.detach(), cfg.lambda_grad, gen)
            (err_real + err_fake + gp).backward()
            optD.step()

        netD.requires_grad_(False)
        optG.zero_grad(set_to_none=True)
        err_g = -netD(fake).mean()
        if cfg.alpha != 0:
            _set_bn_momentum(netG, rec_m)
            rec_out = netG(noise_amp * z_opt + z_prev, z_prev)
            _set_bn_momentum(netG, base_m)
            _bump_bn_count(netG, 2)
            rec_loss = cfg.alpha * F.mse_loss(rec_out, real)
        else:
            rec_loss = torch.zeros((), device=device)
        (err_g + rec_loss).backward()
        optG.step()
        netD.requires_grad_(True)
        schedD.step()
        schedG.step()

        it = epoch + 1
        if progress is not None and (it % log_every == 0 or it == cfg.niter or it == 1):
            losses = {"d_real": -float(err_real.detach()), "d_fake": float(err_fake.detach()), "gp": float(gp.detach()),
                      "g_adv": float(err_g.detach()), "rec": float(rec_loss.detach())}
            ev = TrainProgress(n, num_scales, it, cfg.niter, losses, time.perf_counter() - t0)
            if progress(ev) is False:
                raise Cancelled(f"training cancelled at scale {n}, iteration {it}")
    return z_opt.detach(), noise_amp


def _resolve_pair(image, mask, name) -> ImagePair:
    if isinstance(image, ImagePair):
        return image
    return load_pair(image, mask, name=name)


def train(image: "str | os.PathLike | ImagePair", mask: "str | os.PathLike | None" = None,
          out_dir: "str | os.PathLike | None" = None, config: TrainConfig | None = None,
          progress: ProgressFn | None = None, resume: bool = False, overwrite: bool = False,
          device: str | torch.device = "auto", name: str | None = None) -> SinGANSeg:
    """Train a SinGAN-Seg model on one image/mask pair, saving after every finished scale.

    Args:
        image, mask: file paths (or an :class:`ImagePair`; ``mask=None`` reads an RGBA image's alpha).
        out_dir: checkpoint folder. Written atomically after each scale (``config.json`` last).
        resume: continue a partial checkpoint from its last finished scale (must be the same input/config).
        overwrite: retrain into a folder that holds a finished checkpoint.
        progress: called with :class:`TrainProgress`; returning ``False`` cancels (raises ``Cancelled``;
            finished scales stay saved and ``resume=True`` continues).
    Returns:
        The trained :class:`SinGANSeg` (eval mode, on ``device``).
    """
    cfg = config or TrainConfig()
    dev = resolve_device(device)
    pair = _resolve_pair(image, mask, name)
    if out_dir is None:
        raise InputError("out_dir is required")
    out = Path(out_dir)
    if cfg.nc_im not in (3, 4):
        raise InputError(f"nc_im must be 3 or 4, got {cfg.nc_im}")
    try:
        schedule = compute_schedule(*pair.size, cfg.min_size, cfg.max_size, cfg.scale_factor)
    except ValueError as err:
        raise InputError(f"{pair.image_path or pair.name}: {err}") from None
    content_hash = pair.content_hash()

    existing = None
    if (out / CONFIG_NAME).exists():
        existing = json.loads((out / CONFIG_NAME).read_text())
        finished = existing.get("num_trained") is None or existing.get("num_trained") >= existing.get("total_scales", 0)
        if overwrite:
            existing = None
        elif finished:
            raise InputError(f"{out}: holds a finished checkpoint; use --overwrite to retrain it")
        elif not resume:
            raise InputError(f"{out}: holds a partial checkpoint ({existing.get('num_trained')} of "
                             f"{existing.get('total_scales')} scales); use --resume to continue or --overwrite")
        elif existing.get("source", {}).get("content_hash") != content_hash:
            raise InputError(f"{out}: the partial checkpoint was trained on other content; use --overwrite")
        elif existing.get("train", {}).get("config") != cfg.to_dict():
            raise InputError(f"{out}: the partial checkpoint used other settings; resume with the same "
                             "settings or use --overwrite")

    pair_t = pair.to_tensor()[:, :cfg.nc_im].to(dev)
    reals = build_pyramid(pair_t, schedule, cfg.faithful_resize)
    gens: list[Generator] = []
    z_opts: list[torch.Tensor] = []
    noise_amp: list[float] = []
    nfcs: list[int] = []
    timings: list[float] = []
    prev_d_state: dict[str, torch.Tensor] | None = None
    start = 0
    if existing is not None:
        partial = SinGANSeg.from_pretrained(out, device=dev)
        gens = list(partial.generators)
        z_opts, noise_amp = list(partial.z_opt), list(partial.config.noise_amp)
        nfcs = list(partial.config.nfc)
        timings = list(existing.get("train", {}).get("seconds_per_scale", []))
        start = len(gens)
        if (out / TRAINER_STATE_NAME).exists():
            prev_d_state = load_file(str(out / TRAINER_STATE_NAME))

    def model_config(num_trained: int) -> ModelConfig:
        return ModelConfig(
            nc_im=cfg.nc_im, nc_z=cfg.nc_z, ker_size=cfg.ker_size, num_layer=cfg.num_layer, nfc=list(nfcs),
            scale_factor=schedule.scale_factor, sizes=[list(s) for s in schedule.sizes[:num_trained]],
            noise_amp=list(noise_amp), faithful_resize=cfg.faithful_resize, num_trained=num_trained,
            total_scales=schedule.num_scales, name=name or pair.name,
            source={"image": Path(pair.image_path).name if pair.image_path else None,
                    "mask": Path(pair.mask_path).name if pair.mask_path else None,
                    "input_size": list(pair.size), "content_hash": content_hash,
                    "mask_pixels_binarised": pair.changed_pixels, "origin": "trained"},
            train={"config": cfg.to_dict(), "seconds_per_scale": list(timings), "device": str(dev),
                   "torch": torch.__version__, "scale1": schedule.scale1},
        )

    for n in range(start, schedule.num_scales):
        t0 = time.perf_counter()
        nfc = nfc_for_scale(n, cfg.nfc, cfg.max_nfc)
        gen = torch.Generator(device=dev).manual_seed(scale_seed(cfg.seed, n))
        netG, netD = build_scale_nets(cfg, nfc, cfg.seed, n, dev)
        if n > 0 and nfcs[-1] == nfc:
            netG.load_state_dict(gens[-1].state_dict())
            if prev_d_state is not None:
                netD.load_state_dict(prev_d_state)
        netG.train()
        netD.train()
        pyramid = _Pyramid(gens, z_opts, reals, noise_amp, cfg, schedule.scale_factor)
        z_opt, amp = train_scale(n, netG, netD, pyramid, cfg, dev, gen, schedule.num_scales, progress)
        netG.eval().requires_grad_(False)
        gens.append(netG)
        z_opts.append(z_opt)
        noise_amp.append(amp)
        nfcs.append(nfc)
        timings.append(round(time.perf_counter() - t0, 3))
        prev_d_state = {k: v.detach().cpu().contiguous() for k, v in netD.state_dict().items()}

        model = SinGANSeg(model_config(n + 1), gens, z_opts, reals[:n + 1], dev)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".{TRAINER_STATE_NAME}.tmp"
        save_file(prev_d_state, str(tmp))
        os.replace(tmp, out / TRAINER_STATE_NAME)
        first_save = n == start  # the real image/mask PNGs only change when this run starts
        model.save_pretrained(out, real_image=pair.image if first_save else None,
                              real_mask=pair.mask if first_save and cfg.nc_im >= 4 else None)
        if progress is not None:
            if progress(TrainProgress(n, schedule.num_scales, cfg.niter, cfg.niter, {}, timings[-1], True)) is False:
                raise Cancelled(f"training cancelled after scale {n}")
    model = SinGANSeg.from_pretrained(out, device=dev)
    return model


def is_finished_checkpoint(path: "str | os.PathLike") -> bool:
    """True when ``path`` holds a complete checkpoint (all scales trained)."""
    cfg = Path(path) / CONFIG_NAME
    if not cfg.is_file():
        return False
    try:
        data = json.loads(cfg.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    total, done = data.get("total_scales"), data.get("num_trained")
    return total is None or done is None or done >= total
