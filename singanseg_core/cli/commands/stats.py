"""``singanseg stats``: true-pixel percentage statistics of real and synthetic masks."""

from __future__ import annotations

import argparse

from ...analysis.stats import MIN_BIN_WIDTH
from ._common import float_in


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "stats",
        help="mask statistics (true-pixel %% histograms, real vs synthetic distance, per-checkpoint mean/std)",
        description="Writes masks.csv, histograms.csv, summary.csv, distance.json, histogram.html and, for "
        "samples folders, variability.csv + variability/<checkpoint>_{mean,std}.png into --out.",
    )
    p.add_argument("--real", help="real dataset (images/ + masks/) or a folder of masks")
    p.add_argument("--synthetic", help="samples folder(s) with *_mask.png (searched recursively)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--bin-width", type=float_in(MIN_BIN_WIDTH, 100.0), default=5.0,
                   help="histogram bin width in percent (default 5)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from ...errors import InputError
    from ...analysis.report import write_mask_stats
    from ...analysis.stats import compute_mask_stats

    if not args.real and not args.synthetic:
        raise InputError("give --real and/or --synthetic")
    stats = compute_mask_stats(args.real, args.synthetic, bin_width=args.bin_width)
    written = write_mask_stats(stats, args.out)
    print(stats.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if stats.distance:
        d = stats.distance
        print(f"Wasserstein-1 = {d['wasserstein']:.3f} pp   KS = {d['ks_statistic']:.3f} (p = {d['ks_pvalue']:.3g})")
    print(f"wrote {len(written)} files to {args.out}")
    return 0
