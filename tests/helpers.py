"""Paths to the shared real data (read in place, never copied into the project)."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
POLYPS = SHARED / "data" / "polyps"
FIXTURE_A = SHARED / "fixtures" / "legacy_checkpoint_a"


def polyp(stem: str) -> tuple[Path, Path]:
    return POLYPS / "images" / f"{stem}.jpg", POLYPS / "masks" / f"{stem}.png"


def polyp_stems() -> list[str]:
    return sorted(p.stem for p in (POLYPS / "images").glob("*.jpg"))
