"""``singanseg train``: train one model on an image/mask pair."""

from __future__ import annotations

import argparse
import sys

from ._common import add_train_options, model_name, train_config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one SinGAN-Seg model on an image + mask",
                       description="Train one 4-channel SinGAN on an image and its mask. The checkpoint is saved "
                                   "after every scale; --resume continues a killed run.")
    p.add_argument("--image", required=True, help="training image (any PIL-readable file, or RGBA PNG with mask as alpha)")
    p.add_argument("--mask", default=None, help="mask file (single channel or RGB, >127 = foreground)")
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--name", type=model_name, default=None, help="checkpoint id (default: the image file's stem)")
    p.add_argument("--resume", action="store_true", help="continue a partial checkpoint in --out")
    p.add_argument("--overwrite", action="store_true", help="retrain even if --out holds a finished checkpoint")
    p.add_argument("--estimate-only", action="store_true",
                   help="measure a few iterations on this machine, print how long the training would take, and stop")
    p.add_argument("--no-estimate", action="store_true",
                   help="start at once, without the short measurement behind the time estimate (and the ETA's "
                        "first scales)")
    add_train_options(p)
    p.set_defaults(func=run, kept_on_error=kept_on_error)


def kept_on_error(args: argparse.Namespace) -> str:
    """What a failed write left in ``--out``: the scales saved so far (each scale is saved all at once)."""
    from ...model.config import checkpoint_status

    status = checkpoint_status(args.out)
    if status.config is None:
        return "no checkpoint was written"
    cfg = status.config
    return (f"the checkpoint keeps its {cfg.num_scales} of {cfg.total_scales or cfg.num_scales} trained scales "
            "(run again with --resume to continue)")


def estimate_line(cfg, image_hw, device: str, num_scales: int):
    """Calibrate on this machine (``training.time_estimate``): ``(line saying how long the training will take,
    the measured rate)``."""
    import time

    from ...training.time_estimate import calibrate, describe_estimate, estimate_seconds

    t0 = time.perf_counter()
    rate = calibrate(cfg, image_hw, device)
    seconds = estimate_seconds(cfg, image_hw, rate)
    return (f"estimate: {describe_estimate(seconds)} on this machine for {num_scales} scales x {cfg.niter} "
            f"iterations (measured in {time.perf_counter() - t0:.0f} s; the live ETA follows the real pace)"), rate


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...files.pairs import load_pair
    from ...pyramid.schedule import compute_schedule
    from ...training.fit import train

    cfg = train_config_from_args(args)
    pair = load_pair(args.image, args.mask, name=args.name)
    for note in pair.notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        sched = compute_schedule(*pair.size, cfg.min_size, cfg.max_size, cfg.pyramid_scale_factor)
    except ValueError as err:
        from ...errors import InputError
        raise InputError(f"{args.image}: {err}") from None
    rate = None
    if args.estimate_only or not args.no_estimate:
        line, rate = estimate_line(cfg, pair.size, args.device, sched.num_scales)
        print(line, flush=True)  # information, on stdout: stderr stays one line when the training is refused
        if args.estimate_only:
            return 0
    total = sched.num_scales * cfg.niter
    bars: list = []  # made at the first event: a refusal (e.g. the folder is locked) prints one clean line

    def progress(ev):
        if not bars:
            bars.append(tqdm(total=total, unit="it", desc=f"{pair.name}", file=sys.stderr, dynamic_ncols=True))
        bar = bars[0]
        bar.n = ev.scale * cfg.niter + ev.iteration
        if ev.losses:
            bar.set_postfix(scale=f"{ev.scale + 1}/{ev.num_scales}", rec=f"{ev.losses[0]['rec']:.4f}")
        bar.refresh()

    try:
        model = train(pair, out_dir=args.out, config=cfg, progress=progress, resume=args.resume,
                      overwrite=args.overwrite, device=args.device, name=args.name, rate_prior=rate)
    finally:
        for bar in bars:
            bar.close()
    print(f"saved {model.name}: {model.num_scales} scales {model.scale_sizes[0]}..{model.scale_sizes[-1]} -> {args.out}")
    return 0
