"""The workspace: one folder that holds everything the dashboard reads or writes.

Layout::

    <root>/datasets/<name>/images/*.png + masks/*.png   (Kvasir-SEG layout)
    <root>/checkpoints/<name>/config.json + model.safetensors + real.png + real_mask.png
    <root>/samples/<name>/*_img.png + *_mask.png + manifest.csv
    <root>/style/<name>/...                               (style-transfer results)
    <root>/studies/<name>/...                             (augmentation studies)
    <root>/jobs/<id>/spec.json + status.json + log.txt    (background jobs, see jobs.py)
    <root>/logs/dashboard.log                             (tracebacks the UI hides)

Every path that comes from a person (a name typed in, a file name in an upload or a zip) goes through
:meth:`Workspace.resolve` / :func:`safe_name`: ``..``, absolute paths and symbolic links are refused, so
the dashboard never reads or writes outside ``root``. New folders get unique names so two sessions never
write into the same one; files are written atomically (``io_utils``).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from ..files.pairs import IMAGE_SUFFIXES
from ..errors import InputError
from ..files.atomic import atomic_directory, atomic_write_bytes

ENV_VAR = "SINGANSEG_WORKSPACE"
SUBDIRS = ("datasets", "checkpoints", "samples", "style", "studies", "jobs", "legacy", "logs")
MAX_UPLOAD_MB = 50            # one uploaded file (image, mask)
MAX_ZIP_MB = 200              # one uploaded zip
MAX_UNZIPPED_MB = 1000        # everything a zip may expand to
MAX_ZIP_FILES = 20000
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, what: str = "name") -> str:
    """A single path component made of letters, digits, ``._-``; refuses empty, ``.``/``..`` and separators.

    Spaces and other characters are replaced by ``_``; a name that still is unsafe raises ``InputError``.
    """
    raw = str(name).strip()
    if not raw:
        raise InputError(f"the {what} is empty")
    if "/" in raw or "\\" in raw or raw in (".", "..") or raw.startswith(".."):
        raise InputError(f"{what} {raw!r} must be a plain name (no '/', '\\' or '..')")
    clean = _NAME_RE.sub("_", raw).strip("_")
    if not clean or clean in (".", "..") or clean.startswith("."):
        raise InputError(f"{what} {raw!r} has no usable characters (use letters, digits, '.', '_' or '-')")
    return clean[:80]


def unique_suffix() -> str:
    """``YYYYmmdd-HHMMSS-xxxx``: sortable and unique across sessions."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


@dataclass
class Counts:
    datasets: int
    checkpoints: int
    samples: int
    style: int
    studies: int
    jobs: int


class Workspace:
    """A workspace folder (created on first use). ``Workspace.from_env()`` reads ``SINGANSEG_WORKSPACE``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in SUBDIRS:
            (self.root / sub).mkdir(exist_ok=True)

    @classmethod
    def from_env(cls, default: str = "workspace") -> "Workspace":
        return cls(os.environ.get(ENV_VAR) or default)

    # ------------------------------------------------------------------ folders
    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def style(self) -> Path:
        return self.root / "style"

    @property
    def studies(self) -> Path:
        return self.root / "studies"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def legacy(self) -> Path:
        return self.root / "legacy"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    # ------------------------------------------------------------------ safe paths
    def resolve(self, relative: str | os.PathLike, must_exist: bool = False) -> Path:
        """``root / relative`` after checking it stays inside the workspace.

        Refuses absolute paths, ``..`` components and any symbolic link on the way (``InputError``).
        """
        text = str(relative).replace("\\", "/")
        rel = PurePosixPath(text)
        if rel.is_absolute() or text.startswith("/") or re.match(r"^[A-Za-z]:", text):
            raise InputError(f"{text!r}: absolute paths are not allowed; give a path inside the workspace")
        if any(part == ".." for part in rel.parts):
            raise InputError(f"{text!r}: '..' is not allowed; give a path inside the workspace")
        path = self.root
        for part in rel.parts:
            if part in ("", "."):
                continue
            path = path / part
            if path.is_symlink():
                raise InputError(f"{text!r}: symbolic links are not followed inside the workspace")
        real = path.resolve()
        if real != self.root and self.root not in real.parents:
            raise InputError(f"{text!r}: resolves outside the workspace")
        if must_exist and not real.exists():
            raise InputError(f"{text!r}: not found in the workspace")
        return real

    def inside(self, path: str | os.PathLike) -> Path:
        """``path`` (absolute, e.g. from a manifest) checked to lie inside the workspace without links."""
        p = Path(path)
        try:
            rel = p.resolve().relative_to(self.root) if p.is_absolute() else p
        except ValueError:
            raise InputError(f"{p}: outside the workspace; it is not read") from None
        return self.resolve(rel.as_posix(), must_exist=True)

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to the root (for display and for job specs)."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def unique_dir(self, parent: Path, name: str) -> Path:
        """A not-yet-existing ``parent/<safe name>`` (``-2``, ``-3``... appended when taken)."""
        base = safe_name(name)
        candidate = parent / base
        i = 2
        while candidate.exists():
            candidate = parent / f"{base}-{i}"
            i += 1
        return candidate

    # ------------------------------------------------------------------ listings
    def list_datasets(self) -> list[str]:
        """Dataset folders in the Kvasir-SEG layout (``images/`` + ``masks/``)."""
        return sorted(p.name for p in _dirs(self.datasets) if (p / "images").is_dir() and (p / "masks").is_dir())

    def list_checkpoints(self, finished_only: bool = False) -> list[str]:
        from ..model.config import is_finished_checkpoint

        out = []
        for p in _dirs(self.checkpoints):
            if not (p / "config.json").is_file():
                continue
            if finished_only and not is_finished_checkpoint(p):
                continue
            out.append(p.name)
        return sorted(out)

    def list_sample_sets(self) -> list[str]:
        return sorted(p.name for p in _dirs(self.samples) if (p / "manifest.csv").is_file())

    def list_style_sets(self) -> list[str]:
        return sorted(p.name for p in _dirs(self.style) if any(p.iterdir()))

    def list_studies(self) -> list[str]:
        return sorted(p.name for p in _dirs(self.studies))

    def counts(self) -> Counts:
        return Counts(len(self.list_datasets()), len(self.list_checkpoints()), len(self.list_sample_sets()),
                      len(self.list_style_sets()), len(self.list_studies()), len(list(_dirs(self.jobs))))

    def dataset_pairs(self, name: str) -> list[tuple[str, Path, Path]]:
        from ..files.pairs import find_pairs

        return find_pairs(self.resolve(Path("datasets") / safe_name(name, "dataset"), must_exist=True))

    # ------------------------------------------------------------------ uploads
    def add_pairs(self, dataset: str, pairs: Iterable[tuple[str, bytes, bytes]],
                  max_mb: float = MAX_UPLOAD_MB) -> tuple[Path, list[str]]:
        """Add ``(file name, image bytes, mask bytes)`` pairs to ``datasets/<dataset>`` (created if needed).

        Every file is size-checked and must decode as an image of the same size as its partner; names are
        sanitised and made unique. Returns the dataset folder and the stems written.
        """
        from PIL import Image, UnidentifiedImageError

        folder = self.datasets / safe_name(dataset, "dataset name")
        items = []
        for fname, img_bytes, mask_bytes in pairs:
            stem = safe_name(Path(str(fname).replace("\\", "/")).stem, "file name")
            sizes = []
            for label, data in (("image", img_bytes), ("mask", mask_bytes)):
                check_size(f"{fname} ({label})", len(data), max_mb)
                try:
                    with Image.open(io.BytesIO(data)) as im:
                        im.load()
                        sizes.append(im.size)
                except (UnidentifiedImageError, OSError, ValueError):
                    raise InputError(f"{fname}: the {label} is not a readable image") from None
            if sizes[0] != sizes[1]:
                raise InputError(f"{fname}: image is {sizes[0][0]}x{sizes[0][1]} px but its mask is "
                                 f"{sizes[1][0]}x{sizes[1][1]} px; they must match")
            items.append((stem, img_bytes, mask_bytes))
        if not items:
            raise InputError("no image/mask pairs were given")
        written = []
        for stem, img_bytes, mask_bytes in items:
            name = stem
            i = 2
            while any((folder / sub / f"{name}.png").exists() for sub in ("images", "masks")):
                name = f"{stem}-{i}"
                i += 1
            atomic_write_bytes(folder / "images" / f"{name}.png", _to_png(img_bytes, "RGB"))
            atomic_write_bytes(folder / "masks" / f"{name}.png", _to_png(mask_bytes, "L"))
            written.append(name)
        return folder, written

    def import_zip(self, data: bytes, dataset: str, max_mb: float = MAX_ZIP_MB) -> tuple[Path, int]:
        """Unpack a Kvasir-SEG zip (``images/`` + ``masks/``, possibly inside one top folder) as a new dataset.

        Refuses links, absolute/``..`` member names, more than :data:`MAX_UNZIPPED_MB` unpacked or
        :data:`MAX_ZIP_FILES` files; the dataset appears atomically (a unique name) and only when complete.
        Returns the dataset folder and the number of pairs.
        """
        from ..files.pairs import find_pairs

        check_size("zip file", len(data), max_mb)
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise InputError("the upload is not a valid zip file") from None
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_FILES:
            raise InputError(f"the zip holds {len(members)} files; at most {MAX_ZIP_FILES} are allowed")
        total = 0
        for m in members:
            _check_member(m)
            total += m.file_size
        if total > MAX_UNZIPPED_MB * 1024 * 1024:
            raise InputError(f"the zip expands to {total / 2**20:.0f} MB; at most {MAX_UNZIPPED_MB} MB are allowed")
        # Kvasir-SEG layout, at the top or inside one folder (e.g. Kvasir-SEG/images/...).
        tops = {PurePosixPath(m.filename).parts[0] for m in members}
        prefix: tuple[str, ...] = ()
        if not {"images", "masks"} <= tops:
            inner = {PurePosixPath(m.filename).parts[:2] for m in members if len(PurePosixPath(m.filename).parts) > 2}
            for top in tops:
                if (top, "images") in inner and (top, "masks") in inner:
                    prefix = (top,)
                    break
            else:
                raise InputError("the zip has no images/ and masks/ folders (expected the Kvasir-SEG layout)")
        dest = self.unique_dir(self.datasets, dataset)
        written = 0
        with atomic_directory(dest) as tmp:
            for m in members:
                parts = PurePosixPath(m.filename).parts
                if parts[:len(prefix)] != prefix:
                    continue
                rest = parts[len(prefix):]
                if len(rest) != 2 or rest[0] not in ("images", "masks") or rest[1].startswith("."):
                    continue
                if Path(rest[1]).suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                target = tmp / rest[0] / safe_name(rest[1], "file name")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                written += 1
            if written == 0:
                raise InputError("the zip's images/ and masks/ folders hold no images")
            pairs = find_pairs(tmp)  # raises with the unmatched stems listed
        return dest, len(pairs)


def check_size(what: str, nbytes: int, max_mb: float) -> None:
    if nbytes > max_mb * 1024 * 1024:
        raise InputError(f"{what} is {nbytes / 2**20:.1f} MB; uploads are limited to {max_mb:g} MB")
    if nbytes == 0:
        raise InputError(f"{what} is empty")


def _check_member(m: zipfile.ZipInfo) -> None:
    name = m.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise InputError(f"the zip member {name!r} has an unsafe path (absolute or '..'); nothing was extracted")
    mode = (m.external_attr >> 16) & 0o170000
    if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(f"the zip member {name!r} is a link or special file; nothing was extracted")


def _to_png(data: bytes, mode: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    with Image.open(io.BytesIO(data)) as im:
        if mode == "RGB" and im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA").convert("RGB")
        im.convert(mode).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _dirs(parent: Path) -> Iterable[Path]:
    if not parent.is_dir():
        return []
    return [p for p in parent.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
