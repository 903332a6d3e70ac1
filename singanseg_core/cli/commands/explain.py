"""``singanseg explain``: the teaching figures of a checkpoint, its training record and an undertraining check.

* default: how one sample is built, scale by scale (``analysis.teaching.trace_figure``) → PNG;
* ``--start-scales``: the same seed from every start scale (``start_scale_figure``) → PNG;
* ``--training-log``: the losses per scale kept with the checkpoint (``figures.training_log_figure``) → HTML;
* ``--quality``: sample ``--n`` images and say whether the model looks undertrained (``analysis.quality``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import SEED, device_name, float_in, int_in


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="teaching figures: a sample scale by scale, every start scale, the training "
                                       "record, an undertraining check")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--start-scales", action="store_true",
                      help="one row per start scale 0..N for the same seed (instead of the scale-by-scale figure)")
    mode.add_argument("--training-log", action="store_true",
                      help="write the losses per scale of the checkpoint's training record as HTML")
    mode.add_argument("--quality", action="store_true",
                      help="sample --n images and report empty / full / identical masks (no file written)")
    p.add_argument("--seed", type=int_in(*SEED), default=0, help="random seed (default 0)")
    p.add_argument("--start-scale", type=int_in(0, 64), default=0,
                   help="first scale drawing fresh noise for the scale-by-scale figure (default 0)")
    p.add_argument("--n", type=int_in(1, 256), default=None,
                   help="samples per row with --start-scales (default 4), samples checked with --quality (16)")
    p.add_argument("--threshold", type=float_in(0.0, 1.0), default=0.5, help="mask threshold shown in the final row (0..1)")
    p.add_argument("--tile", type=int_in(32, 512), default=128, help="tile size in the figure, px (32..512)")
    p.add_argument("--no-captions", action="store_true", help="leave the explanatory sentences out")
    p.add_argument("--out", default=None, help="output file: .png for the figures, .html for --training-log")
    p.add_argument("--device", type=device_name, default="cpu", help="cpu (default), auto or cuda")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from ...errors import InputError

    if not args.quality:
        suffix = ".html" if args.training_log else ".png"
        if not args.out or Path(args.out).suffix.lower() != suffix:
            raise InputError(f"--out must name a {suffix} file, got {args.out!r}")
    if args.n is not None and not args.quality and args.n > 16:
        raise InputError(f"--n must be in 1..16 without --quality, got {args.n}")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ...device import resolve_device
    from ...errors import InputError
    from ...files.atomic import save_png
    from ...model.singanseg import SinGANSeg

    _check(args)
    model = SinGANSeg.from_pretrained(args.checkpoint, device=resolve_device(args.device))
    if args.quality:
        from ...analysis.quality import assess_samples

        report = assess_samples(model.sample(args.n or 16, 0, seed=args.seed))
        print(f"{model.name}: {report.message}")
        return 0
    if args.training_log:
        from ...analysis.figures import training_log_figure, write_html

        log = model.training_log()
        if log is None:
            raise InputError(f"{args.checkpoint}: has no training record (training_log.json); it was imported "
                             "or trained before records were kept")
        write_html(training_log_figure(log), args.out)
        print(f"{model.name}: {len(log['scales'])} of {log['num_scales']} scales recorded ({log['state']}) "
              f"-> {args.out}")
        return 0
    from ...analysis import teaching

    if args.start_scales:
        grid = model.start_scale_grid(seed=args.seed, n=args.n or 4)
        fig = teaching.start_scale_figure(grid, tile=args.tile, real=np.asarray(model.real_image()),
                                          real_mask=np.asarray(model.real_mask()), captions=not args.no_captions,
                                          name=model.name)
        pcts = ", ".join(f"{k}: {s.true_pixel_pct.mean():.1f} %" for k, s in enumerate(grid))
        summary = f"start scales 0..{model.num_scales}, seed {args.seed}; mean true-pixel % per row: {pcts}"
    else:
        k, msg = model.clamp_start_scale(args.start_scale)
        if msg:
            raise InputError(f"--start-scale must be in 0..{model.num_scales} for {model.name}, got {args.start_scale}")
        trace = model.trace(seed=args.seed, gen_start_scale=k)
        fig = teaching.trace_figure(trace, tile=args.tile, threshold=args.threshold, captions=not args.no_captions,
                                    name=model.name)
        summary = (f"{model.num_scales} scales, seed {args.seed}, start scale {k}; "
                   f"true pixels at {args.threshold:g}: {trace.mask_at(args.threshold)[1]:.1f} %")
    save_png(args.out, np.asarray(fig))
    print(f"{model.name}: {summary} -> {args.out}")
    return 0
