"""Command line: ``python -m singanseg_core`` / ``singanseg`` (see :mod:`.main`)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
