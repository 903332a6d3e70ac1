"""How long a training will take on this machine, before it starts.

Two sources, both fitted with ``model.timing`` (seconds per iteration = overhead + rate x the scale's work):

* :func:`calibrate`: a short measurement: a few iterations of the real trainer (untrained networks, random
  images of the right sizes) at the coarsest scale and at a fine one, timed, and the fit extrapolated to every
  scale by its work;
* :func:`rate_from_records`: the per-scale rates of past trainings (their ``training_log.json``) run with the same
  kind of iteration (channels, layers, kernel, critic steps, lazy penalty, precision, schedule, device).

:func:`estimate_seconds` turns either into the seconds of a whole model; :func:`describe_estimate` into words.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from ..device import resolve_device
from ..model.timing import RateModel, fit_rate, scale_work
from ..model.training_log import read_training_log
from ..networks.singan import nfc_for_scale, noise_pad, stack
from ..pyramid.schedule import compute_schedule
from ..errors import InputError
from .config import TrainConfig
from .draws import SeededDraws
from .trainer import FrozenPyramid, build_scale_nets, train_scale

CALIBRATION_ITERS = 2          # timed iterations per calibrated scale (after one untimed warm-up iteration)
FINE_WORK_SHARE = 0.7          # the fine calibration scale: the largest with at most this share of the finest's work
CALIBRATION_MAX_WORK = scale_work((96, 128), 32)  # ... and at most this work (~1 s per iteration on a loaded CPU)
RECORDS_READ = 20             # past checkpoints read for their rates (the newest)
# Settings that change what one iteration costs (beyond the scale's size and width): past runs count only when equal.
ITERATION_KIND = ("nc_im", "num_layer", "ker_size", "d_steps", "gp_every", "precision", "compile", "schedule")


def _schedule(cfg: TrainConfig, image_hw: Sequence[int]):
    try:
        return compute_schedule(int(image_hw[0]), int(image_hw[1]), cfg.min_size, cfg.max_size,
                                cfg.pyramid_scale_factor)
    except ValueError as err:
        raise InputError(str(err)) from None


def planned_scales(cfg: TrainConfig, image_hw: Sequence[int]) -> tuple[list[list[int]], list[int]]:
    """The ``(h, w)`` and width of every scale a model of an ``image_hw`` image gets under ``cfg``."""
    sched = _schedule(cfg, image_hw)
    return [list(s) for s in sched.sizes], [nfc_for_scale(n, cfg.nfc, cfg.max_nfc) for n in range(sched.num_scales)]


def works_of(cfg: TrainConfig, sizes: Sequence[Sequence[int]], nfcs: Sequence[int]) -> list[float]:
    return [scale_work(s, n) for s, n in zip(sizes, nfcs)]


def estimate_seconds(cfg: TrainConfig, image_hw: Sequence[int], rate: RateModel) -> float:
    """Seconds to train a whole model of an ``image_hw`` image under ``cfg`` at ``rate`` (training loops only)."""
    sizes, nfcs = planned_scales(cfg, image_hw)
    return rate.seconds(works_of(cfg, sizes, nfcs), cfg.niter)


def _time_scale(cfg: TrainConfig, sizes: Sequence[Sequence[int]], nfcs: Sequence[int], n: int,
                dev: torch.device, iters: int, scale_factor: float) -> float:
    """Seconds per iteration of the trainer at scale ``n`` (untrained networks, random images)."""
    gen = torch.Generator().manual_seed(0)
    reals = [(torch.rand(1, cfg.nc_im, h, w, generator=gen) * 2 - 1).to(dev) for h, w in sizes[:n + 1]]
    pad = noise_pad(cfg.ker_size, cfg.num_layer)
    frozen = [stack([build_scale_nets(cfg, nfcs[i], 0, i, dev)[0]]).eval().requires_grad_(False) for i in range(n)]
    z = [torch.zeros(1, cfg.nc_im, h + 2 * pad, w + 2 * pad, device=dev) for h, w in sizes[:n]]
    amps = [torch.full((1, cfg.nc_im, 1, 1), 0.1, device=dev) for _ in range(n)]
    pyramid = FrozenPyramid(frozen, z, reals, amps, cfg, scale_factor)

    def run(niter: int) -> float:
        c = replace(cfg, niter=niter, prev_batch_epochs=niter)
        g, d = build_scale_nets(c, nfcs[n], 0, n, dev)
        netG, netD = stack([g]).train(), stack([d]).train()
        t0 = time.perf_counter()
        train_scale(n, netG, netD, pyramid, c, SeededDraws([0], n, dev), len(sizes), ["calibration"])
        return time.perf_counter() - t0

    run(1)  # warm-up: allocations, first kernel choices
    return run(iters) / iters


def calibrate(cfg: TrainConfig, image_hw: Sequence[int], device: str | torch.device = "auto",
              iters: int = CALIBRATION_ITERS) -> RateModel:
    """This machine's rate for ``cfg``: the trainer timed at the coarsest scale and at the largest scale with at
    most :data:`FINE_WORK_SHARE` of the finest's work and at most :data:`CALIBRATION_MAX_WORK` (so the measurement
    stays short), fitted by ``model.timing.fit_rate``. Takes ``iters + 1`` iterations of each of the two."""
    dev = resolve_device(device)
    sizes, nfcs = planned_scales(cfg, image_hw)
    works = works_of(cfg, sizes, nfcs)
    cap = min(FINE_WORK_SHARE * works[-1], CALIBRATION_MAX_WORK)
    fine = max((n for n, w in enumerate(works) if w <= cap), default=0)
    factor = _schedule(cfg, image_hw).scale_factor
    points = [(works[n], _time_scale(cfg, sizes, nfcs, n, dev, iters, factor)) for n in sorted({0, fine})]
    rate = fit_rate(points, min_spread=1.0)
    assert rate is not None  # measured times are positive
    return rate


def _iteration_kind(cfg: dict[str, Any]) -> tuple:
    return tuple(cfg.get(k) for k in ITERATION_KIND)


def rate_from_records(folders: Iterable[str | os.PathLike], cfg: TrainConfig, device: str) -> RateModel | None:
    """The rate of past trainings in ``folders`` (checkpoint folders) that ran ``cfg``'s kind of iteration
    (:data:`ITERATION_KIND`) on ``device`` (``"cpu"``, ``"cuda"``, ...), from every finished scale of their
    training records; ``None`` when none did. Unreadable folders are skipped."""
    from ..model.config import checkpoint_status

    want = _iteration_kind(cfg.to_dict())
    points: list[tuple[float, float]] = []
    for folder in folders:
        status = checkpoint_status(folder)
        mc = status.config
        if mc is None or not isinstance(mc.train.get("config"), dict):
            continue
        if _iteration_kind(TrainConfig.from_dict(mc.train["config"]).to_dict()) != want:
            continue
        if str(mc.train.get("device", "")).split(":")[0] != device.split(":")[0]:
            continue
        try:
            log = read_training_log(folder)
        except Exception:  # noqa: BLE001 - a broken record is no evidence
            continue
        for entry in (log or {}).get("scales", []):
            n, rate = entry.get("scale"), entry.get("s_per_it")
            if entry.get("done") and isinstance(n, int) and 0 <= n < len(mc.nfc) and isinstance(rate, (int, float)):
                points.append((scale_work(mc.sizes[n], mc.nfc[n]), rate))
    return fit_rate(points)


def estimate_for(cfg: TrainConfig, image_hw: Sequence[int], device: str | torch.device,
                 past: Iterable[str | os.PathLike]) -> tuple[float, str]:
    """``(seconds, how we know)`` for one model: from the ``past`` trainings' rates when they ran this kind of
    iteration on this kind of device, else from a calibration now."""
    dev = resolve_device(device)
    rate = rate_from_records(past, cfg, dev.type)
    if rate is not None:
        return estimate_seconds(cfg, image_hw, rate), "from past trainings in this workspace"
    return estimate_seconds(cfg, image_hw, calibrate(cfg, image_hw, dev)), "from a short measurement"


def describe_estimate(seconds: float) -> str:
    """``"about 40 s"``, ``"about 3 min"``, ``"about 2.5 h"``."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def checkpoint_folders(root: str | os.PathLike, newest: int = RECORDS_READ) -> list[Path]:
    """The ``newest`` sub-folders of ``root`` (a workspace's checkpoints) by modification time, for
    :func:`rate_from_records` (bounded: a workspace may hold thousands)."""
    base = Path(root)
    if not base.is_dir():
        return []
    folders = [p for p in base.iterdir() if p.is_dir() and not p.is_symlink()]
    return sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)[:newest]


__all__ = ["ITERATION_KIND", "calibrate", "checkpoint_folders", "describe_estimate", "estimate_for", "estimate_seconds",
           "planned_scales", "rate_from_records", "works_of"]
