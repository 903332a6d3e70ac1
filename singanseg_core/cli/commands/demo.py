"""``singanseg demo build|init``: the embedded demo (see ``singanseg_core/services/demo.py``)."""

from __future__ import annotations

import argparse

from ._common import device_name, ranged


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="build the demo assets or copy them into a workspace")
    dsub = p.add_subparsers(dest="demo_command", metavar="ACTION")
    b = dsub.add_parser("build", help="rebuild demo_assets/: IHC tiles + masks, then train every demo checkpoint "
                                      "with its recorded settings (resumes an interrupted build)")
    b.add_argument("names", nargs="*", metavar="NAME", help="only these checkpoints (default: all)")
    b.add_argument("--force", action="store_true", help="retrain finished checkpoints too")
    b.add_argument("--device", type=device_name, default="cpu", help="cpu (default, reproducible), auto or cuda")
    b.add_argument("--threads", type=ranged("threads"), default=1,
                   help="torch threads (default 1, as the committed assets)")
    b.add_argument("--dataset-only", action="store_true", help="only write the tiles and masks")
    b.set_defaults(func=_build)
    i = dsub.add_parser("init", help="copy the demo dataset and checkpoints into a workspace")
    i.add_argument("--workspace", default=None, help="workspace folder (default: $SINGANSEG_WORKSPACE or ./workspace)")
    i.add_argument("--force", action="store_true", help="copy even when the workspace is not empty")
    i.set_defaults(func=_init)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _build(args: argparse.Namespace) -> int:
    from ...services.demo import ASSETS_DIR, build_assets, build_dataset

    if args.dataset_only:
        print(build_dataset(ASSETS_DIR / "dataset"))
        return 0
    import torch

    torch.set_num_threads(max(1, args.threads))  # 1: as the committed assets were built (reproducible)
    build_assets(args.names or None, device=args.device, force=args.force)
    return 0


def _init(args: argparse.Namespace) -> int:
    from ...services.demo import ensure_demo_workspace
    from ...services.workspace import Workspace

    ws = Workspace(args.workspace) if args.workspace else Workspace.from_env()
    copied = ensure_demo_workspace(ws, force=args.force)
    print(f"{ws.root}: " + ("demo copied" if copied else "nothing to do (workspace not empty, or the demo was "
                                                      "installed here before: --force copies it again)"))
    return 0
