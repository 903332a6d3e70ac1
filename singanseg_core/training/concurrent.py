"""The concurrent training schedule (``TrainConfig.schedule = "concurrent"``), an option for users who cannot wait.

An idea from ConSinGAN (Hinz et al., "Improved Techniques for Training Single-Image GANs", WACV 2021): rather than
freezing every scale once it is trained, the newest few stages are trained *together*, the lower ones with a
smaller learning rate, and the pyramid has fewer, larger scales. Our design, on the same networks and checkpoint
format as the paper's schedule, so the result is a normal SinGAN-Seg checkpoint that samples with the usual API:

* the pyramid uses ``TrainConfig.pyramid_scale_factor`` = ``scale_factor ** 2`` (about half as many scales;
  the width still follows ``nfc_for_scale`` by scale index, so the finest scales are narrower than the
  sequential pyramid's at the same resolution: 32 channels up to 4 scales, e.g. 250 px in 5 scales ends at 64);
* stage ``n`` adds scale ``n``'s generator and discriminator (initialised as the sequential trainer does: from
  the scale below when the width is unchanged) and trains the generators of scales
  ``n - concurrent_depth + 1 .. n`` jointly, generator ``i`` with learning rate
  ``lr_g * concurrent_lr_scale ** (n - i)``; the scales below that window are frozen (``trainer.FrozenPyramid``);
* every fake is the whole window's output on fresh noise (so the adversarial loss of scale ``n`` also shapes the
  lower generators), and the reconstruction loss follows the stored noise through the window;
* scale 0's reconstruction noise is drawn once and kept (the sequential schedule redraws it every iteration
  and keeps the last); scales above reconstruct from zero noise as usual; each scale's noise amplitude is set
  when the scale is added, from the reconstruction error of the scales below (as the paper);
* between scales the same resize as sampling (``faithful_resize``: the uint8 round trip) runs in the forward pass;
  its gradient is the float resize's (a straight-through estimate: the round trip has none of its own);
* the checkpoint is written after every stage; a resumed run continues from the saved generators with fresh
  optimisers (so, unlike the sequential schedule, it is not identical to an uninterrupted run).

It reuses the sequential trainer's pieces: network building and init, the frozen pyramid, the WGAN-GP penalty
(always float32, eager), per-model losses, the faster-path ``Runner`` (precision, compile) and the checkpoint
writing. One model at a time (``K = 1``).
"""

from __future__ import annotations

import time
from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import Cancelled, InputError
from ..networks.singan import Discriminator, Generator, nfc_for_scale, noise_pad, stack, unstack
from ..pyramid.imresize import imresize
from ..pyramid.schedule import ScaleSchedule
from ..model.singanseg import SinGANSeg
from .checkpoints import ModelState, recording_progress
from .config import TrainConfig
from .draws import SeededDraws
from .trainer import (FrozenPyramid, ProgressFn, Runner, TrainProgress, adversarial_iteration, build_scale_nets,
                      channel_vector, lr_milestone, report_iteration, stacked_noise)


def upsample(x: torch.Tensor, scale_factor: float, faithful: bool) -> torch.Tensor:
    """Scale ``i``'s output resized for scale ``i + 1`` as sampling does it; differentiable: with ``faithful``
    the value is the uint8 round trip's and the gradient the float resize's (straight-through)."""
    up = imresize(x, 1.0 / scale_factor, faithful=faithful)
    if faithful and x.requires_grad:
        smooth = imresize(x, 1.0 / scale_factor, faithful=False)
        up = smooth + (up - smooth).detach()
    return up


class Window:
    """The generators trained together at one stage: scales ``lo .. n``, on top of a frozen pyramid below.

    ``prev`` is the frozen scales' output for scale ``lo`` ``(B, nc, h_lo, w_lo)`` (zeros when ``lo`` is 0);
    ``zs[i - lo]`` the padded noise of scale ``i``; returns scale ``n``'s output ``(B, nc, h_n, w_n)``.
    """

    def __init__(self, gens: Sequence[Generator], lo: int, reals: Sequence[torch.Tensor], amps: Sequence[float],
                 cfg: TrainConfig, scale_factor: float, runner: Runner) -> None:
        self.gens, self.lo, self.reals, self.cfg = list(gens), lo, reals, cfg
        self.scale_factor, self.runner = scale_factor, runner
        self.pad = noise_pad(cfg.ker_size, cfg.num_layer)
        dev = reals[0].device
        self.amps = [channel_vector(torch.tensor([a], dtype=torch.float32, device=dev), cfg.nc_z) for a in amps]

    @property
    def n(self) -> int:
        return self.lo + len(self.gens) - 1

    def forward(self, prev: torch.Tensor, zs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = prev
        out = prev
        for j, g in enumerate(self.gens):
            i = self.lo + j
            h, w = self.reals[i].shape[2:]
            xp = F.pad(x[:, :, :h, :w], (self.pad,) * 4)
            out = self.runner.fwd(g, self.amps[j] * zs[j] + xp, xp)
            if i < self.n:
                x = upsample(out, self.scale_factor, self.cfg.faithful_resize)
        return out

    def parameter_groups(self, lr: float, lr_scale: float) -> list[dict]:
        """Adam groups: the newest generator at ``lr``, each one below at ``lr_scale`` times the one above."""
        return [{"params": list(g.parameters()), "lr": lr * lr_scale ** (self.n - (self.lo + j))}
                for j, g in enumerate(self.gens)]


def train_concurrent(states: list[ModelState], dev: torch.device, schedule: ScaleSchedule,
                     progress: ProgressFn | None, chunk: int, log_every: int) -> list[SinGANSeg]:
    """Train the remaining stages of one model (``states`` holds exactly one) with the concurrent schedule,
    saving its checkpoint after every stage. Returns ``[model]`` as ``fit.train_group`` does."""
    if len(states) != 1:
        raise InputError("the concurrent schedule trains one model at a time")
    s = states[0]
    cfg, start, names = s.config, s.done, [s.name]
    nfcs = [nfc_for_scale(n, cfg.nfc, cfg.max_nfc) for n in range(schedule.num_scales)]
    s.start_record(nfcs, log_every)
    progress = recording_progress(states, progress)
    models = [s.model(dev, 1)] if start == schedule.num_scales else []
    for n in range(start, schedule.num_scales):
        t0 = time.perf_counter()
        result = _train_stage(s, n, dev, schedule, progress, chunk, log_every, nfcs[n])
        netD, window, z0, amp = result
        seconds = round(time.perf_counter() - t0, 3)
        for j, g in enumerate(window.gens[:-1]):  # the lower generators of the window were trained too
            s.gens[window.lo + j] = unstack(g)[0]
        s.gens.append(unstack(window.gens[-1])[0])
        h, w = s.reals[n].shape[2:]
        pad = window.pad
        s.z_opts.append(z0 if n == 0 else torch.zeros(1, cfg.nc_z, h + 2 * pad, w + 2 * pad, device=dev))
        s.noise_amp.append(amp)
        s.nfcs.append(nfcs[n])
        s.timings.append(seconds)
        s.d_state = {key: v.detach().cpu().contiguous() for key, v in netD.state_dict().items()}
        models = [s.save(dev, 1)]
        if progress is not None:
            ev = TrainProgress(names, n, schedule.num_scales, cfg.niter, cfg.niter, [], seconds, True,
                               s_per_it=s.record.s_per_it, eta_s=s.record.eta_s)
            if progress(ev) is False:
                raise Cancelled(f"training cancelled after scale {n}")
    return models


def _train_stage(s: ModelState, n: int, dev: torch.device, schedule: ScaleSchedule, progress: ProgressFn | None,
                 chunk: int, log_every: int, nfc: int) -> tuple[Discriminator, Window, torch.Tensor, float]:
    """Stage ``n``: add scale ``n`` and train the window ``lo .. n``. Returns the stage's discriminator, the
    window (trained in place), scale 0's reconstruction noise (padded, for ``n`` = 0) and scale ``n``'s noise
    amplitude."""
    cfg = s.config
    nc, sf = cfg.nc_z, schedule.scale_factor
    lo = max(0, n - cfg.concurrent_depth + 1)
    runner = Runner(cfg, dev)
    draws = SeededDraws([cfg.seed], n, dev)
    pad = noise_pad(cfg.ker_size, cfg.num_layer)

    netG, netD = build_scale_nets(cfg, nfc, cfg.seed, n, dev)
    if n > 0 and s.nfcs[-1] == nfc:  # same width as the scale below: start from its weights (the paper)
        netG.load_state_dict(s.gens[-1].state_dict())
        if s.d_state is not None:
            netD.load_state_dict(s.d_state)
    lower = [stack([s.gens[i].to(dev)]).train().requires_grad_(True) for i in range(lo, n)]
    frozen = [stack([s.gens[i].to(dev)]).eval().requires_grad_(False) for i in range(lo)]
    pyramid = FrozenPyramid(frozen, s.z_opts[:lo], s.reals[:lo + 1],
                            [channel_vector(torch.tensor([a], device=dev), nc) for a in s.noise_amp[:lo]],
                            cfg, sf, chunk)
    real = s.reals[n]
    h, w = real.shape[2:]

    # reconstruction noise and this scale's amplitude (from the scales below as they stand now)
    rec_prev = pyramid.run(lo, 1, None)
    if n == 0:
        z0 = stacked_noise(draws.z_opt(0, (h, w)), nc, pad)
        amp = 1.0
    else:
        z0 = s.z_opts[0]
        with torch.no_grad():  # in eval mode, as sampling will run them
            below = Window([g.eval() for g in lower], lo, s.reals, s.noise_amp[lo:n], cfg, sf, runner)
            rec_below = below.forward(rec_prev, _rec_noise(s, lo, n - 1, z0, pad))
            up = upsample(rec_below, sf, cfg.faithful_resize)[:, :, :h, :w]
        for g in lower:
            g.train()
        amp = float(cfg.noise_amp_init * torch.sqrt(F.mse_loss(real, up)))
    netG.train()
    netD.train()
    window = Window([*lower, netG], lo, s.reals, [*s.noise_amp[lo:n], amp], cfg, sf, runner)
    rec_noise = _rec_noise(s, lo, n, z0, pad)

    optG = torch.optim.Adam(window.parameter_groups(cfg.lr_g, cfg.concurrent_lr_scale), betas=(cfg.beta1, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    milestone = lr_milestone(cfg)
    schedG = torch.optim.lr_scheduler.MultiStepLR(optG, milestones=[milestone], gamma=cfg.gamma)
    schedD = torch.optim.lr_scheduler.MultiStepLR(optD, milestones=[milestone], gamma=cfg.gamma)

    bank: list[torch.Tensor] = []
    t0 = time.perf_counter()
    for epoch in range(cfg.niter):
        if lo > 0 and not bank:
            epochs = range(epoch, min(epoch + cfg.prev_batch_epochs, cfg.niter))
            drawn = pyramid.run(lo, len(epochs) * cfg.d_steps,
                                lambda i, c, size: draws.prev_noise(epochs, cfg.d_steps, i, c, size), runner)
            bank = list(drawn.unbind(0))
            bank.reverse()
        def fake_at(j: int) -> torch.Tensor:
            prev = bank.pop().unsqueeze(0) if lo > 0 else rec_prev.new_zeros(rec_prev.shape)
            zs = [stacked_noise(draws.noise(epoch, 1 if i == 0 else nc, tuple(s.reals[i].shape[2:])), nc, pad)
                  for i in range(lo, n + 1)]
            return window.forward(prev, zs)

        terms, fake, rec_out = adversarial_iteration(
            netD, real, 1, cfg, runner, optD, optG, lambda j: draws.gp_mix(epoch, j), fake_at,
            lambda: window.forward(rec_prev, rec_noise), critic_bn_repeats=False,
            epoch=epoch)
        schedD.step()
        schedG.step()

        report_iteration(progress, [s.name], n, schedule.num_scales, epoch + 1, cfg.niter, log_every, t0, terms,
                         fake, rec_out)
    window.gens = [g.eval() for g in window.gens]
    return netD.eval(), window, z0, amp


def _rec_noise(s: ModelState, lo: int, n: int, z0: torch.Tensor, pad: int) -> list[torch.Tensor]:
    """The stored reconstruction noise of scales ``lo .. n`` (padded): scale 0's kept draw, zeros above."""
    out = []
    for i in range(lo, n + 1):
        h, w = s.reals[i].shape[2:]
        out.append(z0 if i == 0 else torch.zeros(1, s.config.nc_z, h + 2 * pad, w + 2 * pad, device=z0.device))
    return out
