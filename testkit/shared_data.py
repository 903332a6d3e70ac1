"""The one definition of where the shared real data lives: ``../shared`` next to the checkout (read in place,
never copied into the project)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
POLYPS = SHARED / "data" / "polyps"
POLYPS_STUDY = SHARED / "data" / "polyps_study"
FIXTURE_A = SHARED / "fixtures" / "legacy_checkpoint_a"
LEGACY_MODEL_DIR = FIXTURE_A / "TrainedModels" / "coffee" / "scale_factor=0.750000,alpha=10"
LEGACY_FILES = ("Gs.pth", "Zs.pth", "reals.pth", "NoiseAmp.pth")


def shared_missing() -> str | None:
    """Why the shared data cannot be used here (one line), or ``None`` when the real pairs and the legacy fixture
    are both present."""
    missing = [str(p) for p in (POLYPS / "images", FIXTURE_A) if not p.is_dir()]
    return f"the shared data next to the checkout is absent (no {' and no '.join(missing)})" if missing else None


def polyp(stem: str) -> tuple[Path, Path]:
    """The image and mask paths of one Kvasir-SEG pair in :data:`POLYPS`."""
    return POLYPS / "images" / f"{stem}.jpg", POLYPS / "masks" / f"{stem}.png"


def polyp_stems() -> list[str]:
    """Every pair's stem in :data:`POLYPS`, sorted."""
    return sorted(p.stem for p in (POLYPS / "images").glob("*.jpg"))
