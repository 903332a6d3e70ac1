"""Exceptions with messages meant for people: each names the file and the problem."""

from __future__ import annotations


class SinGANSegError(Exception):
    """Base class for every error the core raises on purpose (bad input, bad checkpoint, ...).

    The CLI and the dashboard print ``str(err)`` as one friendly line; anything else is a bug.
    """


class InputError(SinGANSegError):
    """An input file or folder cannot be used (unreadable, wrong size, missing pair, ...)."""


class CheckpointError(SinGANSegError):
    """A checkpoint is missing, corrupt, refused (unsafe) or incompatible."""


class Cancelled(SinGANSegError):
    """A long job was cancelled through its progress callback."""
