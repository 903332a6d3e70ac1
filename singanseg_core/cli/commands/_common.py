"""Shared CLI options and helpers for the engine commands, and the one place where a command-line value is
checked (the ``type=`` validators below, on ``ranges.range_problem``): every number has an allowed range, every
bad value gives one line naming the option and the range (``cli.main`` prints it and exits with 1).

The ranges come from the core's public tables where the core has them (``training.config.TRAIN_RANGES``,
``sampling.writer.SAMPLING_RANGES``, ``style.config.STYLE_RANGES``, ``ranges.SEED_RANGE``,
``analysis.stats.MIN_BIN_WIDTH``, ``style.config.MIN_SIDE``, the model-name rule of ``model.config``,
``device.resolve_device``); :data:`LIMITS` holds the CLI-only ones.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ...device import PRECISIONS
from ...ranges import SEED_RANGE, Range, is_integer_range, range_problem
from ...style.config import STYLE_RANGES
from ...training.config import PRESETS, SCHEDULES, TRAIN_RANGES, TrainConfig, describe_preset

SEED = SEED_RANGE
LIMITS: dict[str, Range] = {
    "steps": STYLE_RANGES["steps"], "lr": (1e-8, 10.0), "style_size": STYLE_RANGES["size"], "style_batch": (1, 256),
    "image_size": (32, 2048), "seg_batch": (1, 4096), "epochs": (1, 100_000), "threads": (1, 1024),
    "count": (1, 1_000_000), "per_image": (1, 10_000), "fold": (1, 100), "timeout": (0.1, 3600.0),
    "retries": (0, 100), "grace": (0.0, 3600.0), "demo_iters": (1, 100_000),
}


def _number_in(lo: float, hi: float, convert: Callable[[str], Any], kind: str) -> Callable[[str], Any]:
    """``type=`` for a number option in ``lo..hi`` read by ``convert`` (argparse names the option in its error)."""
    def parse(text: str) -> Any:
        try:
            value = convert(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(range_problem(str(text), lo, hi)) from None
        problem = range_problem(value, lo, hi)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.bounds = (lo, hi)  # type: ignore[attr-defined]  # tests walk the parser through this
    parse.__name__ = kind
    return parse


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """``type=`` for an integer option in ``lo..hi``."""
    return _number_in(lo, hi, int, "integer")


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    """``type=`` for a finite number option in ``lo..hi``."""
    return _number_in(lo, hi, float, "number")


def in_range(lo: float, hi: float) -> Callable[[str], float]:
    """The ``type=`` validator of ``lo..hi``: :func:`int_in` for an integer range, else :func:`float_in`."""
    return int_in(int(lo), int(hi)) if is_integer_range(lo, hi) else float_in(lo, hi)


def ranged(kind: str) -> Callable[[str], float]:
    """The validator for :data:`LIMITS` ``[kind]``."""
    return in_range(*LIMITS[kind])


def train_setting(name: str) -> Callable[[str], float]:
    """The validator of a ``TrainConfig`` setting, with its range from ``training.config.TRAIN_RANGES``."""
    return in_range(*TRAIN_RANGES[name])


def sampling_setting(name: str) -> Callable[[str], float]:
    """The validator of a sampling setting, with its range from ``sampling.writer.SAMPLING_RANGES``."""
    from ...sampling.writer import SAMPLING_RANGES  # the writer pulls in the model; only sampling commands need it

    return in_range(*SAMPLING_RANGES[name])


def device_name(text: str) -> str:
    """``type=`` for ``--device``: the device rule (``device.resolve_device``); the text is kept as given."""
    from ...device import resolve_device
    from ...errors import InputError

    try:
        resolve_device(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def model_name(text: str) -> str:
    """``type=`` for a checkpoint name: the model-name rule (``model.config.name_problem``)."""
    from ...model.config import name_problem

    problem = name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default="paper",
                   help="named settings: " + "; ".join(describe_preset(n) for n in sorted(PRESETS))
                   + " (`singanseg train ... --estimate-only` measures how long one takes on this machine)")
    p.add_argument("--max-size", type=train_setting("max_size"), default=None,
                   help="longest side of the finest scale, px")
    p.add_argument("--min-size", type=train_setting("min_size"), default=None,
                   help="shortest side of the coarsest scale, px")
    p.add_argument("--iters", type=train_setting("niter"), default=None, help="iterations per scale (paper: 2000)")
    p.add_argument("--seed", type=train_setting("seed"), default=None, help="random seed (default 0)")
    p.add_argument("--lr-drop-epoch", type=train_setting("lr_drop_epoch"), default=None,
                   help="iteration at which both learning rates drop x0.1 (default 1600, the original's: runs of "
                        "<= 1600 iterations never drop)")
    p.add_argument("--lr-drop-at", type=train_setting("lr_drop_at"), default=None,
                   help="drop the learning rates at this fraction of the iterations instead (e.g. 0.8; not the "
                        "paper's rule)")
    p.add_argument("--nc", type=int, choices=(3, 4), default=None, help="4 = image + mask (default), 3 = vanilla")
    p.add_argument("--fast-resize", action="store_true",
                   help="resize between scales in full float precision instead of the original's uint8 round trip "
                        "(changes the math slightly)")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda or cuda:N")
    g = p.add_argument_group("faster paths (each off by default; they change the math, see bench/RESULTS.md)")
    add_precision_option(g, "the networks' convolutions during training; the gradient penalty stays fp32")
    g.add_argument("--compile", action="store_true", help="torch.compile the networks of each scale "
                   "(compiles once per scale: pays off for long runs, mostly on a GPU)")
    g.add_argument("--schedule", choices=SCHEDULES, default=None,
                   help="sequential (the paper, default) or concurrent (ConSinGAN-style: about half as many "
                        "scales, the newest stages trained together; faster, not the paper)")
    g.add_argument("--concurrent-depth", type=train_setting("concurrent_depth"), default=None,
                   help="concurrent schedule: stages trained together (default 3)")
    g.add_argument("--concurrent-lr-scale", type=train_setting("concurrent_lr_scale"), default=None,
                   help="concurrent schedule: learning-rate factor per stage below the newest (default 0.1)")
    g.add_argument("--gp-every", type=train_setting("gp_every"), default=None,
                   help="lazy regularisation: the gradient penalty on every k-th critic step only, scaled by k "
                        "(default 1: every step; the penalty is ~40 %% of an iteration)")
    g.add_argument("--d-steps", type=train_setting("d_steps"), default=None,
                   help="critic steps per iteration (paper: 3)")
    g.add_argument("--lr-d", type=train_setting("lr_d"), default=None,
                   help="the critic's learning rate (paper: 5e-4; with fewer critic steps a larger one "
                        "than --lr-g, two time scales)")
    g.add_argument("--lr-g", type=train_setting("lr_g"), default=None, help="the generator's learning rate "
                   "(paper: 5e-4)")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="warm start: a checkpoint of another image (same channels, kernel, layers and widths) "
                        "whose scale i starts this model's scale i; the checkpoint records it and its hash")


def add_precision_option(p: "argparse.ArgumentParser | argparse._ArgumentGroup", what: str) -> None:
    """``--precision`` (fp32 default; bf16 / fp16 where the device runs them natively, else a one-line error
    from ``device.autocast_dtype`` when the command runs)."""
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help=f"fp32 (default, exact), bf16 (CUDA or a CPU with AVX512-BF16/AMX) or fp16 (CUDA): "
                        f"autocast for {what}")


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig.from_preset(
        args.preset, max_size=args.max_size, min_size=args.min_size, niter=args.iters, seed=args.seed,
        lr_drop_epoch=args.lr_drop_epoch, lr_drop_at=args.lr_drop_at,
        nc_im=args.nc, faithful_resize=False if args.fast_resize else None, precision=args.precision,
        compile=True if args.compile else None, schedule=args.schedule, concurrent_depth=args.concurrent_depth,
        concurrent_lr_scale=args.concurrent_lr_scale, gp_every=args.gp_every, d_steps=args.d_steps,
        lr_d=args.lr_d, lr_g=args.lr_g, init_from=args.init_from)
