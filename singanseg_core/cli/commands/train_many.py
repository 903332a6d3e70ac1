"""``singanseg train-many``: one model per image of a Kvasir-SEG folder, K at once, locally or on Ray."""

from __future__ import annotations

import argparse
import sys

from ._common import add_train_options, train_config_from_args, train_setting


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-many", help="train one model per image/mask pair of a dataset folder (batched, resumable)",
        description="Trains <data>/images/<stem>.* + <data>/masks/<stem>.* into <out>/<stem>/. Models whose "
                    "pyramids have the same shape are trained K at a time as one batched computation (same "
                    "update rule as `train`). Finished models are skipped, partial ones resumed; each model "
                    "is saved after every scale. Model seed = sha256('<seed>:<stem>'), first 4 bytes "
                    "little-endian, masked to 31 bits.")
    p.add_argument("--data", required=True, help="dataset folder in the Kvasir-SEG layout (images/ + masks/)")
    p.add_argument("--out", required=True, help="output folder: one checkpoint folder per stem")
    p.add_argument("--parallel", default="1",
                   help="models trained together per group: a number, or 'auto' (as many as fit in memory)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: groups one after another here (default); ray: one Ray task per group")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (e.g. ray://head:10001 or auto); default: start a local Ray")
    p.add_argument("--overwrite", action="store_true", help="retrain models that already have a finished checkpoint")
    p.add_argument("--prior", default=None, metavar="auto|CHECKPOINT",
                   help="warm start every model from a prior: a checkpoint folder, or 'auto' (the first pair, or "
                        "--prior-pair, is trained as usual and starts all the others)")
    p.add_argument("--prior-pair", default=None, metavar="STEM", help="with --prior auto: the pair to train it on")
    p.add_argument("--finetune-iters", type=train_setting("niter"), default=None,
                   help="iterations per scale of the warm-started models (default: --iters)")
    add_train_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...files.pairs import find_pairs
    from ...training.many import train_many

    cfg = train_config_from_args(args)
    parallel = args.parallel if args.parallel == "auto" else _positive_int(args.parallel)
    bar = tqdm(total=len(find_pairs(args.data)), unit="model", desc="train-many", file=sys.stderr, dynamic_ncols=True)
    done: set[str] = set()

    def progress(ev) -> None:
        if ev.kind in ("finished", "skipped", "failed") and ev.stem not in done:
            done.add(ev.stem)
            bar.update(1)
        if ev.kind == "failed":
            bar.write(f"failed {ev.stem}: {ev.message}")
        elif ev.kind in ("iteration", "scale_done"):
            bar.set_postfix_str(f"{ev.stem[:12]} scale {ev.scale + 1}/{ev.num_scales}"
                                + (f" it {ev.iteration}/{ev.niter}" if ev.kind == "iteration" else ""))

    summary = train_many(args.data, args.out, cfg, parallel=parallel, executor=args.executor, progress=progress,
                         device=args.device, overwrite=args.overwrite, address=args.address, prior=args.prior,
                         prior_pair=args.prior_pair, finetune_iters=args.finetune_iters)
    bar.close()
    sizes = sorted({len(g) for g in summary.groups})
    if sizes:
        print(f"groups: {len(summary.groups)} (sizes {', '.join(map(str, sizes))})")
    print(summary.describe())
    return 1 if summary.failed else 0


def _positive_int(text: str) -> int:
    from ...errors import InputError

    try:
        k = int(text)
    except ValueError:
        raise InputError(f"--parallel must be a positive integer or 'auto', got {text!r}") from None
    if k < 1:
        raise InputError(f"--parallel must be at least 1, got {k}")
    return k
