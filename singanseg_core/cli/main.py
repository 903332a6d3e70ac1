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
    from ..files.atomic import DiskFullError, disk_full_message, is_disk_full

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
    except (SinGANSegError, ValueError) as err:
        if args.debug:
            raise
        kept = _kept(args) if isinstance(err, DiskFullError) else None
        print(f"error: {_one_line(disk_full_message(err.path, err.os_error, kept) if kept else str(err))}",
              file=sys.stderr)
        return 1
    except OSError as err:  # any other failure to read or write a path: one line naming it, and what is left
        if args.debug:
            raise
        path = err.filename or getattr(args, "out", None) or "a file"
        kept = _kept(args)
        if is_disk_full(err):
            print(f"error: {disk_full_message(path, err, kept) if kept else disk_full_message(path, err)}",
                  file=sys.stderr)
        else:
            reason = err.strerror or type(err).__name__
            print(f"error: {path}: {reason}" + (f"; {kept}" if kept else ""), file=sys.stderr)
        return 1


def _kept(args: argparse.Namespace) -> str | None:
    """What the failed command left behind, from its ``kept_on_error(args)`` (set by commands that know)."""
    describe = getattr(args, "kept_on_error", None)
    try:
        return describe(args) if describe is not None else None
    except Exception:  # noqa: BLE001 - describing the leftovers must never hide the error itself
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "failed"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
