"""Train K SinGAN-Seg models (one per image) as one batched computation.

The K models of a group share one pyramid geometry (same scale sizes and scale factor: see
:func:`pyramid_key`), so they can be stacked channel-wise with exact math:

* a stacked network is the plain network with every conv made ``groups=K`` over ``K*C`` channels;
  ``BatchNorm2d`` over ``K*C`` channels with batch 1 is exactly K independent BatchNorms with batch 1;
* tensors are laid out ``(B, K*C, H, W)``: model ``k`` owns channels ``k*C .. (k+1)*C - 1``;
* every loss is computed per model, shape ``(K,)``, and their *sum* is back-propagated, so each model's
  gradient is the one it would get alone; Adam and MultiStepLR are elementwise, so one optimiser over
  the stacked parameters is K independent optimisers;
* each model draws its noise from its own ``torch.Generator`` in the same order as ``training.py``,
  and its conv biases from its own seeded RNG, so a model's result does not depend on its group.

Bucketing by pyramid shape (instead of padding to a common size and masking) keeps the math exact:
padding would change every conv border, the BatchNorm statistics and the WGAN-GP mean.

The update rule is ``training.train_scale``'s, line for line; read that first.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .config import TrainConfig
from .data import ImagePair
from .errors import Cancelled, InputError
from .imresize import imresize
from .model import CONFIG_NAME, ModelConfig, SinGANSeg
from .models import Generator, nfc_for_scale
from .scales import ScaleSchedule, compute_schedule
from .training import (TRAINER_STATE_NAME, build_pyramid, build_scale_nets, resolve_device,
                       scale_seed)


class GroupedConvBlock(nn.Sequential):
    """K independent ``ConvBlock``s: conv(3x3, groups=K) → BatchNorm over K*C_out → LeakyReLU(0.2)."""

    def __init__(self, k: int, in_channels: int, out_channels: int, ker_size: int = 3) -> None:
        super().__init__()
        self.add_module("conv", nn.Conv2d(k * in_channels, k * out_channels, ker_size, 1, 0, groups=k))
        self.add_module("norm", nn.BatchNorm2d(k * out_channels))
        self.add_module("LeakyRelu", nn.LeakyReLU(0.2, inplace=True))


def _grouped_body(k: int, nfc: int, ker_size: int, num_layer: int) -> nn.Sequential:
    body = nn.Sequential()
    for i in range(num_layer - 2):
        body.add_module(f"block{i + 1}", GroupedConvBlock(k, nfc, nfc, ker_size))
    return body


class _Stacked(nn.Module):
    """Packing/unpacking between K plain modules and one stacked module (same state_dict keys)."""

    k: int

    @classmethod
    def stack(cls, models: Sequence[nn.Module], nc_im: int, nfc: int, ker_size: int, num_layer: int):
        """Stack K plain modules (all on one device) into one grouped module on that device."""
        device = next(models[0].parameters()).device
        with torch.device("meta"):
            out = cls(len(models), nc_im, nfc, ker_size, num_layer)
        out = out.to_empty(device=device)
        states = [m.state_dict() for m in models]
        packed = {}
        for key in states[0]:
            if key.endswith("num_batches_tracked"):
                packed[key] = states[0][key].clone()  # equal across models: same schedule, same niter
            else:
                packed[key] = torch.cat([s[key] for s in states], dim=0)
        out.load_state_dict(packed)
        return out

    def unstacked_states(self) -> list[dict[str, torch.Tensor]]:
        """Every model's slice as a plain ``Generator``/``Discriminator`` state_dict (detached, CPU)."""
        host = {key: v.detach().cpu() for key, v in self.state_dict().items()}
        return [{key: v.clone() if key.endswith("num_batches_tracked") else v.chunk(self.k, dim=0)[i].clone()
                 for key, v in host.items()} for i in range(self.k)]

    def unstacked_state(self, index: int) -> dict[str, torch.Tensor]:
        """Model ``index``'s slice (see :meth:`unstacked_states`)."""
        return self.unstacked_states()[index]


class GroupedGenerator(_Stacked):
    """K generators: ``(N, K*nc, h+10, w+10)`` noise+prev and prev → ``(N, K*nc, h, w)``."""

    def __init__(self, k: int, nc_im: int = 4, nfc: int = 32, ker_size: int = 3, num_layer: int = 5) -> None:
        super().__init__()
        self.k = k
        self.head = GroupedConvBlock(k, nc_im, nfc, ker_size)
        self.body = _grouped_body(k, nfc, ker_size, num_layer)
        self.tail = nn.Sequential(nn.Conv2d(k * nfc, k * nc_im, ker_size, 1, 0, groups=k), nn.Tanh())

    def forward(self, z: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        x = self.tail(self.body(self.head(z)))
        crop = (prev.shape[2] - x.shape[2]) // 2
        return x + prev[:, :, crop:prev.shape[2] - crop, crop:prev.shape[3] - crop]


class GroupedDiscriminator(_Stacked):
    """K critics: ``(N, K*nc, h, w)`` → patch scores ``(N, K, h-10, w-10)`` (channel k = model k)."""

    def __init__(self, k: int, nc_im: int = 4, nfc: int = 32, ker_size: int = 3, num_layer: int = 5) -> None:
        super().__init__()
        self.k = k
        self.head = GroupedConvBlock(k, nc_im, nfc, ker_size)
        self.body = _grouped_body(k, nfc, ker_size, num_layer)
        self.tail = nn.Conv2d(k * nfc, k, ker_size, 1, 0, groups=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(self.head(x)))


# ---------------------------------------------------------------------------------------------- helpers
def pyramid_key(schedule: ScaleSchedule) -> tuple:
    """Models can share a group iff their pyramids have the same sizes and scale factor."""
    return (tuple(tuple(s) for s in schedule.sizes), schedule.scale_factor)


def _per_model(x: torch.Tensor, k: int) -> torch.Tensor:
    """``(N, K*C, H, W)`` → ``(N, K, C, H, W)`` (a view)."""
    return x.view(x.shape[0], k, x.shape[1] // k, *x.shape[2:])


def _model_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean of each model's slice of ``(N, K*C, H, W)``: ``(K,)``. Equals ``slice.mean()``."""
    if k == 1:
        return x.mean().view(1)  # the very kernel training.py uses (bit-exact K=1)
    return _per_model(x, k).transpose(0, 1).reshape(k, -1).mean(dim=1)


def _channel_vector(values: torch.Tensor, nc: int) -> torch.Tensor:
    """Per-model scalars ``(K,)`` → ``(1, K*nc, 1, 1)`` for broadcasting over a stacked tensor."""
    return values.repeat_interleave(nc).view(1, -1, 1, 1)


def _set_bn_momentum(module: nn.Module, momentum: float) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = momentum


def _bump_bn_count(module: nn.Module, extra: int) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d) and m.num_batches_tracked is not None:
            m.num_batches_tracked += extra


@dataclass
class BatchedProgress:
    """What a batched progress callback receives: one event for the whole group.

    ``losses[k]`` belongs to ``names[k]`` (empty except on logged iterations).
    """

    names: list[str]
    scale: int
    num_scales: int
    iteration: int
    niter: int
    losses: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    scale_done: bool = False

    @property
    def fraction(self) -> float:
        return (self.scale + self.iteration / max(self.niter, 1)) / max(self.num_scales, 1)


BatchedProgressFn = Callable[[BatchedProgress], "bool | None"]


class _GroupPyramid:
    """Frozen lower scales of K models (stacked): random 'prev' images and the reconstruction path."""

    def __init__(self, k: int, gens: list[GroupedGenerator], z_opt: list[torch.Tensor], reals: list[torch.Tensor],
                 amps: list[torch.Tensor], cfg: TrainConfig, scale_factor: float, chunk: int) -> None:
        self.k, self.gens, self.z_opt, self.reals, self.amps = k, gens, z_opt, reals, amps
        self.cfg, self.scale_factor, self.chunk = cfg, scale_factor, chunk
        self.pad = (cfg.ker_size - 1) * cfg.num_layer // 2

    @torch.no_grad()
    def run(self, n: int, batch: int, rngs: Sequence[torch.Generator] | None) -> torch.Tensor:
        """Output of scales ``0..n-1`` upsampled and cropped to scale ``n``: ``(batch, K*nc, h_n, w_n)``.

        ``rngs=None`` follows the reconstruction path, else model k draws fresh noise from ``rngs[k]``
        (each model's stream sees the same draws, in the same order, as ``training._Pyramid.run``).
        Generators run in sub-batches of ``chunk`` samples to bound memory (eval mode: same math).
        """
        dev, pad, nc = self.reals[0].device, self.pad, self.cfg.nc_z
        x = torch.zeros(batch, self.k * nc, *self.reals[0].shape[2:], device=dev)
        for i in range(n):
            h, w = self.reals[i].shape[2:]
            if rngs is None:
                z = self.z_opt[i].expand(batch, -1, -1, -1)
            else:
                c = 1 if i == 0 else nc
                z = torch.cat([torch.randn(batch, c, h, w, generator=g, device=g.device).to(dev).expand(-1, nc, -1, -1)
                               for g in rngs], dim=1)
                z = F.pad(z, (pad,) * 4)
            xp = F.pad(x[:, :, :h, :w], (pad,) * 4)
            inp = self.amps[i] * z + xp
            x = torch.cat([self.gens[i](inp[s:s + self.chunk], xp[s:s + self.chunk])
                           for s in range(0, batch, self.chunk)])
            x = imresize(x, 1.0 / self.scale_factor, faithful=self.cfg.faithful_resize)
            nh, nw = self.reals[i + 1].shape[2:]
            x = x[:, :, :nh, :nw]
        return x


# ---------------------------------------------------------------------------------------------- one scale
def train_scale_batched(n: int, netG: GroupedGenerator, netD: GroupedDiscriminator, pyramid: _GroupPyramid,
                        cfg: TrainConfig, device: torch.device, rngs: Sequence[torch.Generator], num_scales: int,
                        names: list[str], progress: BatchedProgressFn | None = None,
                        log_every: int = 10) -> tuple[torch.Tensor, list[float]]:
    """Train scale ``n`` of K stacked models in place (``training.train_scale`` for each model).

    Returns ``(z_opt, noise_amps)``: stacked ``(1, K*nc, h+10, w+10)`` and one float per model.
    """
    k = netG.k
    real = pyramid.reals[n]  # (1, K*nc, h, w)
    nc, pad = cfg.nc_z, pyramid.pad
    h, w = real.shape[2:]
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, 0.999))
    milestone = max(1, int(round(cfg.lr_drop_at * cfg.niter)))
    schedD = torch.optim.lr_scheduler.MultiStepLR(optD, milestones=[milestone], gamma=cfg.gamma)
    schedG = torch.optim.lr_scheduler.MultiStepLR(optG, milestones=[milestone], gamma=cfg.gamma)

    def randn(c: int) -> torch.Tensor:
        z = torch.cat([torch.randn(1, c, h, w, generator=g, device=g.device).to(device).expand(-1, nc, -1, -1)
                       for g in rngs], dim=1)
        return F.pad(z, (pad,) * 4)

    if n == 0:
        amps = [1.0] * k
        z_prev = torch.zeros(1, k * nc, h + 2 * pad, w + 2 * pad, device=device)
        z_opt = z_prev
    else:
        rec = pyramid.run(n, 1, None)
        sl = [slice(i * nc, (i + 1) * nc) for i in range(k)]
        amps = [cfg.noise_amp_init * float(torch.sqrt(F.mse_loss(real[:, s], rec[:, s]))) for s in sl]
        z_prev = F.pad(rec, (pad,) * 4)
        z_opt = torch.zeros(1, k * nc, h + 2 * pad, w + 2 * pad, device=device)
    amp = _channel_vector(torch.tensor(amps, dtype=torch.float32, device=device), nc)

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
                prev_bank = list(F.pad(pyramid.run(n, chunk, rngs), (pad,) * 4).unbind(0))
                prev_bank.reverse()

        netG.requires_grad_(False)
        for j in range(cfg.d_steps):
            if n == 0:
                prev = torch.zeros_like(noise_)
                noise = noise_
            else:
                prev = prev_bank.pop().unsqueeze(0)
                noise = amp * noise_ + prev
            if j == cfg.d_steps - 1:
                netG.requires_grad_(True)
                fake = netG(noise, prev)
            else:
                with torch.no_grad():
                    fake = netG(noise, prev)
            optD.zero_grad(set_to_none=True)
            err_real = -_model_mean(netD(real), k)
            err_fake = _model_mean(netD(fake.detach()), k)
            gp = _gradient_penalty(netD, real, fake.detach(), cfg.lambda_grad, rngs, nc)
            (err_real + err_fake + gp).sum().backward()
            optD.step()

        netD.requires_grad_(False)
        optG.zero_grad(set_to_none=True)
        err_g = -_model_mean(netD(fake), k)
        if cfg.alpha != 0:
            _set_bn_momentum(netG, rec_m)
            rec_out = netG(amp * z_opt + z_prev, z_prev)
            _set_bn_momentum(netG, base_m)
            _bump_bn_count(netG, 2)
            rec_loss = cfg.alpha * _mse(rec_out, real, k)
        else:
            rec_loss = torch.zeros(k, device=device)
        (err_g + rec_loss).sum().backward()
        optG.step()
        netD.requires_grad_(True)
        schedD.step()
        schedG.step()

        it = epoch + 1
        if progress is not None and (it % log_every == 0 or it == cfg.niter or it == 1):
            cols = torch.stack([-err_real, err_fake, gp, err_g, rec_loss]).detach().cpu().tolist()
            losses = [dict(zip(("d_real", "d_fake", "gp", "g_adv", "rec"), vals)) for vals in zip(*cols)]
            ev = BatchedProgress(names, n, num_scales, it, cfg.niter, losses, time.perf_counter() - t0)
            if progress(ev) is False:
                raise Cancelled(f"training cancelled at scale {n}, iteration {it}")
    return z_opt.detach(), amps


def _gradient_penalty(netD: GroupedDiscriminator, real: torch.Tensor, fake: torch.Tensor, lam: float,
                      rngs: Sequence[torch.Generator], nc: int) -> torch.Tensor:
    """``training.gradient_penalty`` per model: own mix scalar, per-pixel channel norm, mean → ``(K,)``."""
    k = len(rngs)
    a = torch.cat([torch.rand(1, generator=g, device=g.device).to(real.device) for g in rngs])
    a = _channel_vector(a, nc) if k > 1 else a
    mix = (a * real + (1 - a) * fake).requires_grad_(True)
    out = netD(mix)
    (grad,) = torch.autograd.grad(out, mix, torch.ones_like(out), create_graph=True)
    if k == 1:
        return (((grad.norm(2, dim=1) - 1) ** 2).mean() * lam).view(1)
    pen = (_per_model(grad, k).norm(2, dim=2) - 1) ** 2  # (N, K, H, W)
    return pen.transpose(0, 1).reshape(k, -1).mean(dim=1) * lam


def _mse(x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """Per-model ``F.mse_loss`` of stacked tensors: ``(K,)``."""
    if k == 1:
        return F.mse_loss(x, y).view(1)
    return torch.stack([F.mse_loss(a, b) for a, b in zip(x.chunk(k, dim=1), y.chunk(k, dim=1))])


# ---------------------------------------------------------------------------------------------- whole models
@dataclass
class BatchItem:
    """One model of a group: its training pair, checkpoint folder and config (``config.seed`` = its seed)."""

    pair: ImagePair
    out_dir: Path
    config: TrainConfig
    name: str | None = None

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)

    @property
    def model_name(self) -> str:
        return self.name or self.pair.name


@dataclass
class _ModelState:
    """Everything one model carries between scales (host side)."""

    item: BatchItem
    schedule: ScaleSchedule
    reals: list[torch.Tensor]
    gens: list[Generator] = field(default_factory=list)         # CPU copies, eval, for checkpoints
    z_opts: list[torch.Tensor] = field(default_factory=list)    # (1, nc, h+10, w+10), on device
    noise_amp: list[float] = field(default_factory=list)
    nfcs: list[int] = field(default_factory=list)
    timings: list[float] = field(default_factory=list)
    d_state: dict[str, torch.Tensor] | None = None


def load_partial(out: Path, pair: ImagePair, cfg: TrainConfig) -> tuple[int, str | None]:
    """State of checkpoint folder ``out`` for training ``pair`` with ``cfg``.

    Returns ``(num_trained, problem)``: ``num_trained`` = finished scales (0 = nothing to resume), and
    ``problem`` = why it cannot be resumed (other content, other settings, unreadable), else ``None``.
    A finished checkpoint returns ``(total_scales, None)``.
    """
    path = Path(out) / CONFIG_NAME
    if not path.is_file():
        return 0, None
    try:
        existing = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        return 0, f"{path}: unreadable ({err})"
    done, total = existing.get("num_trained"), existing.get("total_scales")
    if done is None or total is None or done >= total:
        return int(total or len(existing.get("nfc", []))), None
    if existing.get("source", {}).get("content_hash") != pair.content_hash():
        return 0, f"{out}: the partial checkpoint was trained on other content; use --overwrite"
    if existing.get("train", {}).get("config") != cfg.to_dict():
        return 0, f"{out}: the partial checkpoint used other settings; resume with the same settings or use --overwrite"
    return int(done), None


def train_batched(items: Sequence[BatchItem], device: str | torch.device = "auto",
                  progress: BatchedProgressFn | None = None, resume: bool = True, pyramid_chunk: int | None = None,
                  log_every: int = 10) -> list[Path]:
    """Train one model per item, all K at once, saving every model's checkpoint after every scale.

    All items must have the same pyramid (:func:`pyramid_key`) and the same config apart from ``seed``.
    With ``resume=True`` partial checkpoints in the items' folders are continued; they must all stand at
    the same scale (``train_many`` groups them so); ``resume=False`` overwrites whatever the folders hold.
    Each checkpoint is exactly what ``training.train`` writes, plus ``train.batched_k`` = K;
    ``seconds_per_scale`` is the group's wall time.

    Args:
        pyramid_chunk: samples per frozen-generator call when drawing random 'prev' images (memory
            bound only; default ``max(1, 64 // K)``).
    Returns:
        The checkpoint folders, in item order.
    """
    if not items:
        return []
    dev = resolve_device(device)
    k = len(items)
    cfg = items[0].config
    for it in items:
        if {**it.config.to_dict(), "seed": 0} != {**cfg.to_dict(), "seed": 0}:
            raise InputError(f"{it.model_name}: a group must share one config (apart from seed)")
    schedules = []
    for it in items:
        try:
            schedules.append(compute_schedule(*it.pair.size, cfg.min_size, cfg.max_size, cfg.scale_factor))
        except ValueError as err:
            raise InputError(f"{it.pair.image_path or it.model_name}: {err}") from None
    schedule = schedules[0]
    if any(pyramid_key(s) != pyramid_key(schedule) for s in schedules):
        raise InputError("a group's images must share one pyramid shape (see batched.pyramid_key)")
    nc = cfg.nc_z

    states: list[_ModelState] = []
    starts = []
    for it, own in zip(items, schedules):
        # each image has its own scale1 (input sizes differ); only the pyramid it yields is shared
        reals = build_pyramid(it.pair.to_tensor()[:, :cfg.nc_im].to(dev), own, cfg.faithful_resize)
        st = _ModelState(it, own, reals)
        done, problem = load_partial(it.out_dir, it.pair, it.config) if resume else (0, None)
        if problem:
            raise InputError(problem)
        if done >= schedule.num_scales:
            raise InputError(f"{it.out_dir}: holds a finished checkpoint; use --overwrite to retrain it")
        if done:
            partial = SinGANSeg.from_pretrained(it.out_dir, device="cpu")
            st.gens = list(partial.generators)
            st.z_opts = [z.to(dev) for z in partial.z_opt]
            st.noise_amp, st.nfcs = list(partial.config.noise_amp), list(partial.config.nfc)
            st.timings = list(partial.config.train.get("seconds_per_scale", []))
            if (it.out_dir / TRAINER_STATE_NAME).exists():
                st.d_state = load_file(str(it.out_dir / TRAINER_STATE_NAME))
        starts.append(done)
        states.append(st)
    if len(set(starts)) != 1:
        raise InputError(f"the group's partial checkpoints stand at different scales {starts}; train them apart")
    start = starts[0]
    names = [it.model_name for it in items]
    chunk = pyramid_chunk or max(1, 64 // k)

    def stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(tensors), dim=1)

    def stack_amp(values: Sequence[float]) -> torch.Tensor:
        return _channel_vector(torch.tensor(list(values), dtype=torch.float32, device=dev), nc)

    # Frozen lower scales, stacked (rebuilt from the plain per-model generators when resuming).
    frozen: list[GroupedGenerator] = []
    for i in range(start):
        g = GroupedGenerator.stack([s.gens[i].to(dev) for s in states], cfg.nc_im, states[0].nfcs[i],
                                   cfg.ker_size, cfg.num_layer).eval().requires_grad_(False)
        for s in states:
            s.gens[i].cpu()
        frozen.append(g)

    for n in range(start, schedule.num_scales):
        t0 = time.perf_counter()
        nfc = nfc_for_scale(n, cfg.nfc, cfg.max_nfc)
        rngs = [torch.Generator(device=dev).manual_seed(scale_seed(s.item.config.seed, n)) for s in states]
        gs, ds = [], []
        for s in states:
            g, d = build_scale_nets(cfg, nfc, s.item.config.seed, n, dev)
            if n > 0 and s.nfcs[-1] == nfc:
                g.load_state_dict(s.gens[-1].state_dict())
                if s.d_state is not None:
                    d.load_state_dict(s.d_state)
            gs.append(g)
            ds.append(d)
        netG = GroupedGenerator.stack(gs, cfg.nc_im, nfc, cfg.ker_size, cfg.num_layer).train()
        netD = GroupedDiscriminator.stack(ds, cfg.nc_im, nfc, cfg.ker_size, cfg.num_layer).train()
        del gs, ds
        pyramid = _GroupPyramid(k, frozen, [stack([s.z_opts[i] for s in states]) for i in range(n)],
                                [stack([s.reals[i] for s in states]) for i in range(n + 1)],
                                [stack_amp([s.noise_amp[i] for s in states]) for i in range(n)],
                                cfg, schedule.scale_factor, chunk)
        z_opt, amps = train_scale_batched(n, netG, netD, pyramid, cfg, dev, rngs, schedule.num_scales, names,
                                          progress, log_every)
        netG.eval().requires_grad_(False)
        frozen.append(netG)
        seconds = round(time.perf_counter() - t0, 3)
        g_states, d_states = netG.unstacked_states(), netD.unstacked_states()
        for i, (s, zk) in enumerate(zip(states, z_opt.chunk(k, dim=1))):
            with torch.device("meta"):  # no init (and no draw from the global RNG): weights come next
                g = Generator(cfg.nc_im, nfc, cfg.ker_size, cfg.num_layer)
            g.load_state_dict(g_states[i], assign=True)
            s.gens.append(g.eval().requires_grad_(False))
            s.z_opts.append(zk.contiguous())
            s.noise_amp.append(amps[i])
            s.nfcs.append(nfc)
            s.timings.append(seconds)
            s.d_state = d_states[i]
            _save(s, n + 1, k, dev)
        if progress is not None:
            ev = BatchedProgress(names, n, schedule.num_scales, cfg.niter, cfg.niter, [], seconds, True)
            if progress(ev) is False:
                raise Cancelled(f"training cancelled after scale {n}")
    return [s.item.out_dir for s in states]


def _save(s: _ModelState, num_trained: int, k: int, dev: torch.device) -> None:
    """Write one model's checkpoint as ``training.train`` does (trainer state first, ``config.json`` last)."""
    it, cfg, pair, schedule = s.item, s.item.config, s.item.pair, s.schedule
    mc = ModelConfig(
        nc_im=cfg.nc_im, nc_z=cfg.nc_z, ker_size=cfg.ker_size, num_layer=cfg.num_layer, nfc=list(s.nfcs),
        scale_factor=schedule.scale_factor, sizes=[list(x) for x in schedule.sizes[:num_trained]],
        noise_amp=list(s.noise_amp), faithful_resize=cfg.faithful_resize, num_trained=num_trained,
        total_scales=schedule.num_scales, name=it.model_name,
        source={"image": Path(pair.image_path).name if pair.image_path else None,
                "mask": Path(pair.mask_path).name if pair.mask_path else None,
                "input_size": list(pair.size), "content_hash": pair.content_hash(),
                "mask_pixels_binarised": pair.changed_pixels, "origin": "trained"},
        train={"config": cfg.to_dict(), "seconds_per_scale": list(s.timings), "device": str(dev),
               "torch": torch.__version__, "scale1": schedule.scale1, "batched_k": k},
    )
    out = Path(it.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{TRAINER_STATE_NAME}.tmp"
    save_file(s.d_state, str(tmp))
    os.replace(tmp, out / TRAINER_STATE_NAME)
    model = SinGANSeg(mc, s.gens, [z.cpu() for z in s.z_opts], [r.cpu() for r in s.reals[:num_trained]], "cpu")
    model.save_pretrained(out, real_image=pair.image, real_mask=pair.mask if cfg.nc_im >= 4 else None)


# ---------------------------------------------------------------------------------------------- memory
def estimate_model_bytes(cfg: TrainConfig, sizes: Sequence[Sequence[int]], pyramid_chunk: int = 1) -> int:
    """Rough peak memory of one model in a group, bytes, from its pyramid ``sizes`` (``(h, w)``, coarse to fine).

    Float32 feature maps at the finest scale: G + 3 critic passes with the double backward of WGAN-GP
    keep ~40 maps of ``nfc x (h+10) x (w+10)``; frozen generators add ~3 maps per sample of the 'prev'
    sub-batch; the bank of random 'prev' images is small.
    """
    h, w = sizes[-1]
    nfc = nfc_for_scale(len(sizes) - 1, cfg.nfc, cfg.max_nfc)
    fmap = 4 * nfc * (h + 10) * (w + 10)
    bank = 4 * cfg.nc_im * h * w * cfg.prev_batch_epochs * cfg.d_steps * 3
    return int(fmap * (40 + 3 * pyramid_chunk) + bank)


def auto_parallel(cfg: TrainConfig, sizes: Sequence[Sequence[int]], device: str | torch.device = "auto",
                  cap: int = 64, fraction: float = 0.7) -> int:
    """K that fits ``fraction`` of the free memory of ``device`` (GPU: ``mem_get_info``; CPU: MemAvailable)."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
    else:
        free = _available_ram()
    return max(1, min(cap, int(free * fraction // estimate_model_bytes(cfg, sizes))))


def _available_ram() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


__all__ = ["BatchItem", "BatchedProgress", "GroupedGenerator", "GroupedDiscriminator", "auto_parallel",
           "build_scale_nets", "estimate_model_bytes", "load_partial", "pyramid_key", "train_batched",
           "train_scale_batched"]
