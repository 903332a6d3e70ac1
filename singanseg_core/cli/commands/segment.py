"""``singanseg segment train|predict|evaluate``: UNet++ polyp segmentation."""

from __future__ import annotations

import argparse
import sys

from ._common import SEED, device_name, int_in, ranged


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=["paper", "demo"], default="demo", help="starting settings (default demo)")
    p.add_argument("--encoder", dest="encoder_name", help="smp encoder name (paper: se_resnext50_32x4d)")
    p.add_argument("--encoder-weights", choices=["none", "imagenet", "auto"], help="encoder initialisation")
    p.add_argument("--image-size", type=ranged("image_size"), help="input size in pixels, multiple of 32 (paper: 128)")
    p.add_argument("--batch-size", type=ranged("seg_batch"))
    p.add_argument("--epochs", type=ranged("epochs"))
    p.add_argument("--lr", type=ranged("lr"), help="learning rate before the drop (paper: 1e-4)")
    p.add_argument("--lr-drop-epoch", type=int_in(0, 100_000), help="last epoch at --lr (paper: 50)")
    p.add_argument("--lr-after-drop", type=ranged("lr"), help="learning rate after the drop (paper: 1e-5)")
    p.add_argument("--no-augment", dest="augment", action="store_false", default=None)
    p.add_argument("--seed", type=int_in(*SEED))
    p.add_argument("--device", type=device_name, help="auto (default), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=ranged("threads"), help="torch CPU threads")


def config_from_args(args: argparse.Namespace):
    from ...segmentation import SegConfig

    keys = ["encoder_name", "image_size", "batch_size", "epochs", "lr", "lr_drop_epoch", "lr_after_drop",
            "augment", "seed", "device"]
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if getattr(args, "encoder_weights", None) is not None:
        overrides["encoder_weights"] = None if args.encoder_weights == "none" else args.encoder_weights
    return SegConfig.from_preset(args.preset, **overrides)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("segment", help="train / evaluate / apply a UNet++ polyp segmentation model")
    sub = p.add_subparsers(dest="segment_command", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="train UNet++ (best epoch by validation IoU is kept)")
    t.add_argument("--train", required=True, nargs="+", help="training folder(s): images/+masks/ or samples folders")
    t.add_argument("--val", required=True, nargs="+", help="validation folder(s)")
    t.add_argument("--out", required=True, help="model folder to write (model.safetensors, config.json, history.csv)")
    _add_config_args(t)
    t.set_defaults(func=train_handler)

    e = sub.add_parser("evaluate", help="paper metrics of a trained model on a dataset")
    e.add_argument("--model", required=True, help="model folder")
    e.add_argument("--data", required=True, nargs="+", help="folder(s) with images+masks")
    e.add_argument("--device", type=device_name, default="auto")
    e.set_defaults(func=evaluate_handler)

    r = sub.add_parser("predict", help="write predicted masks (0/255 PNG, original size)")
    r.add_argument("--model", required=True, help="model folder")
    r.add_argument("--input", required=True, help="image file or folder of images")
    r.add_argument("--out", required=True, help="output folder for <stem>_pred.png")
    r.add_argument("--device", type=device_name, default="auto")
    r.set_defaults(func=predict_handler)


def _pairs(folders):
    from ...segmentation import folder_pairs

    return [pair for folder in folders for pair in folder_pairs(folder)]


def _print_metrics(metrics: dict) -> None:
    print("  ".join(f"{k}={v:.4f}" for k, v in metrics.items()))


def train_handler(args: argparse.Namespace) -> int:
    from ...segmentation import train_segmentation

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    train, val = _pairs(args.train), _pairs(args.val)
    print(f"training UNet++ ({config.encoder_name}, {config.image_size} px) on {len(train)} pairs, "
          f"validating on {len(val)}", file=sys.stderr)

    def progress(ev):
        if ev.phase == "val":
            print(f"epoch {ev.epoch}/{ev.epochs}: train dice loss {ev.loss:.4f}  val IoU {ev.metrics['iou']:.4f}",
                  file=sys.stderr)

    result = train_segmentation(train, val, config, out_dir=args.out, progress=progress)
    print(f"best epoch {result.best_epoch} ({result.seconds:.0f} s), model in {args.out}")
    _print_metrics(result.metrics)
    return 0


def evaluate_handler(args: argparse.Namespace) -> int:
    from ...segmentation import SegmentationModel, evaluate

    model = SegmentationModel.load(args.model, device=args.device if args.device != "auto" else _auto())
    _print_metrics(evaluate(model, _pairs(args.data)))
    return 0


def predict_handler(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...errors import InputError
    from ...segmentation import SegmentationModel, predict_folder
    from ...files.images import IMAGE_SUFFIXES

    model = SegmentationModel.load(args.model, device=args.device if args.device != "auto" else _auto())
    src = Path(args.input)
    if src.is_dir():
        images = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif src.exists():
        images = [src]
    else:
        raise InputError(f"{src}: no such file or folder")
    if not images:
        raise InputError(f"{src}: no images found")
    written = predict_folder(model, images, args.out)
    print(f"wrote {len(written)} masks to {args.out}")
    return 0


def _auto() -> str:
    from ...device import resolve_device

    return str(resolve_device("auto"))
