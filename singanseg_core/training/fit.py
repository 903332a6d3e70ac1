"""Training whole models: :func:`train` for one image, :func:`train_group` for K images sharing a pyramid shape.

Both are the same code (``train`` is ``train_group`` with K = 1): coarse to fine, each scale is trained by
:func:`.trainer.train_scale` and every model's checkpoint is saved after every finished scale, so a killed run
resumes from its last finished scale. A checkpoint folder is locked while it is written.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..device import autocast_dtype, resolve_device
from ..errors import Cancelled, InputError
from ..files.atomic import folder_lock
from ..files.pairs import ImagePair, load_pair
from ..model.config import model_name_from, name_problem
from ..model.singanseg import SinGANSeg
from ..model.timing import RateModel
from ..networks.singan import Generator, nfc_for_scale, stack, unstack
from ..pyramid.schedule import ScaleSchedule, build_pyramid, compute_schedule
from .checkpoints import ModelState, clear_checkpoint, recording_progress, resume_point
from .concurrent import train_concurrent
from .config import TrainConfig
from .draws import ScaleDraws, SeededDraws
from .prior import Prior, load_prior, resume_problem
from .time_estimate import checkpoint_folders, rate_from_records
from .trainer import FrozenPyramid, ProgressFn, TrainProgress, build_scale_nets, channel_vector, train_scale

DrawsFactory = Callable[[int], ScaleDraws]   # scale -> its draws (default: SeededDraws of the models' seeds)


@dataclass
class TrainItem:
    """One model to train: its pair, checkpoint folder and config (``config.seed`` is its seed)."""

    pair: ImagePair
    out_dir: Path
    config: TrainConfig
    name: str | None = None

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        if self.name is not None and name_problem(self.name):
            raise InputError(f"model {name_problem(self.name)}")

    @property
    def model_name(self) -> str:
        """``name``, or the pair's name made into a valid model name (the model-name rule of ``model.config``)."""
        return self.name or model_name_from(self.pair.name)


def pyramid_key(schedule: ScaleSchedule) -> tuple:
    """Models can train together iff their pyramids have the same sizes and scale factor."""
    return (tuple(tuple(s) for s in schedule.sizes), schedule.scale_factor)


def schedule_for(pair: ImagePair, cfg: TrainConfig) -> ScaleSchedule:
    """The pyramid of ``pair`` under ``cfg``, or an ``InputError`` naming the image."""
    try:
        return compute_schedule(*pair.size, cfg.min_size, cfg.max_size, cfg.pyramid_scale_factor)
    except ValueError as err:
        raise InputError(f"{pair.image_path or pair.name}: {err}") from None


def train_group(items: Sequence[TrainItem], device: str | torch.device = "auto", progress: ProgressFn | None = None,
                resume: bool = True, overwrite: bool = False, pyramid_chunk: int | None = None, log_every: int = 10,
                draws: DrawsFactory | None = None, rate_prior: RateModel | None = None) -> list[SinGANSeg]:
    """Train one model per item, all K at once, saving every model's checkpoint after every scale.

    All items must share a pyramid (:func:`pyramid_key`) and a config apart from ``seed``. Partial checkpoints
    in the items' folders are continued when ``resume`` (they must stand at the same scale); ``overwrite``
    retrains whatever the folders hold. Each model's result is the one it would get trained alone.

    Args:
        pyramid_chunk: samples per frozen-generator call when drawing random 'prev' images (memory bound only;
            default ``max(1, 64 // K)``).
        draws: the random draws per scale (tests replay recorded ones); default seeded by each model's seed.
        rate_prior: this machine's calibrated iteration rate (``training.time_estimate.calibrate``), for the
            ETA of the first scales; default: the rate of the past trainings beside the first item's folder
            (``time_estimate.rate_from_records``: a workspace's checkpoints, a train-many output), if any.
    Returns:
        The trained models (in memory, on ``device``), in item order; each equals what ``from_pretrained`` loads.
    """
    if not items:
        return []
    dev = resolve_device(device)
    k, cfg = len(items), items[0].config
    autocast_dtype(dev, cfg.precision)  # a precision this hardware cannot run fails before any folder is touched
    _check_group(items)
    schedule = schedule_for(items[0].pair, cfg)
    prior = load_prior(cfg.init_from, cfg) if cfg.init_from is not None else None
    if rate_prior is None:
        rate_prior = rate_from_records(checkpoint_folders(items[0].out_dir.parent), cfg, dev.type)
    if prior is not None and any(prior.folder.resolve() == it.out_dir.resolve() for it in items):
        raise InputError(f"prior {prior.folder}: a model cannot start from its own folder")
    with ExitStack() as locks:
        for it in items:
            locks.enter_context(folder_lock(it.out_dir, "checkpoint folder"))
        states = []
        for it in items:
            own = schedule_for(it.pair, cfg)
            if pyramid_key(own) != pyramid_key(schedule):
                raise InputError("a group's images must share one pyramid shape (see training.fit.pyramid_key)")
            start = resume_point(it.out_dir, it.pair, it.config, resume, overwrite)
            if overwrite:
                clear_checkpoint(it.out_dir)
            # each image has its own scale1 (input sizes differ); only the pyramid it yields is shared
            reals = build_pyramid(it.pair.to_tensor()[:, :cfg.nc_im].to(dev), own, cfg.faithful_resize)
            st = ModelState(it.model_name, it.pair, it.out_dir, it.config, own, reals)
            if start:
                st.load_partial(dev)
                problem = resume_problem(st.recorded_prior, prior)
                if problem:
                    raise InputError(f"{it.out_dir}: {problem}")
            st.prior = prior
            states.append(st)
        starts = {s.done for s in states}
        if len(starts) != 1:
            raise InputError(f"the group's partial checkpoints stand at different scales {sorted(starts)}; "
                             "train them apart")
        if cfg.schedule == "concurrent":
            if draws is not None:
                raise InputError("recorded draws replay the sequential schedule only")
            return train_concurrent(states, dev, schedule, progress, pyramid_chunk or 64, log_every)
        return _train_scales(states, dev, schedule, progress, pyramid_chunk or max(1, 64 // k), log_every, draws,
                             prior, rate_prior)


def _check_group(items: Sequence[TrainItem]) -> None:
    cfg = items[0].config
    for it in items:
        if {**it.config.to_dict(), "seed": 0} != {**cfg.to_dict(), "seed": 0}:
            raise InputError(f"{it.model_name}: a group must share one config (apart from seed)")
    if cfg.nc_im not in (3, 4):
        raise InputError(f"nc_im must be 3 or 4, got {cfg.nc_im}")
    if cfg.schedule == "concurrent" and cfg.init_from is not None:
        raise InputError("a warm start (init_from) runs the sequential schedule; drop one of the two")
    if cfg.schedule == "concurrent" and len(items) > 1:
        raise InputError("the concurrent schedule trains one model at a time; train these models apart")
    names = [it.model_name for it in items]
    folders = [str(it.out_dir.resolve()) for it in items]
    if len(set(folders)) != len(folders):
        raise InputError(f"two models of one group write into the same folder ({', '.join(names)})")


def _train_scales(states: list[ModelState], dev: torch.device, schedule: ScaleSchedule, progress: ProgressFn | None,
                  chunk: int, log_every: int, draws: DrawsFactory | None, prior: Prior | None = None,
                  rate_prior: RateModel | None = None) -> list[SinGANSeg]:
    k, cfg, start = len(states), states[0].config, states[0].done
    names = [s.name for s in states]
    nfcs = [nfc_for_scale(n, cfg.nfc, cfg.max_nfc) for n in range(schedule.num_scales)]
    for s in states:
        s.start_record(nfcs, log_every, rate_prior)
    progress = recording_progress(states, progress)

    def cat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(tensors), dim=1)

    def amps(values: Sequence[float]) -> torch.Tensor:
        return channel_vector(torch.tensor(list(values), dtype=torch.float32, device=dev), cfg.nc_z)

    # Frozen lower scales, stacked (rebuilt from the per-model generators when resuming).
    frozen: list[Generator] = [stack([s.gens[i].to(dev) for s in states]).eval().requires_grad_(False)
                               for i in range(start)]
    for s in states:
        for g in s.gens:
            g.cpu()
    models = [s.model(dev, k) for s in states] if start == schedule.num_scales else []
    for n in range(start, schedule.num_scales):
        t0 = time.perf_counter()
        nfc = nfc_for_scale(n, cfg.nfc, cfg.max_nfc)
        gs, ds = [], []
        for s in states:
            g, d = build_scale_nets(cfg, nfc, s.config.seed, n, dev)
            if prior is not None and n < len(prior.gens):  # warm start: the prior's scale n (same width, checked)
                g.load_state_dict(prior.gens[n].state_dict())
                if n in prior.d_states:
                    d.load_state_dict(prior.d_states[n])
            elif n > 0 and s.nfcs[-1] == nfc:  # same width as the scale below: start from its weights (the original)
                g.load_state_dict(s.gens[-1].state_dict())
                if s.d_state is not None:
                    d.load_state_dict(s.d_state)
            gs.append(g)
            ds.append(d)
        netG, netD = stack(gs).train(), stack(ds).train()
        del gs, ds
        pyramid = FrozenPyramid(frozen, [cat(s.z_opts[i] for s in states) for i in range(n)],
                                [cat(s.reals[i] for s in states) for i in range(n + 1)],
                                [amps(s.noise_amp[i] for s in states) for i in range(n)],
                                cfg, schedule.scale_factor, chunk)
        scale_draws = draws(n) if draws is not None else SeededDraws([s.config.seed for s in states], n, dev)
        result = train_scale(n, netG, netD, pyramid, cfg, scale_draws, schedule.num_scales, names, progress,
                             log_every)
        frozen.append(netG.eval().requires_grad_(False))
        seconds = round(time.perf_counter() - t0, 3)
        models = []
        for s, g, d, z, amp in zip(states, unstack(netG), unstack(netD), result.z_opt.chunk(k, dim=1),
                                   result.noise_amp):
            s.gens.append(g)
            s.z_opts.append(z.contiguous())
            s.noise_amp.append(amp)
            s.nfcs.append(nfc)
            s.timings.append(seconds)
            s.d_state = {key: v.contiguous() for key, v in d.state_dict().items()}
            models.append(s.save(dev, k))
        if progress is not None:
            ev = TrainProgress(names, n, schedule.num_scales, cfg.niter, cfg.niter, [], seconds, True,
                               s_per_it=states[0].record.s_per_it, eta_s=states[0].record.eta_s)
            if progress(ev) is False:
                raise Cancelled(f"training cancelled after scale {n}")
    return models


def train(image: "str | os.PathLike | ImagePair", mask: "str | os.PathLike | None" = None,
          out_dir: "str | os.PathLike | None" = None, config: TrainConfig | None = None,
          progress: ProgressFn | None = None, resume: bool = False, overwrite: bool = False,
          device: str | torch.device = "auto", name: str | None = None,
          draws: DrawsFactory | None = None, rate_prior: RateModel | None = None) -> SinGANSeg:
    """Train a SinGAN-Seg model on one image/mask pair, saving after every finished scale.

    Args:
        image, mask: file paths (or an :class:`ImagePair`; ``mask=None`` reads an RGBA image's alpha).
        out_dir: checkpoint folder (locked while training; ``config.json`` written last after each scale).
        resume: continue a partial checkpoint from its last finished scale (same input and config).
        overwrite: retrain into a folder that holds a checkpoint.
        progress: called with :class:`TrainProgress` (``losses[0]`` is this model's); returning ``False``
            cancels (raises ``Cancelled``; finished scales stay saved and ``resume=True`` continues).
    Returns:
        The trained :class:`SinGANSeg` (eval mode, on ``device``), equal to what ``from_pretrained`` loads.
    """
    if out_dir is None:
        raise InputError("out_dir is required")
    pair = image if isinstance(image, ImagePair) else load_pair(image, mask, name=name)
    item = TrainItem(pair, Path(out_dir), config or TrainConfig(), name)
    return train_group([item], device, progress, resume=resume, overwrite=overwrite, draws=draws,
                       rate_prior=rate_prior)[0]
