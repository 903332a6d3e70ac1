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


class UsageError(Exception):
    """A bad command line (unknown option, missing argument, a value out of its range)."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and exit code 1, like every other error of the CLI
    (argparse's own print the usage and exit with 2). Sub-command parsers are of this class too."""

    def error(self, message: str):  # noqa: ANN201 - never returns
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import commands

    parser = Parser(
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
    """Run one command; every error the user can cause is one line on stderr and exit code 1."""
    from ..files.atomic import disk_full_message, is_disk_full

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return 1
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
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return 1
    except OSError as err:
        if args.debug or not is_disk_full(err):
            raise
        print(f"error: {disk_full_message(err.filename or 'a file', err)}", file=sys.stderr)
        return 1


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "failed"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
