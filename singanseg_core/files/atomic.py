"""Atomic file writes: a reader never sees a half-written file, a crash never leaves one.

Every temporary name is unique (``mkstemp`` / a random suffix), so two writers never share one, and a full disk
is one clear ``InputError`` naming the file (:func:`disk_errors`), never a traceback or a half-written result.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from ..errors import InputError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_disk_full(err: BaseException) -> bool:
    """True for the ``OSError`` s a full disk, an exhausted quota or a file-size limit raise."""
    return isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS


def disk_full_message(path: str | os.PathLike, err: OSError, kept: str = "nothing was written there") -> str:
    """One line for a full disk at ``path``; ``kept`` says what is left (an all-or-nothing write: nothing)."""
    return (f"{path}: the disk is full ({os.strerror(err.errno or errno.ENOSPC)}); {kept}. "
            "Free some space and run again")


class DiskFullError(InputError):
    """The disk (or quota) is full; the message names the result that could not be written."""

    def __init__(self, path: str | os.PathLike, err: OSError) -> None:
        super().__init__(disk_full_message(path, err))
        self.path, self.os_error = path, err


@contextmanager
def disk_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk inside the block into one :class:`DiskFullError` naming ``path`` (the outermost
    ``disk_errors`` wins, so an all-or-nothing folder names itself, not a file in its temporary copy)."""
    try:
        yield
    except DiskFullError as err:
        raise DiskFullError(path, err.os_error) from None
    except OSError as err:
        if is_disk_full(err):
            raise DiskFullError(path, err) from None
        raise


def _write_temp(path: Path, data: bytes) -> Path:
    """``data`` in a uniquely named, fsync'ed temporary sibling of ``path`` (removed again on any error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Raises:
        InputError: the disk is full (the old ``path``, if any, is left as it was).
    """
    path = Path(path)
    with disk_errors(path):
        tmp = _write_temp(path, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def atomic_write_together(files: Sequence[tuple[str | os.PathLike, bytes]]) -> list[Path]:
    """Write several files so that none changes unless all could be written: every temporary file is written
    (and fsync'ed) first, then they are renamed into place in the given order (put the file that marks the set
    complete last). A full disk while writing leaves every old file as it was."""
    paths = [Path(p) for p, _ in files]
    temps: list[Path] = []
    try:
        with disk_errors(paths[0].parent if paths else "."):
            for path, (_, data) in zip(paths, files):
                temps.append(_write_temp(path, data))
            for tmp, path in zip(temps, paths):
                os.replace(tmp, path)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return paths


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_png(path: str | os.PathLike, array: np.ndarray, compress_level: int = 1) -> Path:
    """Save a uint8 ``(H, W)`` or ``(H, W, 3|4)`` array as PNG, atomically.

    ``compress_level=1`` trades a few percent of file size for several times faster writes.
    """
    import io

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=compress_level)
    return atomic_write_bytes(path, buf.getvalue())


def _sweep_partials(dest: Path) -> None:
    """Remove the temporary folders a killed writer (kill -9, power loss) left next to ``dest``."""
    sweep_stale_partials(dest.parent, f".{dest.name}.partial-*")


def sweep_stale_partials(parent: Path, pattern: str = ".*.partial-*") -> list[str]:
    """Remove the hidden temporary folders of killed all-or-nothing writers in ``parent``: their names carry the
    writer's pid, and only those of processes that no longer exist are removed. Returns the names removed."""
    removed = []
    for old in parent.glob(pattern):
        pid = old.name.rsplit(".partial-", 1)[1].split("-")[0]
        if not pid.isdigit() or old.is_symlink() or not old.is_dir():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
        except (PermissionError, OverflowError):
            continue
    return removed


@contextmanager
def atomic_directory(dest: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it is renamed to ``dest``.

    On any exception the temporary folder is removed and ``dest`` is left as it was, so nothing
    half-written is ever visible under ``dest``. An existing *empty* ``dest`` (a folder reserved for this
    result, see ``Workspace.reserve_dir``) is replaced; a non-empty one only with ``overwrite``. A full disk
    inside the block becomes one ``InputError`` naming ``dest``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _sweep_partials(dest)
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        with disk_errors(dest):
            yield tmp
        if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
            os.replace(tmp, dest)  # rename(2) replaces an empty folder atomically
        elif dest.exists():
            if not overwrite:
                raise FileExistsError(f"{dest} already exists")
            old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "folder", wait: float = 0.0) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) for the ``with`` block.

    A second writer, in this process or another, is refused (at once, or after waiting up to ``wait`` seconds
    for the lock) with an ``InputError`` naming the folder and the holder's pid. The lock (``flock`` on
    ``folder/.lock``) dies with its process, so a killed writer never leaves a folder locked.
    """
    import fcntl
    import time

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise InputError(f"{folder}: this {what} is being written by another process (pid {holder}); "
                                 "wait for it to finish or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing releases the lock
