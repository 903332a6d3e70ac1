"""The training record kept with a checkpoint: the one home of ``training_log.json`` and ``progress/*.png``.

While a model trains, :class:`TrainingRecord` keeps, per scale, the losses every ``log_every`` iterations, the
seconds spent and the seconds per iteration, an ETA for the whole model, and the latest generated sample and
reconstruction at the scale being trained as small PNGs. Everything is written atomically into the checkpoint
folder and stays there after training; :func:`read_training_log` (``SinGANSeg.training_log()``) reads it back.

``training_log.json``::

    {"format": 1, "name": str, "state": "training" | "finished", "num_scales": int, "niter": int,
     "log_every": int, "sizes": [[h, w], ...], "scale": int (0-based, the scale trained now or last),
     "iteration": int, "s_per_it": float | null, "eta_s": float | null, "seconds": float (all scales),
     "updated": unix time,
     "scales": [{"scale": int (0-based), "size": [h, w], "iterations": [1, 10, 20, ...],
                 "losses": {"d_real": [...], "d_fake": [...], "gp": [...], "g_adv": [...], "rec": [...]},
                 "seconds": float, "s_per_it": float | null, "done": bool}, ...]}

Scale indices in the file are 0-based, as everywhere in the code; :func:`scale_label` is the one rule for
the 1-based text a person reads ("scale 3 of 8").
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import CheckpointError
from ..files.atomic import atomic_write_text, save_png
from ..files.bounded_json import read_json
from .timing import PRIOR_OVERHEAD_WORK, RateModel, remaining_from_prior, remaining_seconds, scale_work

if TYPE_CHECKING:
    import torch

TRAINING_LOG_NAME = "training_log.json"
PROGRESS_DIR = "progress"
LATEST_SAMPLE_NAME = "latest_sample.png"
LATEST_REC_NAME = "latest_rec.png"
LOSS_KEYS = ("d_real", "d_fake", "gp", "g_adv", "rec")
LOG_FORMAT = 1
MAX_LOG_BYTES = 32 * 2**20        # a 2000-iteration, 12-scale log at log_every=1 is ~5 MB
PREVIEW_SIZE = 128                # longest side of the progress PNGs, px
WRITE_INTERVAL_S = 2.0            # at most one log write per interval while a scale trains


def scale_label(scale: int, num_scales: int) -> str:
    """The text a person reads for 0-based ``scale``: ``"scale 1 of 8"`` (1-based everywhere it is shown)."""
    return f"scale {int(scale) + 1} of {int(num_scales)}"


def read_training_log(folder: str | os.PathLike) -> dict[str, Any] | None:
    """``folder/training_log.json`` as a dict, or ``None`` when the folder has none (e.g. an imported model).

    Raises:
        CheckpointError: the file is a link, too large, not JSON or not a training log.
    """
    path = Path(folder) / TRAINING_LOG_NAME
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise CheckpointError(f"{path}: not a plain file")
    if path.stat().st_size > MAX_LOG_BYTES:
        raise CheckpointError(f"{path}: larger than {MAX_LOG_BYTES // 2**20} MB, not a training log")
    data = read_json(path, MAX_LOG_BYTES, expect=None)  # UnreadableJSONError is a CheckpointError
    if not isinstance(data, dict) or data.get("format") != LOG_FORMAT or not isinstance(data.get("scales"), list):
        raise CheckpointError(f"{path}: not a training log of format {LOG_FORMAT}")
    return data


def progress_images(folder: str | os.PathLike) -> dict[str, Path]:
    """The progress PNGs present in a checkpoint folder: ``{"sample": path, "rec": path}`` (either may be absent)."""
    base = Path(folder) / PROGRESS_DIR
    found = {"sample": base / LATEST_SAMPLE_NAME, "rec": base / LATEST_REC_NAME}
    return {k: p for k, p in found.items() if p.is_file() and not p.is_symlink()}


def estimate_eta(sizes: Sequence[Sequence[int]], nfcs: Sequence[int], niter: int, scale: int, iteration: int,
                 s_per_it: float | None, finished: Sequence[tuple[int, float]] = (),
                 overhead_work: float = PRIOR_OVERHEAD_WORK, prior: RateModel | None = None) -> float | None:
    """Seconds left for a model training ``scale`` (0-based) at ``iteration`` of ``niter`` with ``s_per_it``
    seconds per iteration there, ``finished`` holding ``(scale, s_per_it)`` of the scales already done.

    The remaining scales are weighted by their cost: a rate model (``model.timing``: a fixed overhead plus a part
    proportional to each scale's multiply-adds) is fitted to every rate measured in this run, so the estimate
    gets better with each finished scale. While one scale is all it has measured, the overhead's share is
    ``overhead_work`` (``model.timing.fit_rate``; a calibration before training gives this machine's).
    With ``prior`` (this machine's calibrated rate, ``training.time_estimate``) the calibration's prediction is
    corrected by the pace measured so far instead (``model.timing.remaining_from_prior``): fitting a line to the
    first, smallest scales extrapolates badly to the large ones. ``None`` when there is no rate yet."""
    if s_per_it is None or not math.isfinite(s_per_it) or s_per_it <= 0:
        return None
    works = [scale_work(sz, nfc) for sz, nfc in zip(sizes, nfcs)]
    if prior is not None:
        spent = [(works[m], float(r), niter) for m, r in finished if 0 <= m < len(works) and m != scale and r]
        return remaining_from_prior(works, niter, scale, iteration, spent + [(works[scale], float(s_per_it),
                                                                              iteration)], prior)
    measured = [(works[m], float(r)) for m, r in finished if 0 <= m < len(works) and m != scale and r]
    return remaining_seconds(works, niter, scale, iteration, measured + [(works[scale], float(s_per_it))],
                             overhead_work)


def progress_tile(x: "np.ndarray | torch.Tensor") -> np.ndarray:
    """``(C, h, w)`` float in [-1, 1] (numpy, or a tensor on any device) → uint8 RGB ``(h', w', 3)``: the image,
    with the mask channel beside it when there is one (C = 4), each tile at most :data:`PREVIEW_SIZE` px on its
    longest side."""
    from PIL import Image

    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    levels = (np.clip((np.asarray(x, np.float32) + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.uint8)
    tiles = [np.transpose(levels[:3], (1, 2, 0))]
    if levels.shape[0] >= 4:
        tiles.append(np.repeat(levels[3][..., None], 3, axis=2))
    h, w = tiles[0].shape[:2]
    f = min(1.0, PREVIEW_SIZE / max(h, w))
    if f < 1.0:
        size = (max(1, round(w * f)), max(1, round(h * f)))
        tiles = [np.asarray(Image.fromarray(t).resize(size, Image.BILINEAR)) for t in tiles]
    return np.concatenate(tiles, axis=1)


class TrainingRecord:
    """Writes one model's training record into its checkpoint folder as it trains.

    Args:
        folder: the checkpoint folder.
        sizes: ``(h, w)`` of every scale of the full pyramid; ``nfcs``: the width of every scale.
        done: scales already finished (a resumed run keeps their record and drops anything later).
        rate_prior: this machine's calibrated rate (``training.time_estimate``), for the ETA's first scales.
    """

    def __init__(self, folder: str | os.PathLike, name: str, sizes: Sequence[Sequence[int]], nfcs: Sequence[int],
                 niter: int, log_every: int, done: int = 0, rate_prior: RateModel | None = None) -> None:
        self.folder = Path(folder)
        self.overhead_work = rate_prior.overhead_work if rate_prior is not None else PRIOR_OVERHEAD_WORK
        self.rate_prior = rate_prior
        self.sizes = [list(map(int, s)) for s in sizes]
        self.nfcs = [int(n) for n in nfcs]
        self._last_write = 0.0
        old = None
        if done:
            try:
                old = read_training_log(self.folder)
            except CheckpointError:
                old = None
        kept = [s for s in (old or {}).get("scales", []) if isinstance(s, dict) and s.get("scale", done) < done]
        self.data: dict[str, Any] = {
            "format": LOG_FORMAT, "name": name, "state": "training", "num_scales": len(self.sizes),
            "niter": int(niter), "log_every": int(log_every), "sizes": self.sizes, "scale": int(done),
            "iteration": 0, "s_per_it": None, "eta_s": None,
            "seconds": round(sum(float(s.get("seconds", 0.0)) for s in kept), 3), "updated": time.time(),
            "scales": kept,
        }

    # ------------------------------------------------------------------ events
    def _entry(self, scale: int) -> dict[str, Any]:
        scales = self.data["scales"]
        if not scales or scales[-1]["scale"] != scale:
            scales.append({"scale": scale, "size": self.sizes[scale], "iterations": [],
                           "losses": {k: [] for k in LOSS_KEYS}, "seconds": 0.0, "s_per_it": None, "done": False})
        return scales[-1]

    def iteration(self, scale: int, iteration: int, seconds: float, losses: dict[str, float] | None = None,
                  fake: Any = None, rec: Any = None) -> None:
        """A logged iteration of ``scale``: ``seconds`` spent on the scale so far, the model's ``losses``, and its
        current sample / reconstruction ``(C, h, w)`` in [-1, 1], numpy or tensor (written as PNGs with the log,
        at most every :data:`WRITE_INTERVAL_S`)."""
        entry = self._entry(scale)
        if losses:
            entry["iterations"].append(int(iteration))
            for k in LOSS_KEYS:
                entry["losses"][k].append(_round(losses.get(k, float("nan"))))
        entry["seconds"] = round(float(seconds), 3)
        entry["s_per_it"] = round(seconds / iteration, 5) if iteration > 0 else None
        self._update_totals(scale, iteration, entry["s_per_it"])
        now = time.monotonic()
        if now - self._last_write >= WRITE_INTERVAL_S:
            self._write(fake, rec)
            self._last_write = now

    def scale_done(self, scale: int, seconds: float, fake: Any = None, rec: Any = None) -> None:
        """``scale`` finished in ``seconds`` (called after the checkpoint of that scale is saved)."""
        entry = self._entry(scale)
        niter = self.data["niter"]
        # s/it stays the training loop's rate (the scale's wall time also holds set-up and the save)
        entry.update(seconds=round(float(seconds), 3), done=True,
                     s_per_it=entry["s_per_it"] or round(seconds / max(niter, 1), 5))
        finished = scale + 1 >= len(self.sizes)
        self._update_totals(scale, niter, entry["s_per_it"])
        if finished:
            self.data.update(state="finished", eta_s=0.0)
        self._write(fake, rec)
        self._last_write = time.monotonic()

    def _update_totals(self, scale: int, iteration: int, s_per_it: float | None) -> None:
        finished = [(int(s["scale"]), s["s_per_it"]) for s in self.data["scales"]
                    if s.get("done") and isinstance(s.get("s_per_it"), (int, float))]
        eta = estimate_eta(self.sizes, self.nfcs, self.data["niter"], scale, iteration, s_per_it, finished,
                           self.overhead_work, self.rate_prior)
        self.data.update(scale=int(scale), iteration=int(iteration), s_per_it=s_per_it,
                         eta_s=None if eta is None else round(eta, 1),
                         seconds=round(sum(float(s["seconds"]) for s in self.data["scales"]), 3))

    @property
    def eta_s(self) -> float | None:
        return self.data["eta_s"]

    @property
    def s_per_it(self) -> float | None:
        return self.data["s_per_it"]

    # ------------------------------------------------------------------ files
    def _write(self, fake: Any, rec: Any) -> None:
        self.data["updated"] = time.time()
        for arr, name in ((fake, LATEST_SAMPLE_NAME), (rec, LATEST_REC_NAME)):
            if arr is not None:
                save_png(self.folder / PROGRESS_DIR / name, progress_tile(arr))
        # compact: a 2000-iteration, 8-scale record at log_every=10 is ~100 KB this way, ~2x that indented
        atomic_write_text(self.folder / TRAINING_LOG_NAME, json.dumps(self.data, separators=(",", ":")))


def _round(x: float) -> float | None:
    x = float(x)
    return float(f"{x:.6g}") if math.isfinite(x) else None


__all__ = ["LATEST_REC_NAME", "LATEST_SAMPLE_NAME", "LOSS_KEYS", "PROGRESS_DIR", "TRAINING_LOG_NAME",
           "TrainingRecord", "estimate_eta", "progress_images", "progress_tile", "read_training_log", "scale_label"]
