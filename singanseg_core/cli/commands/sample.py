"""``singanseg sample``: generate image/mask pairs from a checkpoint."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate image + mask samples from a checkpoint",
                       description="Writes <id>_s<K>_<i>_img.png, <id>_s<K>_<i>_mask.png (0/255) and manifest.csv.")
    p.add_argument("--checkpoint", required=True, action="append",
                   help="checkpoint folder (repeat for several)")
    p.add_argument("--n", type=int, default=10, help="samples per checkpoint")
    p.add_argument("--gen-start-scale", type=int, default=0,
                   help="0 = most varied; higher = closer to the training image (clamped to the model's scales)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--scale-h", type=float, default=1.0, help="width factor (only with --gen-start-scale 0)")
    p.add_argument("--scale-v", type=float, default=1.0, help="height factor (only with --gen-start-scale 0)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples generated per batch (default: 4 on CPU, 64 on GPU)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...model.singanseg import SinGANSeg
    from ...sampling.writer import write_samples
    from ...device import resolve_device

    device = resolve_device(args.device)
    for ck in args.checkpoint:
        model = SinGANSeg.from_pretrained(ck, device=device)
        k, msg = model.clamp_start_scale(args.gen_start_scale)
        if msg:
            print(f"note: {msg}", file=sys.stderr)
        bar = tqdm(total=args.n, unit="sample", desc=model.name, file=sys.stderr)

        def progress(done, total):
            bar.n = done
            bar.refresh()

        rows = write_samples(model, args.out, args.n, k, args.seed, args.batch_size, args.scale_h, args.scale_v,
                             progress=progress)
        bar.close()
        print(f"{model.name}: {len(rows)} samples at start scale {k}, mean true-pixel "
              f"{rows['true_pixel_pct'].mean():.2f} % -> {args.out}")
    return 0
