"""``singanseg study small-data|real-vs-synthetic|show|list``: the paper's two segmentation studies."""

from __future__ import annotations

import argparse
import sys

from ._common import SEED, device_name, int_in, ranged, train_setting


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="real dataset folder with images/ and masks/")
    p.add_argument("--out", required=True, help="study folder (rerun with the same folder to resume)")
    p.add_argument("--preset", choices=["demo", "paper"], default="demo",
                   help="demo: minutes on a CPU; paper: the paper's protocol (GPU, days)")
    p.add_argument("--variants", nargs="+", help="synthetic variants: raw and/or st-C:S (e.g. st-1:1000)")
    p.add_argument("--synthetic-source", choices=["singan", "patchnn"], default=None,
                   help="where synthetic pairs come from: singan (a SinGAN-Seg model per image, default) or patchnn "
                        "(the training-free patch nearest-neighbour baseline)")
    p.add_argument("--checkpoints", help="folder with finished SinGAN-Seg checkpoints <DIR>/<stem> to reuse")
    p.add_argument("--max-images", type=ranged("count"), help="use only this many real images (seeded choice)")
    p.add_argument("--fold-seed", type=int_in(*SEED), help="seed of the 3-fold split (default 0)")
    p.add_argument("--sample-seed", type=int_in(*SEED), help="seed of the synthetic samples (default 0)")
    p.add_argument("--singan-max-size", type=train_setting("max_size"), help="SinGAN-Seg max_size in pixels (overrides the preset)")
    p.add_argument("--singan-niter", type=train_setting("niter"), help="SinGAN-Seg iterations per scale (overrides the preset)")
    p.add_argument("--st-steps", type=ranged("steps"), help="style-transfer optimisation steps (default 1000)")
    p.add_argument("--st-random-features", action="store_true",
                   help="style transfer with random VGG features when pretrained weights are missing (testing only)")
    p.add_argument("--encoder", help="UNet++ encoder (paper: se_resnext50_32x4d)")
    p.add_argument("--encoder-weights", choices=["none", "imagenet", "auto"])
    p.add_argument("--image-size", type=ranged("image_size"), help="UNet++ input size in pixels (paper: 128)")
    p.add_argument("--epochs", type=ranged("epochs"))
    p.add_argument("--batch-size", type=ranged("seg_batch"))
    p.add_argument("--lr-drop-epoch", type=int_in(0, 100_000))
    p.add_argument("--keep-models", action="store_true", help="keep every run's UNet++ weights")
    p.add_argument("--device", type=device_name, default="auto")
    p.add_argument("--threads", type=ranged("threads"), help="torch CPU threads (1 is often fastest on a busy small CPU)")
    p.add_argument("--overwrite", action="store_true", help="delete the study folder first")
    p.add_argument("--quiet", action="store_true")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("study", help="small-data (Table 2) and real-vs-synthetic (Table 1) studies")
    sub = p.add_subparsers(dest="study_command", metavar="STUDY", required=True)

    s = sub.add_parser("small-data", help="R real images vs k*R synthetic samples (Table 2)")
    _common(s)
    s.add_argument("--r-values", type=ranged("count"), nargs="+", help="numbers of real images R (paper: 5 10 15 20 25 30 50)")
    s.add_argument("--samples-per-image", type=ranged("per_image"), help="k synthetic samples per real image (paper: 10)")
    s.add_argument("--no-mixed", action="store_true", help="skip the real + synthetic runs")
    s.set_defaults(func=run_handler, kind="small-data")

    r = sub.add_parser("real-vs-synthetic", help="3-fold REAL vs FAKE-N (Table 1)")
    _common(r)
    r.add_argument("--n-values", type=ranged("per_image"), nargs="+", help="samples per real image N (paper: 1 2 3 4 5)")
    r.add_argument("--folds", type=ranged("fold"), nargs="+", help="validation folds to run (1-based; default all)")
    r.set_defaults(func=run_handler, kind="real-vs-synthetic")

    show = sub.add_parser("show", help="print the results table of a study folder")
    show.add_argument("dir")
    show.set_defaults(func=show_handler)

    ls = sub.add_parser("list", help="list the studies in a workspace folder")
    ls.add_argument("workspace")
    ls.set_defaults(func=list_handler)


def config_from_args(args: argparse.Namespace):
    from ...studies import StudyConfig

    over: dict = {}
    for arg, key in [("variants", "variants"), ("checkpoints", "checkpoints_dir"), ("max_images", "max_images"),
                     ("fold_seed", "fold_seed"), ("sample_seed", "sample_seed"), ("st_steps", "st_steps"),
                     ("r_values", "r_values"), ("samples_per_image", "samples_per_image"),
                     ("n_values", "n_values"), ("folds", "folds"), ("synthetic_source", "synthetic_source")]:
        if getattr(args, arg, None) is not None:
            over[key] = getattr(args, arg)
    if args.st_random_features:
        over["st_random_features"] = True
    if args.keep_models:
        over["keep_models"] = True
    if getattr(args, "no_mixed", False):
        over["include_mixed"] = False
    over["device"] = args.device
    seg = {k: v for k, v in [("encoder_name", args.encoder), ("image_size", args.image_size), ("epochs", args.epochs),
                             ("batch_size", args.batch_size), ("lr_drop_epoch", args.lr_drop_epoch)] if v is not None}
    if args.encoder_weights is not None:
        seg["encoder_weights"] = None if args.encoder_weights == "none" else args.encoder_weights
    cfg = StudyConfig.from_preset(args.kind, args.preset, args.data, seg_overrides=seg, **over)
    singan = {k: v for k, v in [("max_size", args.singan_max_size), ("niter", args.singan_niter)] if v is not None}
    if singan:
        cfg.singan_overrides = {**cfg.singan_overrides, **singan}
    return cfg


def _printer(quiet: bool):
    last = {"msg": None}

    def progress(ev):
        if quiet or ev.stage in ("model", "train") and ev.detail is not None:
            return None  # per-iteration / per-batch events: too chatty for a terminal
        if ev.message != last["msg"]:
            print(f"[{ev.done}/{ev.total}] {ev.message}", file=sys.stderr, flush=True)
            last["msg"] = ev.message
        return None

    return progress


def _print_result(res) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30):
        if res.summary.empty:
            print("no finished runs yet")
        else:
            print(res.summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if res.pending:
        print(f"{len(res.pending)} run(s) pending: {', '.join(res.pending[:6])}{' ...' if len(res.pending) > 6 else ''}")


def run_handler(args: argparse.Namespace) -> int:
    from ...studies import run_study

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    res = run_study(config, args.out, progress=_printer(args.quiet), overwrite=args.overwrite)
    _print_result(res)
    print(f"results: {res.dir / 'results.csv'}  figure: {res.dir / 'figure.html'}")
    return 0


def show_handler(args: argparse.Namespace) -> int:
    from ...studies import load_study

    _print_result(load_study(args.dir))
    return 0


def list_handler(args: argparse.Namespace) -> int:
    from ...studies import list_studies

    df = list_studies(args.workspace)
    print(df.to_string(index=False) if not df.empty else f"no studies in {args.workspace}")
    return 0
