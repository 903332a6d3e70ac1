"""``singanseg rename OLD NEW``: rename a checkpoint of a workspace and every reference to it."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rename", help="rename a checkpoint of a workspace (folder, config name, sample-set "
                                      "manifests, job records, studies)")
    p.add_argument("old", help="the checkpoint's current name (its folder under checkpoints/)")
    p.add_argument("new", help="the new name (letters, digits, '.', '_', '-'; not in use)")
    p.add_argument("--workspace", default=None, help="workspace folder (default: $SINGANSEG_WORKSPACE or ./workspace)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...services.rename import rename_checkpoint
    from ...services.workspace import Workspace

    ws = Workspace(args.workspace) if args.workspace else Workspace.from_env()
    print(rename_checkpoint(ws, args.old, args.new))
    return 0
