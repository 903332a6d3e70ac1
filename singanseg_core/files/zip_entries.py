"""**The** zip-entry rule for every archive read from outside (uploaded datasets, downloaded legacy models):
which entries may be read at all (:func:`entry_problem`), the caps on an archive as a whole (:func:`check_entries`:
entry count, declared uncompressed bytes) and a bounded read of one entry (:func:`read_entry`: a header that lies
about its size cannot make it read more).
"""

from __future__ import annotations

import re
import stat
import zipfile
from typing import Iterable

from ..errors import InputError

READ_BLOCK = 1 << 20   # bytes per read of an entry


class UnsafeArchiveError(InputError):
    """An archive entry would escape the target folder, is a link/special/encrypted file, or the archive is
    too big."""


def entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why ``info`` may not be read (``"unsafe path ('..')"``, ``"symbolic link"``, ``"encrypted entry"``, ...),
    or ``None``: absolute, drive-letter, backslash and ``..`` paths, links, special files and encrypted entries
    are refused."""
    name = info.filename
    if not name or "\x00" in name:
        return "empty name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "unsafe path (absolute)"
    if "\\" in name:
        return "unsafe path (backslash)"
    if any(p == ".." for p in name.split("/")):
        return "unsafe path ('..')"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "special file"
    if info.flag_bits & 0x1:
        return "encrypted entry"
    return None


def check_entries(infos: Iterable[zipfile.ZipInfo], where: str, max_entries: int, max_bytes: int) -> int:
    """Every entry of ``infos`` checked before anything is read; returns their declared uncompressed bytes.

    Raises:
        UnsafeArchiveError: ``"<where>: refused entry 'x' (why); nothing extracted"``, more than ``max_entries``
            entries or more than ``max_bytes`` declared uncompressed bytes.
    """
    infos = list(infos)
    if len(infos) > max_entries:
        raise UnsafeArchiveError(f"{where}: {len(infos)} entries, more than the cap of {max_entries}; "
                                 "nothing extracted")
    for info in infos:
        problem = entry_problem(info)
        if problem:
            raise UnsafeArchiveError(f"{where}: refused entry {info.filename!r} ({problem}); nothing extracted")
    declared = sum(i.file_size for i in infos)
    if declared > max_bytes:
        raise UnsafeArchiveError(f"{where}: {declared} bytes uncompressed, more than the cap of {max_bytes} "
                                 "(zip bomb?); nothing extracted")
    return declared


def iter_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: list[int]) -> Iterable[bytes]:
    """The blocks of one entry (at most :data:`READ_BLOCK` bytes each), refusing to go past its declared size
    or past ``budget[0]`` bytes left for the whole archive (decremented as blocks are read).

    Raises:
        UnsafeArchiveError: the entry expands beyond its header's size or the archive beyond its cap.
        InputError: a corrupt entry.
    """
    read = 0
    try:
        with zf.open(info) as src:
            while block := src.read(READ_BLOCK):
                read += len(block)
                budget[0] -= len(block)
                if read > info.file_size or budget[0] < 0:
                    raise UnsafeArchiveError(f"{where}: entry {info.filename!r} expands beyond its declared size "
                                             "or the archive's cap (zip bomb?); nothing extracted")
                yield block
    except (zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"{where}: corrupt entry {info.filename!r} ({err})") from None


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: list[int]) -> bytes:
    """One entry's bytes, read by :func:`iter_entry` (bounded by its declared size and ``budget``)."""
    return b"".join(iter_entry(zf, info, where, budget))
