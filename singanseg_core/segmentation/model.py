"""UNet++ (from segmentation_models_pytorch) for one-class polyp segmentation: config, training,
evaluation, prediction, and safe saving (safetensors + JSON, no pickles).

The network has one output channel (polyp logit). The paper's EndoCV setup names ``softmax2d``;
softmax over one channel would be constant 1, and a two-way softmax over (background, polyp)
logits equals a sigmoid of their difference, so a single channel with **sigmoid** is the same model.
"""

from __future__ import annotations

import math
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from ..device import resolve_device
from ..errors import Cancelled, CheckpointError, InputError
from ..persistence import CONFIG_NAME, WEIGHTS_NAME, read_config, read_weights, save_pretrained, tensor_bytes
from ..files.atomic import atomic_write_json, atomic_write_text
from .data import Pair, SegDataset, load_image, to_tensor
from .metrics import METRIC_NAMES, MetricAccumulator

KIND = "unetpp"
FORMAT_VERSION = 2     # 1: {"format": "singanseg-unetpp/1", "config", "info"}, no "kind"
WEIGHTS_FILE = WEIGHTS_NAME
CONFIG_FILE = CONFIG_NAME


@dataclass
class SegConfig:
    """Settings of one UNet++ training run.

    ``encoder_weights``: ``None`` (random init, offline), ``"imagenet"`` (downloaded by smp; fails offline)
    or ``"auto"`` (ImageNet when it can be loaded, random init otherwise; the choice made is stored).
    Learning rate ``lr`` for epochs ``1..lr_drop_epoch`` and ``lr_after_drop`` after (paper: 1e-4, 1e-5, 50).
    ``image_size`` in pixels, must be a multiple of 32 (UNet++ with a 5-stage encoder).

    Steps mode (off by default): ``steps`` = a fixed number of optimiser steps (batches) instead of ``epochs``,
    the training set reshuffled on every pass; validation after every ``eval_every`` steps and after the last
    one, the best of those kept. The learning rate is ``lr`` throughout (``lr_drop_epoch`` is not used). Useful
    for tiny training sets (5 images make one batch per epoch, so an epoch-based run would validate after every
    step).
    """

    encoder_name: str = "se_resnext50_32x4d"
    encoder_weights: str | None = None
    image_size: int = 128
    batch_size: int = 8
    epochs: int = 100
    lr: float = 1e-4
    lr_drop_epoch: int = 50
    lr_after_drop: float = 1e-5
    augment: bool = True
    threshold: float = 0.5
    seed: int = 0
    device: str = "auto"
    steps: int | None = None
    eval_every: int = 50

    PRESETS = {
        # The paper: se_resnext50_32x4d, ImageNet weights, 128 px, LR 1e-4 -> 1e-5 after epoch 50.
        "paper": dict(encoder_name="se_resnext50_32x4d", encoder_weights="auto", image_size=128, batch_size=8,
                      epochs=100, lr=1e-4, lr_drop_epoch=50, lr_after_drop=1e-5, augment=True),
        # A few CPU minutes: light encoder, 64 px, few epochs; a larger LR since there are few steps.
        "demo": dict(encoder_name="mobilenet_v2", encoder_weights=None, image_size=64, batch_size=8,
                     epochs=4, lr=1e-3, lr_drop_epoch=3, lr_after_drop=1e-4, augment=True),
    }

    def __post_init__(self) -> None:
        if self.image_size % 32 != 0 or self.image_size < 32:
            raise InputError(f"image_size must be a positive multiple of 32 pixels, got {self.image_size}")
        if self.encoder_weights not in (None, "imagenet", "auto"):
            raise InputError(f"encoder_weights must be None, 'imagenet' or 'auto', got {self.encoder_weights!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError("epochs and batch_size must be at least 1")
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int)
                                       or self.steps < 1):
            raise InputError(f"steps must be a whole number of at least 1 (or None), got {self.steps!r}")
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < 1:
            raise InputError(f"eval_every must be a whole number of at least 1, got {self.eval_every!r}")

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "SegConfig":
        if name not in cls.PRESETS:
            raise InputError(f"unknown segmentation preset {name!r} (choose from {', '.join(cls.PRESETS)})")
        return cls(**{**cls.PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SegConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 1-based ``epoch``."""
        return self.lr if epoch <= self.lr_drop_epoch else self.lr_after_drop


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_unetpp(encoder_name: str, encoder_weights: str | None) -> torch.nn.Module:
    """``smp.UnetPlusPlus`` with 3 input channels and 1 output logit (no activation)."""
    import segmentation_models_pytorch as smp

    try:
        return smp.UnetPlusPlus(encoder_name=encoder_name, encoder_weights=encoder_weights,
                                in_channels=3, classes=1, activation=None)
    except KeyError as err:
        raise InputError(f"unknown encoder {encoder_name!r} (see segmentation_models_pytorch encoders)") from err


# --------------------------------------------------------------------------------------------
# Model wrapper


class SegmentationModel:
    """A UNet++ with the config it was trained with. ``net(x)`` gives logits ``(B, 1, S, S)``."""

    def __init__(self, net: torch.nn.Module, config: SegConfig, info: dict[str, Any] | None = None) -> None:
        self.net = net
        self.config = config
        self.info = dict(info or {})  # resolved encoder weights, best epoch, metrics, ...

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @classmethod
    def create(cls, config: SegConfig) -> "SegmentationModel":
        """New network; ``encoder_weights="auto"`` falls back to random init when ImageNet weights fail."""
        weights = config.encoder_weights
        if weights == "auto":
            try:
                net = build_unetpp(config.encoder_name, "imagenet")
                weights = "imagenet"
            except InputError:
                raise
            except Exception as err:  # offline, no cache, ...: documented fallback
                warnings.warn(f"ImageNet weights for {config.encoder_name} unavailable ({err}); using random init")
                net = build_unetpp(config.encoder_name, None)
                weights = None
        else:
            net = build_unetpp(config.encoder_name, weights)
        return cls(net, config, {"encoder_weights_used": weights})

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` then ``config.json`` (the shared contract of :mod:`...persistence`)."""
        return save_pretrained(folder, KIND, FORMAT_VERSION, {"config": self.config.to_dict(), "info": _jsonable(self.info)},
                               self.net.state_dict())

    @classmethod
    def load(cls, folder: str | os.PathLike, device: str = "cpu") -> "SegmentationModel":
        """Load a folder written by :meth:`save` (also the first format, ``"format": "singanseg-unetpp/1"``)."""
        folder = Path(folder)
        if (folder / CONFIG_FILE).is_file() and not (folder / WEIGHTS_FILE).is_file():
            raise CheckpointError(f"{folder}: not a segmentation model (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
        try:
            meta = read_config(folder, KIND, {1, FORMAT_VERSION}, unlabelled_ok=True)
        except CheckpointError as err:
            raise CheckpointError(f"{err} (not a segmentation model?)") from None
        if meta.get("kind") is None and meta.get("format") != "singanseg-unetpp/1":
            raise CheckpointError(f"{folder / CONFIG_FILE}: not a segmentation model config")
        try:
            config = SegConfig.from_dict(meta["config"])
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{folder / CONFIG_FILE}: unreadable segmentation config ({err})") from None
        net = build_unetpp(config.encoder_name, None)
        budget = tensor_bytes([tuple(v.shape) for v in net.state_dict().values()], itemsize=8)
        try:
            net.load_state_dict(read_weights(folder, budget))
        except RuntimeError as err:
            raise CheckpointError(f"{folder / WEIGHTS_FILE}: weights do not match encoder {config.encoder_name} "
                                  f"({str(err).splitlines()[0][:160]})") from None
        net.to(resolve_device(device)).eval()
        return cls(net, config, meta.get("info", {}))

    @torch.no_grad()
    def predict_proba(self, image: np.ndarray | str | os.PathLike, original_size: bool = True) -> np.ndarray:
        """Polyp probability (float32, 0..1) of one RGB image (uint8 ``(H, W, 3)`` array or path).

        The image is resized to ``config.image_size``; the probability map is resized back to ``(H, W)``
        bilinearly when ``original_size`` is True, else returned at ``(S, S)``.
        """
        if isinstance(image, np.ndarray):
            from PIL import Image

            arr = image
            small = np.asarray(Image.fromarray(arr).convert("RGB").resize((self.config.image_size,) * 2, Image.BILINEAR))
        else:
            arr = load_image(Path(image))
            small = load_image(Path(image), self.config.image_size)
        self.net.eval()
        x = to_tensor(small)[None].to(self.device)
        prob = torch.sigmoid(self.net(x))
        if original_size:
            prob = torch.nn.functional.interpolate(prob, size=arr.shape[:2], mode="bilinear", align_corners=False)
        return prob[0, 0].cpu().numpy().astype(np.float32)

    def predict_mask(self, image: np.ndarray | str | os.PathLike) -> np.ndarray:
        """Binary uint8 mask (0/255) at the image's original size, threshold ``config.threshold``."""
        return np.where(self.predict_proba(image) >= self.config.threshold, 255, 0).astype(np.uint8)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------------------------
# Training and evaluation


@dataclass
class SegProgress:
    """Event given to progress callbacks. ``phase``: "train" (after each batch), "val" (after each
    validation, with ``metrics``) or "done". ``epoch`` is 1-based; ``loss`` is the batch dice loss."""

    phase: str
    epoch: int
    epochs: int
    batch: int = 0
    batches: int = 0
    loss: float | None = None
    metrics: dict[str, float] | None = None
    best_iou: float | None = None

    @property
    def fraction(self) -> float:
        """This run's progress in [0, 1]: finished epochs plus the share of batches of the current one."""
        if self.phase == "done":
            return 1.0
        part = self.batch / self.batches if self.batches else 1.0
        return min(1.0, (self.epoch - 1 + part) / max(self.epochs, 1))


ProgressFn = Callable[[SegProgress], Any]


@dataclass
class SegTrainResult:
    """Outcome of :func:`train_segmentation`. ``model`` holds the best weights (by validation IoU);
    ``metrics`` are that epoch's validation metrics; ``history`` has one row per epoch. In steps mode
    (``SegConfig.steps``) ``best_epoch`` is the step of the best validation and ``history`` has one row per
    validation."""

    model: SegmentationModel
    metrics: dict[str, float]
    best_epoch: int
    history: pd.DataFrame
    seconds: float
    out_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _emit(progress: ProgressFn | None, event: SegProgress) -> None:
    if progress is not None and progress(event) is False:
        raise Cancelled(f"segmentation training cancelled at epoch {event.epoch}")


@torch.no_grad()
def evaluate(model: SegmentationModel, pairs: Sequence[Pair] | SegDataset, batch_size: int = 16) -> dict[str, float]:
    """Micro-averaged paper metrics (see :mod:`.metrics`) of ``model`` on ``pairs``, computed at the
    model's input size (images resized bilinearly, masks with nearest neighbour)."""
    ds = pairs if isinstance(pairs, SegDataset) else SegDataset(pairs, model.config.image_size, augment=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    acc = MetricAccumulator(model.config.threshold)
    model.net.eval()
    for x, y in loader:
        prob = torch.sigmoid(model.net(x.to(model.device)))
        acc.update(prob.cpu(), y)
    return acc.compute()


def train_segmentation(
    train_pairs: Sequence[Pair],
    val_pairs: Sequence[Pair],
    config: SegConfig | None = None,
    out_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
) -> SegTrainResult:
    """Train UNet++ on ``train_pairs`` with the single-channel dice loss; validate after every epoch
    on ``val_pairs`` and keep the weights of the epoch with the best validation IoU.

    ``progress`` receives :class:`SegProgress` events; returning ``False`` cancels (raises ``Cancelled``).
    When ``out_dir`` is given, the best model (``model.safetensors`` + ``config.json``), ``history.csv``
    and ``metrics.json`` are written there at the end.
    """
    import segmentation_models_pytorch as smp

    config = config or SegConfig()
    device = resolve_device(config.device)
    seed_everything(config.seed)
    t0 = time.perf_counter()
    train_ds = SegDataset(train_pairs, config.image_size, augment=config.augment, seed=config.seed)
    val_ds = SegDataset(val_pairs, config.image_size, augment=False)
    model = SegmentationModel.create(config)
    model.net.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    # A last batch of one image breaks BatchNorm at the 1x1 bottleneck of small inputs: drop it then.
    drop_last = len(train_ds) % config.batch_size == 1 and len(train_ds) > config.batch_size
    loader = torch.utils.data.DataLoader(train_ds, batch_size=config.batch_size, shuffle=True,
                                         generator=generator, drop_last=drop_last)
    loss_fn = smp.losses.DiceLoss(mode="binary", from_logits=True)
    optimizer = torch.optim.Adam(model.net.parameters(), lr=config.lr_at(1))
    if config.steps is not None:
        return _train_steps(model, loader, val_ds, loss_fn, optimizer, config, device, t0, out_dir, progress)

    best_iou, best_epoch, best_state, best_metrics = -1.0, 0, None, {}
    rows = []
    for epoch in range(1, config.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = config.lr_at(epoch)
        model.net.train()
        losses, sizes = [], []
        for b, (x, y) in enumerate(loader, start=1):
            losses.append(_train_step(model, x, y, loss_fn, optimizer, device))
            sizes.append(x.shape[0])
            _emit(progress, SegProgress("train", epoch, config.epochs, b, len(loader), losses[-1], best_iou=max(best_iou, 0.0)))
        metrics = evaluate(model, val_ds, batch_size=max(config.batch_size, 16))
        if metrics["iou"] > best_iou:
            best_iou, best_epoch, best_metrics = metrics["iou"], epoch, metrics
            best_state = {k: v.detach().clone() for k, v in model.net.state_dict().items()}
        rows.append({"epoch": epoch, "lr": config.lr_at(epoch),
                     "train_dice_loss": float(np.average(losses, weights=sizes)) if losses else float("nan"),
                     **{f"val_{k}": v for k, v in metrics.items()}, "seconds": time.perf_counter() - t0})
        _emit(progress, SegProgress("val", epoch, config.epochs, len(loader), len(loader),
                                    rows[-1]["train_dice_loss"], metrics, best_iou))

    result = _finish(model, best_state, best_metrics, "best_epoch", best_epoch, rows, len(train_ds), len(val_ds),
                     t0, out_dir)
    _emit(progress, SegProgress("done", best_epoch, config.epochs, metrics=best_metrics, best_iou=best_iou))
    return result


def _train_step(model: SegmentationModel, x: torch.Tensor, y: torch.Tensor, loss_fn, optimizer,
                device: torch.device) -> float:
    """One optimiser step on the batch ``(x, y)``; returns its loss."""
    x, y = x.to(device), y.to(device)
    # A lone sample cannot be batch-normalised at a 1x1 bottleneck (a 1-image training set): use the running
    # statistics for it.
    model.net.train(x.shape[0] > 1)
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model.net(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _finish(model: SegmentationModel, best_state: dict | None, best_metrics: dict, best_key: str, best_at: int,
            rows: list[dict], n_train: int, n_val: int, t0: float,
            out_dir: str | os.PathLike | None) -> SegTrainResult:
    """Load the best validation state, record it in ``model.info`` and, with ``out_dir``, save the model,
    ``history.csv`` and ``metrics.json``. ``best_key``: ``"best_epoch"`` or ``"best_step"``."""
    assert best_state is not None
    model.net.load_state_dict(best_state)
    model.net.eval()
    seconds = time.perf_counter() - t0
    model.info.update({best_key: best_at, "val_metrics": best_metrics, "n_train": n_train, "n_val": n_val,
                       "train_seconds": seconds})
    history = pd.DataFrame(rows)
    result = SegTrainResult(model, best_metrics, best_at, history, seconds)
    if out_dir is not None:
        out = Path(out_dir)
        model.save(out)
        atomic_write_text(out / "history.csv", history.to_csv(index=False))
        atomic_write_json(out / "metrics.json", _jsonable({best_key: best_at, **best_metrics}))
        result.out_dir = out
    return result


def _train_steps(model: SegmentationModel, loader, val_ds: SegDataset, loss_fn, optimizer, config: SegConfig,
                 device: torch.device, t0: float, out_dir: str | os.PathLike | None,
                 progress: ProgressFn | None) -> SegTrainResult:
    """Steps mode of :func:`train_segmentation` (``config.steps`` set): ``steps`` batches, passes over the
    shuffled training set one after another, validation every ``eval_every`` steps and after the last step.
    ``SegProgress.epoch`` / ``epochs`` count validations here; ``best_epoch`` is the step of the best one."""
    steps, every = int(config.steps), int(config.eval_every)
    n_evals = math.ceil(steps / every)
    best_iou, best_step, best_state, best_metrics = -1.0, 0, None, {}
    rows, losses, sizes = [], [], []
    step, batches = 0, iter(loader)
    model.net.train()
    while step < steps:
        try:
            x, y = next(batches)
        except StopIteration:  # a new pass, reshuffled by the loader's seeded generator
            batches = iter(loader)
            continue
        step += 1
        losses.append(_train_step(model, x, y, loss_fn, optimizer, device))
        sizes.append(x.shape[0])
        k = math.ceil(step / every)
        _emit(progress, SegProgress("train", k, n_evals, step - (k - 1) * every, min(every, steps - (k - 1) * every),
                                    losses[-1], best_iou=max(best_iou, 0.0)))
        if step % every == 0 or step == steps:
            metrics = evaluate(model, val_ds, batch_size=max(config.batch_size, 16))
            model.net.train()
            if metrics["iou"] > best_iou:
                best_iou, best_step, best_metrics = metrics["iou"], step, metrics
                best_state = {name: v.detach().clone() for name, v in model.net.state_dict().items()}
            rows.append({"step": step, "lr": config.lr,
                         "train_dice_loss": float(np.average(losses, weights=sizes)),
                         **{f"val_{name}": v for name, v in metrics.items()}, "seconds": time.perf_counter() - t0})
            losses, sizes = [], []
            _emit(progress, SegProgress("val", k, n_evals, every, every, rows[-1]["train_dice_loss"], metrics,
                                        best_iou))
    result = _finish(model, best_state, best_metrics, "best_step", best_step, rows, len(loader.dataset), len(val_ds),
                     t0, out_dir)
    result.extra = {"best_step": best_step}
    _emit(progress, SegProgress("done", n_evals, n_evals, metrics=best_metrics, best_iou=best_iou))
    return result


def predict_folder(model: SegmentationModel, images: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                   progress: Callable[[int, int], Any] | None = None) -> list[Path]:
    """Write ``<stem>_pred.png`` (0/255, original size) for every image into ``out_dir``.
    ``progress(done, total)`` returning ``False`` cancels."""
    from ..files.atomic import save_png

    out, written = Path(out_dir), []
    for i, img in enumerate(images, start=1):
        img = Path(img)
        written.append(save_png(out / f"{img.stem}_pred.png", model.predict_mask(img)))
        if progress is not None and progress(i, len(images)) is False:
            raise Cancelled(f"prediction cancelled after {i} of {len(images)} images")
    return written


__all__ = ["SegConfig", "SegmentationModel", "SegProgress", "SegTrainResult", "train_segmentation", "evaluate",
           "predict_folder", "resolve_device", "METRIC_NAMES"]
