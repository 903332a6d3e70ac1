"""``singanseg pretrained download|sources``: fetch the authors' published models (needs internet)."""

from __future__ import annotations

import argparse

from ._common import ranged


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrained",
        help="download the authors' 1000 published SinGAN-Seg polyp models and import them",
        description="Downloads TrainedModels_{1..4}_clean.zip (and optionally the real images/masks) from the "
        "links the authors' package uses, resuming interrupted transfers, checks and safely extracts them into "
        "DIR/legacy/ and imports every model into DIR/models/<id>/.",
    )
    sub = p.add_subparsers(dest="pretrained_command", metavar="ACTION")
    d = sub.add_parser("download", help="download, extract and import (resumable; rerun after an interruption)")
    d.add_argument("--dir", required=True, help="target folder (archives/, legacy/, models/ are created in it)")
    d.add_argument("--parts", nargs="+", type=int, default=[1, 2, 3, 4], choices=[1, 2, 3, 4], metavar="K",
                   help="which model archives, 1..4 (default: all four)")
    d.add_argument("--real-data", action="store_true", help="also fetch the real images and masks")
    d.add_argument("--keep-archives", action="store_true", help="keep the .zip files after extraction")
    d.add_argument("--no-import", action="store_true", help="only download and extract")
    d.add_argument("--overwrite", action="store_true", help="re-import models already in DIR/models")
    d.add_argument("--models-dir", help="put the imported checkpoints here instead of DIR/models "
                   "(e.g. a workspace's checkpoints/)")
    d.add_argument("--sources", help="JSON file with other links (same shape as pretrained_sources.json)")
    d.add_argument("--timeout", type=ranged("timeout"), default=30.0,
                   help="seconds without data before a retry (default 30)")
    d.add_argument("--retries", type=ranged("retries"), default=5, help="resume attempts per file (default 5)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=download_handler)
    s = sub.add_parser("sources", help="print the download links")
    s.add_argument("--sources", help="JSON file with other links")
    s.set_defaults(func=sources_handler)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def sources_handler(args: argparse.Namespace) -> int:
    from ...legacy.download import load_sources

    src = load_sources(args.sources)
    print(f"# {src.origin}")
    for group in (src.models, src.real_data):
        for key, a in group.items():
            print(f"{key:>7}  {a.folder:<24} {a.url}")
    return 0


def download_handler(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...legacy.download import download_pretrained, load_sources

    bars: dict[str, tqdm] = {}

    def on_bytes(name: str, done: int, total: int | None) -> bool:
        if args.quiet:
            return True
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = tqdm(total=total, initial=0, unit="B", unit_scale=True, unit_divisor=1024, desc=name)
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        return True

    def on_model(done: int, total: int, name: str) -> bool:
        if args.quiet:
            return True
        bar = bars.get("import")
        if bar is None:
            bar = bars["import"] = tqdm(total=total, unit="model", desc="import")
        bar.set_postfix_str(name, refresh=False)
        bar.update(done - bar.n)
        return True

    try:
        result = download_pretrained(
            args.dir, parts=args.parts, real_data=args.real_data, sources=load_sources(args.sources),
            import_models=not args.no_import, keep_archives=args.keep_archives, overwrite=args.overwrite,
            progress=on_bytes, import_progress=on_model, timeout=args.timeout, retries=args.retries,
            models_dir=args.models_dir,
        )
    finally:
        for bar in bars.values():
            bar.close()
    print("\n".join(result.lines()))
    return 1 if result.summary is not None and result.summary.refused else 0
