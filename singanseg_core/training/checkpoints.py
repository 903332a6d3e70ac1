"""Training's side of a checkpoint folder: may it be (re)trained or resumed, what a partial one holds, and the
save after every finished scale (trainer state first, ``config.json`` last)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import InputError
from ..files.pairs import ImagePair
from ..model.config import ModelConfig, checkpoint_status
from ..model.singanseg import SinGANSeg
from ..model.timing import RateModel
from ..model.training_log import PROGRESS_DIR, TRAINING_LOG_NAME, TrainingRecord
from ..networks.singan import Generator
from ..pyramid.schedule import ScaleSchedule
from .config import TrainConfig

if TYPE_CHECKING:
    from .prior import Prior
from .trainer import ProgressFn, TrainProgress

TRAINER_STATE_NAME = "trainer_state.safetensors"   # the last scale's discriminator, for resuming
CHECKPOINT_FILES = ("config.json", "model.safetensors", TRAINER_STATE_NAME, "real.png", "real_mask.png",
                    TRAINING_LOG_NAME)


def resume_point(out: Path, pair: ImagePair, cfg: TrainConfig, resume: bool, overwrite: bool) -> int:
    """The first scale to train into ``out``: 0 for a new (or overwritten) model, the number of finished scales
    of a partial checkpoint that may be resumed.

    Raises:
        InputError: ``out`` holds a finished checkpoint (without ``overwrite``), a partial one (without
            ``resume``, or trained on other content or settings), or an unreadable one (without ``overwrite``).
    """
    status = checkpoint_status(out)
    if status.state == "missing" or overwrite:
        return 0
    if status.state == "broken":
        raise InputError(f"{status.message}; use --overwrite to train into this folder anyway")
    assert status.config is not None
    if status.state == "finished":
        raise InputError(f"{out}: holds a finished checkpoint; use --overwrite to retrain it")
    done, total = status.config.num_scales, status.config.total_scales
    if not resume:
        raise InputError(f"{out}: holds a partial checkpoint ({done} of {total} scales); use --resume to continue "
                         "or --overwrite")
    if status.config.source.get("content_hash") != pair.content_hash():
        raise InputError(f"{out}: the partial checkpoint was trained on other content; use --overwrite")
    saved = status.config.train.get("config")
    # settings added since the partial checkpoint was written take their defaults (an older run may resume)
    if not isinstance(saved, dict):
        raise InputError(f"{out}: the partial checkpoint records no training settings; use --overwrite")
    theirs, ours = TrainConfig.from_dict(saved).to_dict(), cfg.to_dict()
    if theirs != ours:
        diff = ", ".join(f"{k}: {theirs[k]!r} there, {ours[k]!r} here" for k in ours if theirs[k] != ours[k])
        raise InputError(f"{out}: the partial checkpoint used other settings ({diff}); resume with the same "
                         "settings or use --overwrite")
    return done


def clear_checkpoint(out: Path) -> None:
    """Remove exactly the files a checkpoint consists of (``config.json`` first, so it never outlives its weights)."""
    for name in CHECKPOINT_FILES:
        (Path(out) / name).unlink(missing_ok=True)
    progress = Path(out) / PROGRESS_DIR
    if progress.is_dir() and not progress.is_symlink():
        for p in progress.glob("*.png"):
            p.unlink(missing_ok=True)


@dataclass
class ModelState:
    """One model's training state between scales (host side; generators CPU, eval, frozen)."""

    name: str
    pair: ImagePair
    out: Path
    config: TrainConfig
    schedule: ScaleSchedule
    reals: list[torch.Tensor]                                     # (1, nc, h, w) per scale, on the device
    gens: list[Generator] = field(default_factory=list)
    z_opts: list[torch.Tensor] = field(default_factory=list)      # (1, nc, h+2p, w+2p), on the device
    noise_amp: list[float] = field(default_factory=list)
    nfcs: list[int] = field(default_factory=list)
    timings: list[float] = field(default_factory=list)
    d_state: dict[str, torch.Tensor] | None = None
    images_saved: bool = False
    record: TrainingRecord | None = None                          # training_log.json + progress/*.png
    prior: "Prior | None" = None                                  # warm start (training.prior), recorded
    recorded_prior: object = None                                 # a partial checkpoint's train.init_from
    latest: tuple = (None, None)                                  # last (sample, rec), (C, h, w) tensors in [-1, 1]

    @property
    def done(self) -> int:
        return len(self.gens)

    def load_partial(self, device: torch.device) -> None:
        """Continue from the partial checkpoint in ``out`` (checked beforehand by :func:`resume_point`)."""
        partial = SinGANSeg.from_pretrained(self.out, device="cpu")
        self.gens = list(partial.generators)
        self.z_opts = [z.to(device) for z in partial.z_opt]
        self.noise_amp, self.nfcs = list(partial.config.noise_amp), list(partial.config.nfc)
        self.timings = list(partial.config.train.get("seconds_per_scale", []))
        self.recorded_prior = partial.config.train.get("init_from")
        if (self.out / TRAINER_STATE_NAME).is_file():
            self.d_state = _read_trainer_state(self.out)

    def start_record(self, nfcs: list[int], log_every: int, rate_prior: RateModel | None = None) -> None:
        """Open the training record of ``out`` (a resumed run keeps the record of its finished scales);
        ``rate_prior``: a calibration of this machine, for the ETA."""
        self.record = TrainingRecord(self.out, self.name, self.schedule.sizes, nfcs, self.config.niter, log_every,
                                     done=self.done, rate_prior=rate_prior)

    def model_config(self, device: torch.device, group_size: int) -> ModelConfig:
        cfg, pair, schedule = self.config, self.pair, self.schedule
        return ModelConfig(
            nc_im=cfg.nc_im, nc_z=cfg.nc_z, ker_size=cfg.ker_size, num_layer=cfg.num_layer, nfc=list(self.nfcs),
            scale_factor=schedule.scale_factor, sizes=[list(s) for s in schedule.sizes[:self.done]],
            noise_amp=list(self.noise_amp), faithful_resize=cfg.faithful_resize, num_trained=self.done,
            total_scales=schedule.num_scales, name=self.name,
            source={"image": Path(pair.image_path).name if pair.image_path else None,
                    "mask": Path(pair.mask_path).name if pair.mask_path else None,
                    "input_size": list(pair.size), "content_hash": pair.content_hash(),
                    "mask_pixels_binarised": pair.changed_pixels, "origin": "trained"},
            train={"config": cfg.to_dict(), "seconds_per_scale": list(self.timings), "device": str(device),
                   "torch": torch.__version__, "scale1": schedule.scale1, "batched_k": group_size,
                   **({"init_from": self.prior.record()} if self.prior is not None else {})},
        )

    def model(self, device: torch.device, group_size: int) -> SinGANSeg:
        """The model as trained so far (in memory; what :meth:`save` writes)."""
        return SinGANSeg(self.model_config(device, group_size), self.gens, self.z_opts,
                         self.reals[:self.done], device)

    def save(self, device: torch.device, group_size: int) -> SinGANSeg:
        """Write the checkpoint after a finished scale: the real images (once per run: they do not change), then
        the trainer state, weights and config as one all-or-nothing set, so a resume never pairs the
        discriminator of one scale with the generators of another."""
        from safetensors.torch import save as st_save

        self.out.mkdir(parents=True, exist_ok=True)
        assert self.d_state is not None
        model = self.model(device, group_size)
        first = not self.images_saved
        model.save_pretrained(self.out, real_image=self.pair.image if first else None,
                              real_mask=self.pair.mask if first and self.config.nc_im >= 4 else None,
                              extra={TRAINER_STATE_NAME: st_save(self.d_state)})
        self.images_saved = True
        if self.record is not None:
            self.record.scale_done(self.done - 1, self.timings[-1], *self.latest)
        return model


def _read_trainer_state(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    path = out / TRAINER_STATE_NAME
    if path.stat().st_size > 256 * 2**20:
        raise InputError(f"{path}: larger than any discriminator state; delete it or use --overwrite")
    try:
        return load(path.read_bytes())
    except Exception as err:  # noqa: BLE001 - safetensors raises its own types
        raise InputError(f"{path}: unreadable ({str(err)[:120]}); use --overwrite") from None


__all__ = ["CHECKPOINT_FILES", "ModelState", "TRAINER_STATE_NAME", "clear_checkpoint", "resume_point"]


def recording_progress(states: list[ModelState], progress: ProgressFn | None) -> ProgressFn:
    """``progress`` behind each model's training record: logged iterations go to the records (losses, timing,
    latest sample and reconstruction), and the event gets ``s_per_it`` and ``eta_s`` before it is passed on."""
    nc = states[0].config.nc_im

    def on_progress(ev: TrainProgress) -> "bool | None":
        if ev.losses and not ev.scale_done:
            # views on the device: copied to the host only when a record writes its PNGs (every few seconds)
            fake = None if ev.fake is None else ev.fake[0]
            rec = None if ev.rec is None else ev.rec[0]
            for i, s in enumerate(states):
                s.latest = (None if fake is None else fake[i * nc:(i + 1) * nc],
                            None if rec is None else rec[i * nc:(i + 1) * nc])
                s.record.iteration(ev.scale, ev.iteration, ev.seconds, ev.losses[i], *s.latest)
            ev.s_per_it, ev.eta_s = states[0].record.s_per_it, states[0].record.eta_s
        return None if progress is None else progress(ev)

    return on_progress
