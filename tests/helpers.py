"""Paths to the shared real data (read in place, never copied into the project)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
POLYPS = SHARED / "data" / "polyps"
FIXTURE_A = SHARED / "fixtures" / "legacy_checkpoint_a"


def polyp(stem: str) -> tuple[Path, Path]:
    return POLYPS / "images" / f"{stem}.jpg", POLYPS / "masks" / f"{stem}.png"


def polyp_stems() -> list[str]:
    return sorted(p.stem for p in (POLYPS / "images").glob("*.jpg"))
LEGACY_MODEL_DIR = FIXTURE_A / "TrainedModels" / "coffee" / "scale_factor=0.750000,alpha=10"
LEGACY_FILES = ("Gs.pth", "Zs.pth", "reals.pth", "NoiseAmp.pth")


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
