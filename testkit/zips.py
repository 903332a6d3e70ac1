"""Zips built in memory (ordinary uploads and hostile ones)."""

from __future__ import annotations

import io
import stat
import zipfile


def make_zip(entries: dict[str, bytes], links: dict[str, str] | None = None,
             compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip in memory with ``entries`` (name → bytes) and, for hostile-input tests, symlink entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()
