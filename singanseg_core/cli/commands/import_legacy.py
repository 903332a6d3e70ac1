"""``singanseg import-legacy SRC DEST``: import the authors' ``.pth`` checkpoints without unpickling them."""

from __future__ import annotations

import argparse

from ._common import model_name


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import-legacy",
        help="import original SinGAN-Seg checkpoints (Gs/Zs/reals/NoiseAmp.pth) safely into DEST/<id>/",
        description="SRC is one model folder (Gs.pth, Zs.pth, reals.pth, NoiseAmp.pth), a "
        "TrainedModels/<id>/scale_factor=... tree, or a root in the published layout "
        "(TrainedModels_{1..4}_clean/<id>/ + real_images/<id>.jpg + real_masks/<id>.*). Every model found is "
        "written to DEST/<id>/ in our safetensors format; already imported ones are skipped. The pickles are "
        "read through an allow-list: nothing they name is imported or executed.",
    )
    p.add_argument("src", help="legacy model folder, or a folder holding many")
    p.add_argument("dest", help="folder receiving one checkpoint folder per model (DEST/<id>/)")
    p.add_argument("--name", type=model_name, help="id for a single model (default: its folder name)")
    p.add_argument("--overwrite", action="store_true", help="re-import models that already exist in DEST")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...legacy.importer import import_legacy

    bar = None

    def progress(done: int, total: int, name: str) -> bool:
        nonlocal bar
        if args.quiet:
            return True
        if bar is None:
            bar = tqdm(total=total, unit="model", desc="import-legacy")
        bar.set_postfix_str(name, refresh=False)
        bar.update(done - bar.n)
        return True

    try:
        summary = import_legacy(args.src, args.dest, overwrite=args.overwrite, name=args.name, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    print("\n".join(summary.lines()))
    return 1 if summary.refused else 0
