"""Command line: ``python -m singanseg_core`` / ``singanseg``.

Each sub-command lives in ``singanseg_core/commands/<name>.py`` and exposes
``register(subparsers) -> None``, which adds its parser and sets ``func=handler`` where
``handler(args) -> int``. Modules are discovered automatically, so adding a command never edits
this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from ..errors import SinGANSegError


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import commands

    parser = argparse.ArgumentParser(
        prog="singanseg",
        description="SinGAN-Seg Studio: synthetic images with segmentation masks from one image each.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (SinGANSegError, FileNotFoundError, FileExistsError, ValueError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
