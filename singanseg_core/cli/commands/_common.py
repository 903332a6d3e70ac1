"""Shared CLI options and helpers for the engine commands."""

from __future__ import annotations

import argparse

from ...training.config import PRESETS, TrainConfig


def add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default="paper",
                   help="named settings: paper (2000 it/scale, 250 px), quick (CPU demo), tiny (tests)")
    p.add_argument("--max-size", type=int, default=None, help="longest side of the finest scale, px")
    p.add_argument("--min-size", type=int, default=None, help="shortest side of the coarsest scale, px")
    p.add_argument("--iters", type=int, default=None, help="iterations per scale (paper: 2000)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--nc", type=int, choices=(3, 4), default=None, help="4 = image + mask (default), 3 = vanilla")
    p.add_argument("--fast-resize", action="store_true",
                   help="resize between scales in full float precision instead of the original's uint8 round trip "
                        "(changes the math slightly)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig.from_preset(
        args.preset, max_size=args.max_size, min_size=args.min_size, niter=args.iters, seed=args.seed,
        nc_im=args.nc, faithful_resize=False if args.fast_resize else None)
