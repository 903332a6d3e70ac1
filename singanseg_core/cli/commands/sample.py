"""``singanseg sample``: generate image/mask pairs from a checkpoint."""

from __future__ import annotations

import argparse
import sys

from ._common import add_precision_option, device_name, sampling_setting
from ._guide import add_guide_options, check_guide_args, run_guided


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate image + mask samples from a checkpoint",
                       description="Writes <id>_s<K>_<i>_img.png, <id>_s<K>_<i>_mask.png (0/255) and manifest.csv.")
    p.add_argument("--checkpoint", required=True, action="append",
                   help="checkpoint folder (repeat for several)")
    p.add_argument("--n", type=sampling_setting("n"), default=10, help="samples per checkpoint")
    p.add_argument("--gen-start-scale", type=sampling_setting("gen_start_scale"), default=0,
                   help="0 = most varied; higher = closer to the training image (clamped to the model's scales)")
    p.add_argument("--seed", type=sampling_setting("seed"), default=0, help="random seed")
    p.add_argument("--scale-h", type=sampling_setting("scale_h"), default=1.0,
                   help="width factor (only with --gen-start-scale 0)")
    p.add_argument("--scale-v", type=sampling_setting("scale_v"), default=1.0, help="height factor (only with --gen-start-scale 0)")
    p.add_argument("--batch-size", type=sampling_setting("batch_size"), default=None,
                   help="samples generated per batch (default: 4 on CPU, 64 on GPU)")
    p.add_argument("--redraw-empty", type=sampling_setting("redraw_empty"), default=0, metavar="N",
                   help="redraw a sample whose mask came out empty, up to N times, from fresh seeded noise (default "
                        "0 = off, as the paper; changes the set: it keeps the draws that have an object; "
                        "manifest.csv records each sample's redraws)")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda")
    add_precision_option(p, "the generators (changes the output slightly)")
    p.add_argument("--compile", action="store_true",
                   help="compiled sampler: BatchNorm folded into the convs, torch.compile (equal to float rounding; "
                        "compiles on first use)")
    p.add_argument("--out", required=True, help="output folder (new; written all at once when complete)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only once the new set is complete)")
    add_guide_options(p)
    p.set_defaults(func=run, kept_on_error=lambda args: "nothing was written (the set is written all at once; "
                                                        "an existing --out is left as it was)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...device import autocast_dtype, resolve_device
    from ...model.singanseg import SinGANSeg
    from ...sampling.writer import REDRAWS_COLUMN, write_sample_set

    guided = check_guide_args(args)
    device = resolve_device(args.device)
    autocast_dtype(device, args.precision or "fp32")  # one line, before any checkpoint is read
    models = [SinGANSeg.from_pretrained(ck, device=device) for ck in args.checkpoint]
    for model in models:
        k, msg = model.clamp_start_scale(args.gen_start_scale)
        if msg:
            print(f"note: {msg}", file=sys.stderr)
    if guided:
        return run_guided(args, models)
    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int) -> None:
        bar = bars.get(name) or bars.setdefault(name, tqdm(total=total, unit="sample", desc=name, file=sys.stderr))
        bar.n = done
        bar.refresh()

    try:
        rows = write_sample_set(models, args.out, args.n, args.gen_start_scale, args.seed, args.batch_size,
                                args.scale_h, args.scale_v, progress=progress, overwrite=args.overwrite,
                                precision=args.precision or "fp32", compile=args.compile,
                                redraw_empty=args.redraw_empty)
    finally:
        for bar in bars.values():
            bar.close()
    for name, part in rows.groupby("checkpoint", sort=False):
        empty = int((part["true_pixel_pct"] == 0).sum())
        redrawn = f", {int((part[REDRAWS_COLUMN] > 0).sum())} redrawn" if REDRAWS_COLUMN in part else ""
        print(f"{name}: {len(part)} samples at start scale {int(part['gen_start_scale'].iloc[0])}, mean true-pixel "
              f"{part['true_pixel_pct'].mean():.2f} %, {empty} empty mask(s){redrawn} -> {args.out}")
    return 0
