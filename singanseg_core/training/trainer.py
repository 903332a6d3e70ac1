"""The one SinGAN-Seg trainer: per scale, WGAN-GP + reconstruction, for one model or K models at once.

K models (one image each) that share a pyramid geometry train as one computation: their networks are stacked
channel-wise (``networks.singan``, ``models=K``), every loss is computed per model, shape ``(K,)``, and their
*sum* is back-propagated, so each model gets exactly the gradient it would get alone; Adam and MultiStepLR are
elementwise, so one optimiser over the stacked parameters is K independent optimisers. ``K = 1`` is the plain
single-model trainer. Each model's random draws come from its own stream (``draws.SeededDraws``).

The update rule is the SinGAN-Seg code's; its waste is not reproduced:

* its three generator inner steps zero the gradient at the top of each step and call ``optimizer.step()``
  once afterwards, so only one (identical) gradient is applied: we compute it once. The BatchNorm running
  statistics of G (reconstruction pass) and of D (adversarial pass) still get the original's three identical
  updates, through an adjusted momentum ``1 - (1 - 0.1)**3`` and the counter bumped by 2.
* the first two discriminator steps' fakes need no graph through G, so they run without one.
* random "prev" images from the frozen lower scales are generated for several epochs in one batch (frozen
  generators run in eval mode, so batching does not change the math).
* resizing between scales runs in torch (``pyramid.imresize``), not through numpy on the CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..device import autocast_dtype, compile_module
from ..errors import Cancelled
from ..networks.singan import Discriminator, Generator, init_weights, noise_pad
from ..pyramid.imresize import imresize
from .config import TrainConfig
from .draws import ScaleDraws, scale_seed

BIAS_SEED_SALT = 0xB1A5
BN_MOMENTUM = 0.1  # torch's default, the original's
SNAPSHOT_EVERY = 500  # the original's preview period (epochs); its preview pass has a side effect, see below


@dataclass
class TrainProgress:
    """What a progress callback receives, for the K models trained together.

    ``iteration`` counts from 1 to ``niter`` within ``scale`` (0-based); ``losses[k]`` belongs to ``names[k]``
    (``d_real``, ``d_fake``, ``gp``, ``g_adv``, ``rec``; empty except on logged iterations); ``seconds`` is the
    time spent on this scale so far. On logged iterations ``fake`` is the last discriminator step's generated
    image and ``rec`` the reconstruction (``None`` when ``alpha`` is 0), both ``(1, K*nc_im, h, w)`` in [-1, 1],
    detached: what the scale's generator produces right now (for a progress view; never written back).
    ``s_per_it`` (seconds per iteration on this scale) and ``eta_s`` (seconds left for the whole model) are
    filled in by ``fit`` from the checkpoint's training record.
    """

    names: list[str]
    scale: int
    num_scales: int
    iteration: int
    niter: int
    losses: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    scale_done: bool = False
    fake: torch.Tensor | None = None
    rec: torch.Tensor | None = None
    s_per_it: float | None = None
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1] (scales weighted equally)."""
        return (self.scale + self.iteration / max(self.niter, 1)) / max(self.num_scales, 1)


ProgressFn = Callable[[TrainProgress], "bool | None"]


def build_scale_nets(cfg: TrainConfig, nfc: int, seed: int, n: int,
                     device: torch.device | str = "cpu") -> tuple[Generator, Discriminator]:
    """Scale ``n``'s freshly initialised single-model G and D. Every draw is seeded by ``(seed, n)``: SinGAN's
    init for conv weights and BatchNorm, and torch's default init for the conv biases (taken from a forked
    global RNG), so the result never depends on what ran before in the process."""
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(scale_seed(seed, n) ^ BIAS_SEED_SALT)
        netG = Generator(cfg.nc_im, nfc, cfg.ker_size, cfg.num_layer).to(dev)
        netD = Discriminator(cfg.nc_im, nfc, cfg.ker_size, cfg.num_layer).to(dev)
    init_gen = torch.Generator(device=dev).manual_seed(scale_seed(seed, n) ^ 0x5EED)
    init_weights(netG, init_gen)
    init_weights(netD, init_gen)
    return netG, netD


def lr_milestone(cfg: TrainConfig) -> int:
    """The epoch (0-based count of scheduler steps) at which both learning rates drop by ``gamma``.

    By default the original's absolute ``lr_drop_epoch`` (1600: the last 400 of the paper's 2000 iterations; a run
    of <= 1600 iterations keeps its initial rates throughout); with ``lr_drop_at`` set, that fraction of ``niter``.
    """
    if cfg.lr_drop_at is not None:
        return max(1, int(round(cfg.lr_drop_at * cfg.niter)))
    return cfg.lr_drop_epoch


# ---------------------------------------------------------------------------------------------- faster paths
class Runner:
    """How the trainer calls its networks under ``cfg.precision`` and ``cfg.compile`` (both off by default).

    ``fwd(net, *args)`` runs ``net`` (its compiled twin when ``compile``) under autocast when the precision is
    reduced and returns float32, so every loss is computed in float32; with the defaults it is exactly
    ``net(*args)``. ``step(loss, opt)`` back-propagates and steps, through a gradient scaler for CUDA fp16.
    The gradient penalty never goes through here: it needs float32 and a double backward, which compiled
    graphs do not support, so it always calls the eager module.
    """

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.device, self.dtype = device, autocast_dtype(device, cfg.precision)
        self.compile = cfg.compile
        self._compiled: dict[int, torch.nn.Module] = {}
        self._scalers: dict[int, "torch.amp.GradScaler"] = {}
        self.scaled = cfg.precision == "fp16"

    def net(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` itself, or its compiled twin (same parameters and buffers) when compiling."""
        if not self.compile:
            return module
        if id(module) not in self._compiled:
            self._compiled[id(module)] = compile_module(module)
        return self._compiled[id(module)]

    def fwd(self, module: torch.nn.Module, *args: torch.Tensor) -> torch.Tensor:
        net = self.net(module)
        if self.dtype is None:
            return net(*args)
        with torch.autocast(device_type=self.device.type, dtype=self.dtype):
            out = net(*args)
        return out.float()

    def step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        if not self.scaled:
            loss.backward()
            opt.step()
            return
        scaler = self._scalers.setdefault(id(opt), torch.amp.GradScaler(self.device.type))
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


# ---------------------------------------------------------------------------------------------- tensor helpers
def per_model(x: torch.Tensor, k: int) -> torch.Tensor:
    """``(N, K*C, H, W)`` → ``(N, K, C, H, W)`` (a view)."""
    return x.view(x.shape[0], k, x.shape[1] // k, *x.shape[2:])


def model_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean of each model's slice of ``(N, K*C, H, W)``: ``(K,)``. For K = 1 the very kernel of ``x.mean()``."""
    if k == 1:
        return x.mean().view(1)
    return per_model(x, k).transpose(0, 1).reshape(k, -1).mean(dim=1)


def model_mse(x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """Per-model ``F.mse_loss`` of stacked tensors: ``(K,)``."""
    if k == 1:
        return F.mse_loss(x, y).view(1)
    return torch.stack([F.mse_loss(a, b) for a, b in zip(x.chunk(k, dim=1), y.chunk(k, dim=1))])


def channel_vector(values: torch.Tensor, nc: int) -> torch.Tensor:
    """Per-model scalars ``(K,)`` → ``(1, K*nc, 1, 1)`` for broadcasting over a stacked tensor."""
    return values.repeat_interleave(nc).view(1, -1, 1, 1)


def stacked_noise(z: torch.Tensor, nc: int, pad: int) -> torch.Tensor:
    """Per-model noise ``(K, [B,] c, h, w)`` → ``(B, K*nc, h + 2 pad, w + 2 pad)``: each model's c channels are
    expanded to nc (the original's 1-channel noise at scale 0) and zero-padded."""
    if z.dim() == 4:
        z = z.unsqueeze(1)
    k, b, c, h, w = z.shape
    z = z.expand(k, b, nc, h, w).transpose(0, 1).reshape(b, k * nc, h, w)
    return F.pad(z, (pad,) * 4)


def gradient_penalty(netD: Discriminator, real: torch.Tensor, fake: torch.Tensor, lam: float,
                     mix: torch.Tensor, nc: int) -> torch.Tensor:
    """WGAN-GP per model as the original: one scalar mix ``mix[k]`` per image, the gradient norm over the
    channels of each pixel, its squared distance to 1 averaged. Returns ``(K,)``."""
    k = netD.models
    a = channel_vector(mix, nc) if k > 1 else mix
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    out = netD(x)
    (grad,) = torch.autograd.grad(out, x, torch.ones_like(out), create_graph=True)
    if k == 1:
        return (((grad.norm(2, dim=1) - 1) ** 2).mean() * lam).view(1)
    pen = (per_model(grad, k).norm(2, dim=2) - 1) ** 2  # (N, K, H, W)
    return pen.transpose(0, 1).reshape(k, -1).mean(dim=1) * lam


def _repeat_bn_updates(module: torch.nn.Module, forward: Callable[[], torch.Tensor], times: int = 3) -> torch.Tensor:
    """Run ``forward`` once while the BatchNorms of ``module`` update their running statistics as if it had run
    ``times`` times on the same input (train mode; the original repeats such passes)."""
    bns = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 1.0 - (1.0 - BN_MOMENTUM) ** times
    try:
        out = forward()
    finally:
        for m in bns:
            m.momentum = BN_MOMENTUM
    for m in bns:
        if m.num_batches_tracked is not None:
            m.num_batches_tracked += times - 1
    return out


# ---------------------------------------------------------------------------------------------- frozen scales
class FrozenPyramid:
    """The trained lower scales of K stacked models: draws random 'prev' images and the reconstruction path.

    Attributes:
        gens: one frozen K-model generator per trained scale.
        z_opt: stacked reconstruction noise per scale, ``(1, K*nc, h+2p, w+2p)``.
        reals: stacked real images per scale, ``(1, K*nc, h, w)`` (including the scale being trained).
        amps: per scale, the models' noise amplitudes as ``(1, K*nc, 1, 1)``.
        chunk: samples per frozen-generator call (memory bound only; eval mode makes it the same math).
    """

    def __init__(self, gens: Sequence[Generator], z_opt: Sequence[torch.Tensor], reals: Sequence[torch.Tensor],
                 amps: Sequence[torch.Tensor], cfg: TrainConfig, scale_factor: float, chunk: int = 64) -> None:
        self.gens, self.z_opt, self.reals, self.amps = list(gens), list(z_opt), list(reals), list(amps)
        self.cfg, self.scale_factor, self.chunk = cfg, scale_factor, max(1, chunk)
        self.k = reals[0].shape[1] // cfg.nc_im
        self.pad = noise_pad(cfg.ker_size, cfg.num_layer)

    @torch.no_grad()
    def run(self, n: int, batch: int, noise: Callable[[int, int, tuple[int, int]], torch.Tensor] | None,
            runner: "Runner | None" = None) -> torch.Tensor:
        """Output of scales ``0..n-1`` upsampled and cropped to scale ``n``: ``(batch, K*nc, h_n, w_n)``.

        ``noise=None`` follows the reconstruction path (stored noise), else ``noise(i, channels, size)`` gives the
        per-model draws ``(K, batch, channels, h_i, w_i)`` of scale ``i``. ``runner`` (the trainer's faster
        paths) runs the frozen generators; default: plain float32 calls.
        """
        dev, pad, nc = self.reals[0].device, self.pad, self.cfg.nc_z
        x = torch.zeros(batch, self.k * nc, *self.reals[0].shape[2:], device=dev)
        for i in range(n):
            h, w = self.reals[i].shape[2:]
            if noise is None:
                z = self.z_opt[i].expand(batch, -1, -1, -1)
            else:
                z = stacked_noise(noise(i, 1 if i == 0 else nc, (h, w)).to(dev), nc, pad)
            xp = F.pad(x[:, :, :h, :w], (pad,) * 4)
            inp = self.amps[i] * z + xp
            gen = self.gens[i] if runner is None else (lambda a, b, g=self.gens[i]: runner.fwd(g, a, b))
            x = torch.cat([gen(inp[s:s + self.chunk], xp[s:s + self.chunk]) for s in range(0, batch, self.chunk)])
            x = imresize(x, 1.0 / self.scale_factor, faithful=self.cfg.faithful_resize)
            nh, nw = self.reals[i + 1].shape[2:]
            x = x[:, :, :nh, :nw]
        return x


# ---------------------------------------------------------------------------------------------- one scale
@dataclass
class ScaleResult:
    """What training one scale leaves: the stacked reconstruction noise ``(1, K*nc, h+2p, w+2p)``, each model's
    noise amplitude, and the optimisers (their state is what the original's would hold)."""

    z_opt: torch.Tensor
    noise_amp: list[float]
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam


def train_scale(n: int, netG: Generator, netD: Discriminator, pyramid: FrozenPyramid, cfg: TrainConfig,
                draws: ScaleDraws, num_scales: int, names: Sequence[str], progress: ProgressFn | None = None,
                log_every: int = 10) -> ScaleResult:
    """Train scale ``n`` of ``K = netG.models`` stacked models in place (both nets in train mode)."""
    k = netG.models
    real = pyramid.reals[n]
    device = real.device
    nc, pad = cfg.nc_z, pyramid.pad
    h, w = real.shape[2:]
    run = Runner(cfg, device)
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, 0.999))
    milestone = lr_milestone(cfg)
    schedD = torch.optim.lr_scheduler.MultiStepLR(optD, milestones=[milestone], gamma=cfg.gamma)
    schedG = torch.optim.lr_scheduler.MultiStepLR(optG, milestones=[milestone], gamma=cfg.gamma)

    if n == 0:
        amps = [1.0] * k
        z_prev = torch.zeros(1, k * nc, h + 2 * pad, w + 2 * pad, device=device)
        z_opt = z_prev
    else:
        rec = pyramid.run(n, 1, None)
        # float32 arithmetic, as the original's 0-dim tensor noise_amp = noise_amp_init * RMSE
        amps = [float(cfg.noise_amp_init * torch.sqrt(F.mse_loss(real[:, s], rec[:, s])))
                for s in (slice(i * nc, (i + 1) * nc) for i in range(k))]
        z_prev = F.pad(rec, (pad,) * 4)
        z_opt = torch.zeros(1, k * nc, h + 2 * pad, w + 2 * pad, device=device)
    amp = channel_vector(torch.tensor(amps, dtype=torch.float32, device=device), nc)

    prev_bank: list[torch.Tensor] = []
    t0 = time.perf_counter()
    for epoch in range(cfg.niter):
        if n == 0:
            z_opt = stacked_noise(draws.z_opt(epoch, (h, w)).to(device), nc, pad)
            noise_ = stacked_noise(draws.noise(epoch, 1, (h, w)).to(device), nc, pad)
        else:
            noise_ = stacked_noise(draws.noise(epoch, nc, (h, w)).to(device), nc, pad)
            if not prev_bank:
                epochs = range(epoch, min(epoch + cfg.prev_batch_epochs, cfg.niter))
                bank = pyramid.run(n, len(epochs) * cfg.d_steps,
                                   lambda i, c, size: draws.prev_noise(epochs, cfg.d_steps, i, c, size), run)
                prev_bank = list(F.pad(bank, (pad,) * 4).unbind(0))
                prev_bank.reverse()

        def fake_at(j: int) -> torch.Tensor:
            netG.requires_grad_(j == cfg.d_steps - 1)  # G's parameters take part in the last D step's graph only
            if n == 0:
                return run.fwd(netG, noise_, torch.zeros_like(noise_))
            prev = prev_bank.pop().unsqueeze(0)
            return run.fwd(netG, amp * noise_ + prev, prev)

        terms, fake, rec_out = adversarial_iteration(
            netD, real, k, cfg, run, optD, optG, lambda j: draws.gp_mix(epoch, j).to(device), fake_at,
            # the original's Gsteps passes: D and G's BatchNorms update as if run three times
            lambda: _repeat_bn_updates(netG, lambda: run.fwd(netG, amp * z_opt + z_prev, z_prev)),
            critic_bn_repeats=True, epoch=epoch)
        if epoch % SNAPSHOT_EVERY == 0 or epoch == cfg.niter - 1:
            # The original draws G(z_opt) for a preview PNG here, in train mode: its output is unused, but the pass
            # moves G's BatchNorm running statistics, which sampling (eval mode) uses. Reproduced for fidelity.
            with torch.no_grad():
                run.fwd(netG, amp * z_opt + z_prev if cfg.alpha != 0 else z_opt, z_prev)
        schedD.step()
        schedG.step()

        report_iteration(progress, list(names), n, num_scales, epoch + 1, cfg.niter, log_every, t0, terms, fake,
                         rec_out)
    return ScaleResult(z_opt.detach(), amps, optG, optD)


def gp_due(cfg: TrainConfig, epoch: int, step: int) -> bool:
    """Lazy regularisation: does D step ``step`` of iteration ``epoch`` (both 0-based) take the gradient penalty?
    Every ``cfg.gp_every``-th critic step of the scale does (counted over iterations; the first one always), and
    its penalty is multiplied by ``gp_every`` so the average pull stays the same. ``gp_every = 1``: every step."""
    return (epoch * cfg.d_steps + step) % cfg.gp_every == 0


def adversarial_iteration(netD: Discriminator, real: torch.Tensor, k: int, cfg: TrainConfig, run: "Runner",
                          optD: torch.optim.Optimizer, optG: torch.optim.Optimizer,
                          gp_mix: Callable[[int], torch.Tensor], fake_at: Callable[[int], torch.Tensor],
                          reconstruct: Callable[[], torch.Tensor], critic_bn_repeats: bool, epoch: int = 0
                          ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor | None]:
    """**The** adversarial iteration (one epoch) of both schedules: ``cfg.d_steps`` critic steps (WGAN loss +
    gradient penalty), then one generator step (adversarial term on the last D step's fake + ``alpha`` x the
    reconstruction MSE).

    ``real``: ``(1, K*nc, h, w)``; ``fake_at(j)``: the generators' output for D step ``j`` (called with gradients
    only for the last step, whose fake the G step reuses); ``gp_mix(j)``: the penalty's mixing weights;
    ``reconstruct()``: the reconstruction ``(1, K*nc, h, w)`` (not called when ``alpha`` is 0);
    ``critic_bn_repeats``: the critic's G-step pass moves its BatchNorms as the original's three G steps do;
    ``epoch``: the iteration's 0-based index (lazy regularisation, :func:`gp_due`).
    Returns the loss terms ``(d_real, d_fake, gp, g_adv, rec)`` (each ``(K,)``), the last fake and the
    reconstruction (``None`` when ``alpha`` is 0).
    """
    last = cfg.d_steps - 1
    for j in range(cfg.d_steps):
        if j == last:
            fake = fake_at(j)
        else:
            with torch.no_grad():
                fake = fake_at(j)
        optD.zero_grad(set_to_none=True)
        err_real = -model_mean(run.fwd(netD, real), k)
        err_fake = model_mean(run.fwd(netD, fake.detach()), k)
        mix = gp_mix(j)  # drawn on every step, so lazy regularisation leaves every other draw where it was
        if gp_due(cfg, epoch, j):
            gp = gradient_penalty(netD, real, fake.detach(), cfg.lambda_grad, mix, cfg.nc_z)
            if cfg.gp_every > 1:
                gp = gp * cfg.gp_every
        else:
            gp = torch.zeros(k, device=real.device)
        run.step((err_real + err_fake + gp).sum(), optD)

    netD.requires_grad_(False)
    optG.zero_grad(set_to_none=True)
    critic = (lambda: _repeat_bn_updates(netD, lambda: run.fwd(netD, fake))) if critic_bn_repeats \
        else (lambda: run.fwd(netD, fake))
    err_g = -model_mean(critic(), k)
    if cfg.alpha != 0:
        rec_out: torch.Tensor | None = reconstruct()
        rec_loss = cfg.alpha * model_mse(rec_out, real, k)
    else:
        rec_out, rec_loss = None, torch.zeros(k, device=real.device)
    run.step((err_g + rec_loss).sum(), optG)
    netD.requires_grad_(True)
    return (-err_real, err_fake, gp, err_g, rec_loss), fake, rec_out


def report_iteration(progress: ProgressFn | None, names: list[str], n: int, num_scales: int, it: int, niter: int,
                     log_every: int, t0: float, terms: tuple[torch.Tensor, ...], fake: torch.Tensor,
                     rec: torch.Tensor | None) -> None:
    """Every ``log_every`` iterations (and the first and last): the losses per model as a :class:`TrainProgress`
    to ``progress``; raises ``Cancelled`` when it returns False.

    ``terms``: ``(d_real, d_fake, gp, g_adv, rec)``, each ``(K,)``.
    """
    if progress is None or not (it % log_every == 0 or it == niter or it == 1):
        return
    cols = torch.stack(list(terms)).detach().cpu().tolist()
    losses = [dict(zip(("d_real", "d_fake", "gp", "g_adv", "rec"), vals)) for vals in zip(*cols)]
    ev = TrainProgress(names, n, num_scales, it, niter, losses, time.perf_counter() - t0,
                       fake=fake.detach(), rec=None if rec is None else rec.detach())
    if progress(ev) is False:
        raise Cancelled(f"training cancelled at scale {n}, iteration {it}")
