"""``singanseg baseline``: training-free samples of one image + mask (the patch nearest-neighbour baseline)."""

from __future__ import annotations

import argparse

from ._common import device_name, model_name, sampling_setting, train_setting


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="generate image + mask samples without training (patch nearest neighbours)",
                       description="GPNN-style 4-channel patch nearest-neighbour generation from one image + mask "
                                   "(no checkpoint, nothing to train). Writes <name>_s0_<i>_img.png, "
                                   "<name>_s0_<i>_mask.png (0/255) and manifest.csv, like 'sample'.")
    p.add_argument("--image", required=True, help="RGB image (or RGBA whose alpha is the mask)")
    p.add_argument("--mask", default=None, help="mask (0/255); omit for an RGBA --image")
    p.add_argument("--out", required=True, help="output folder (new; written all at once when complete)")
    p.add_argument("--n", type=sampling_setting("n"), default=10, help="number of samples")
    p.add_argument("--seed", type=sampling_setting("seed"), default=0, help="random seed")
    p.add_argument("--max-size", type=train_setting("max_size"), default=250,
                   help="longest side of the samples, px (larger inputs are scaled down; SinGAN-Seg's paper: 250)")
    p.add_argument("--min-size", type=train_setting("min_size"), default=25,
                   help="shortest side of the coarsest scale, px")
    p.add_argument("--name", type=model_name, default=None,
                   help="name in the sample file names (default: the image's name)")
    p.add_argument("--device", type=device_name, default="cpu", help="cpu, cuda or cuda:N (the search)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only once the new set is complete)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...baselines import PatchNN, PatchNNConfig, write_baseline_set
    from ...device import resolve_device
    from ...errors import InputError
    from ...files.pairs import load_pair
    from ...model.config import model_name_from

    pair = load_pair(args.image, args.mask)
    if args.min_size > args.max_size:
        raise InputError(f"--min-size ({args.min_size}) must not exceed --max-size ({args.max_size})")
    cfg = PatchNNConfig(max_size=args.max_size, min_size=args.min_size)
    gen = PatchNN.from_pair(pair, cfg, device=resolve_device(args.device))
    name = args.name or model_name_from(pair.name)
    rows = write_baseline_set(gen, args.out, args.n, args.seed, name, source_path=str(args.image),
                              overwrite=args.overwrite)
    h, w = gen.size
    print(f"{name}: {len(rows)} patch-NN samples of {w}x{h} px, mean true-pixel {rows['true_pixel_pct'].mean():.2f} %, "
          f"{int((rows['true_pixel_pct'] == 0).sum())} empty -> {args.out}")
    return 0
