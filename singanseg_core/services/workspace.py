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
the dashboard never reads or writes outside ``root``. New folders are reserved atomically
(:meth:`Workspace.reserve_dir`) so two sessions never write into the same one; files are written atomically
(``files.atomic``). Uploads go through the one pair reader and mask rule (``files.pairs``) and duplicates are
found by their decoded pixels, so one image never lands in a dataset twice.
"""

from __future__ import annotations

import io
import os
import re
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

from ..files.pairs import IMAGE_SUFFIXES
from ..errors import InputError
from ..files.atomic import atomic_directory, atomic_write_bytes, atomic_write_json, folder_lock
from ..files.uploads import listed
from ..files.zip_entries import check_entries, read_entry

ENV_VAR = "SINGANSEG_WORKSPACE"
SUBDIRS = ("datasets", "checkpoints", "samples", "style", "studies", "jobs", "legacy", "logs")
MAX_UPLOAD_MB = 50            # one uploaded file (image, mask)
MAX_ZIP_MB = 200              # one uploaded zip
MAX_UNZIPPED_MB = 1000        # everything a zip may expand to
MAX_ZIP_FILES = 20000
# Peak memory of import_zip, in units of one pair's decoded bytes (4 bytes a pixel: RGB + mask; a pair is at most
# files.images.MAX_PIXELS pixels): its zip bytes, the decoded arrays, the pixel hashes' copies and the PNG
# encodings of the one pair in hand (measured: about 5). It does not grow with the number of pairs.
IMPORT_PEAK_PAIRS = 6
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
STALE_RESERVED_S = 600.0  # an empty reserved folder older than this, with no job writing it, was left by a kill
_CLEANED: set[str] = set()  # workspace roots cleaned by this process
_STATUS_CACHE: dict[str, tuple] = {}   # checkpoint folder -> (stat keys, CheckpointStatus)


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
        if str(self.root) not in _CLEANED:  # once per process and workspace: the "next start" after a kill
            _CLEANED.add(str(self.root))
            self.clean_leftovers()

    def clean_leftovers(self, now: float | None = None) -> list[str]:
        """Remove what killed writers left: hidden ``.partial-*`` folders of dead processes, and reserved result
        folders (:meth:`reserve_dir`) still empty after :data:`STALE_RESERVED_S` that no active job writes.
        Returns the workspace-relative paths removed."""
        from ..files.atomic import sweep_stale_partials

        removed = []
        now = time.time() if now is None else now
        writing: set[str] | None = None
        looked = False
        for category in ("checkpoints", "samples", "style", "studies"):
            parent = self.root / category
            removed += [f"{category}/{n}" for n in sweep_stale_partials(parent)]
            for folder in _dirs(parent):
                try:
                    if any(folder.iterdir()) or now - folder.stat().st_mtime < STALE_RESERVED_S:
                        continue
                except OSError:
                    continue
                if not looked:
                    writing, looked = self._written_by_active_jobs(), True
                if writing is not None and f"{category}/{folder.name}" not in writing and self.release_dir(folder):
                    removed.append(f"{category}/{folder.name}")
        return removed

    def _written_by_active_jobs(self) -> set[str] | None:
        """Workspace-relative folders active jobs write; ``None`` when the jobs cannot be read (remove nothing)."""
        from .catalog import active_jobs, job_targets

        try:
            return {ref.path for job in active_jobs(self) for ref in job_targets(job)["writes"]}
        except Exception:  # noqa: BLE001 - an unreadable job folder: keep every reserved folder this time
            return None

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

    def inside(self, path: str | os.PathLike, base: str | os.PathLike | None = None) -> Path:
        """``path`` (from a manifest: absolute, or relative to ``base``, the manifest's folder) checked to lie
        inside the workspace without links."""
        p = Path(path)
        if base is not None and not p.is_absolute():
            p = Path(os.path.normpath(Path(base) / p))  # '..' folded without following a link
        try:
            rel = p.resolve().relative_to(self.root) if p.is_absolute() else p
        except ValueError:
            raise InputError(f"{p}: outside the workspace; it is not read") from None
        return self.resolve(rel.as_posix(), must_exist=True)

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to the root (for display and for job specs)."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def reserve_dir(self, parent: Path, name: str, what: str = "name") -> Path:
        """Create and return a new, empty ``parent/<safe name>`` (``-2``, ``-3``... when taken), atomically.

        ``mkdir`` fails when the folder exists, so two sessions asking for the same name at the same moment get
        two different folders. The empty folder is a placeholder: listings ignore it, and an all-or-nothing
        writer (``files.atomic.atomic_directory``) replaces it with the finished result.
        """
        parent = self.inside(parent)
        base = safe_name(name, what)
        for i in range(1, 10_000):
            candidate = parent / (base if i == 1 else f"{base}-{i}")
            try:
                candidate.mkdir(parents=False, exist_ok=False)
                return candidate
            except FileExistsError:
                continue
        raise InputError(f"no free folder name for {base!r} under {self.relative(parent)}/")

    @contextmanager
    def new_dir(self, parent: Path, name: str, what: str = "name") -> Iterator[Path]:
        """:meth:`reserve_dir` for the ``with`` block: the new folder is given back (:meth:`release_dir`) when the
        block fails, so a refused or failed write leaves no placeholder behind."""
        folder = self.reserve_dir(parent, name, what)
        try:
            yield folder
        except BaseException:
            self.release_dir(folder)
            raise

    def release_dir(self, path: Path) -> bool:
        """Remove a folder reserved by :meth:`reserve_dir` if it is still empty (its work failed or was
        cancelled). Returns whether it was removed; a folder with anything in it is kept."""
        if not Path(path).is_dir():
            return False
        path = self.inside(path)
        try:
            path.rmdir()
            return True
        except OSError:
            return False

    # ------------------------------------------------------------------ listings
    def list_datasets(self) -> list[str]:
        """Dataset folders in the Kvasir-SEG layout (``images/`` + ``masks/``)."""
        return sorted(p.name for p in _dirs(self.datasets) if (p / "images").is_dir() and (p / "masks").is_dir())

    def list_checkpoints(self, finished_only: bool = False) -> list[str]:
        """Names of the readable checkpoints (finished and, unless ``finished_only``, partial ones), by the one
        checkpoint rule (``model.checkpoint_status``). Broken ones are left out: :meth:`checkpoint_problems`
        says why, one line each, for the UI to show."""
        return sorted(name for name, st in self._checkpoint_states().items()
                      if st.state == "finished" or (st.state == "partial" and not finished_only))

    def checkpoint_problems(self) -> dict[str, str]:
        """``{name: why}`` for every checkpoint folder that holds a ``config.json`` it cannot be loaded from
        (tampered, truncated, from another version); these are not listed by :meth:`list_checkpoints`."""
        return {name: st.message for name, st in sorted(self._checkpoint_states().items()) if st.state == "broken"}

    def _checkpoint_states(self) -> dict:
        """``{name: CheckpointStatus}`` of every folder with a ``config.json``; a status is computed again only
        when the config or the weights file changed (listing 1000 imported models stays cheap)."""
        from ..model.config import CheckpointStatus, checkpoint_status

        out: dict[str, CheckpointStatus] = {}
        for p in _dirs(self.checkpoints):
            config = p / "config.json"
            if config.is_symlink():
                out[p.name] = CheckpointStatus("broken", f"{p.name}/config.json is a symbolic link; not read")
            elif config.is_file():
                try:
                    key = (_stat_key(config), _stat_key(p / "model.safetensors")
                           if (p / "model.safetensors").exists() else None)
                except OSError:
                    continue
                cached = _STATUS_CACHE.get(str(p))
                if cached is None or cached[0] != key:
                    cached = _STATUS_CACHE[str(p)] = (key, checkpoint_status(p))
                out[p.name] = cached[1]
        return out

    def list_sample_sets(self) -> list[str]:
        return sorted(p.name for p in _dirs(self.samples) if (p / "manifest.csv").is_file())

    def list_style_sets(self) -> list[str]:
        return sorted(p.name for p in _dirs(self.style) if any(not c.name.startswith(".") for c in p.iterdir()))

    def list_studies(self) -> list[str]:
        return sorted(p.name for p in _dirs(self.studies))

    def counts(self) -> Counts:
        return Counts(len(self.list_datasets()), len(self.list_checkpoints()), len(self.list_sample_sets()),
                      len(self.list_style_sets()), len(self.list_studies()), len(list(_dirs(self.jobs))))

    def dataset_pairs(self, name: str) -> list[tuple[str, Path, Path]]:
        """``(stem, image, mask)`` of every pair of ``datasets/<name>``; a pair whose image or mask is a symbolic
        link is left out (it could point anywhere on the server; :meth:`resolve` refuses links too)."""
        from ..files.pairs import find_pairs

        folder = self.resolve(Path("datasets") / safe_name(name, "dataset"), must_exist=True)
        return [(stem, img, msk) for stem, img, msk in find_pairs(folder)
                if not (img.is_symlink() or msk.is_symlink())]

    # ------------------------------------------------------------------ uploads
    def add_pairs(self, dataset: str, pairs: Iterable[tuple[str, bytes, bytes] | tuple[str, bytes, bytes, str]],
                  max_mb: float = MAX_UPLOAD_MB) -> "AddedPairs":
        """Add ``(image file name, image bytes, mask bytes[, mask file name])`` pairs to ``datasets/<dataset>``
        (created if needed; without a mask file name the mask is reported under the image's name).

        Every pair is decoded by the one pair reader (``files.pairs.load_pair``: bounded, EXIF orientation
        applied, the mask rule); files that are too large, not images, of another size than their partner, or
        masks the rule refuses stop the whole upload before anything is written, with one line listing every
        such problem, each under the name of the file it is about. A pair whose
        image pixels are already in the dataset (or earlier in this upload) is skipped with a note, never stored
        twice. Images are stored as RGB PNG, masks as 0/255 PNG, under sanitised unique names.

        Returns:
            :class:`AddedPairs` (unpacks as ``folder, written``), with ``skipped`` and ``notes``.
        """
        folder = self.datasets / safe_name(dataset, "dataset name")
        prepared, problems = [], []
        for fname, img_bytes, mask_bytes, *mask_name in pairs:
            mask_fname = str(mask_name[0]) if mask_name else str(fname)
            try:
                stem = safe_name(Path(str(fname).replace("\\", "/")).stem, "file name")
                for label, name, data in (("image", fname, img_bytes), ("mask", mask_fname, mask_bytes)):
                    check_size(f"{name} ({label})", len(data), max_mb)
                prepared.append(_prepare_pair(str(fname), stem, img_bytes, mask_bytes, mask_fname))
            except InputError as err:
                problems.append(str(err))
        if len(problems) == 1:
            raise InputError(problems[0])
        if problems:
            raise InputError(f"nothing was added, {len(problems)} problems: " + listed(problems, sep="; "))
        if not prepared:
            raise InputError("no image/mask pairs were given")
        result = AddedPairs(folder)
        with folder_lock(folder, "dataset", wait=30.0):
            known = _content_index(folder)
            for item in prepared:
                if _skip_duplicate(item, known, result):
                    continue
                name = item.stem
                i = 2
                while any((folder / sub / f"{name}{ext}").exists() for sub in ("images", "masks")
                          for ext in IMAGE_SUFFIXES):
                    name = f"{item.stem}-{i}"
                    i += 1
                atomic_write_bytes(folder / "masks" / f"{name}.png", _png(item.mask))
                atomic_write_bytes(folder / "images" / f"{name}.png", _png(item.image))
                known[item.image_hash] = (name, item.mask_hash)
                result.written.append(name)
                result.notes += item.notes
            _save_content_index(folder, known)
        return result

    def import_zip(self, data: bytes, dataset: str, max_mb: float = MAX_ZIP_MB) -> "ImportedZip":
        """Unpack a Kvasir-SEG zip (``images/`` + ``masks/``, possibly inside one top folder) as a new dataset.

        Refuses what the zip-entry rule refuses (``files.zip_entries``: links, special and encrypted entries,
        absolute/``..`` names), more than :data:`MAX_UNZIPPED_MB` unpacked or :data:`MAX_ZIP_FILES` files, two
        members that map to one clean file name (both named), and any pair that does not decode or whose mask
        the mask rule refuses (nothing is imported then). Pairs are decoded and written one at a time. Pairs with the
        same image pixels as an earlier one are skipped with a note. The dataset appears atomically (a
        reserved unique name) and only when complete; images are stored as RGB PNG, masks as 0/255 PNG.

        Returns:
            :class:`ImportedZip` (unpacks as ``folder, pairs``), with ``skipped`` and ``notes``.
        """
        check_size("zip file", len(data), max_mb)
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise InputError("the upload is not a valid zip file") from None
        members = [m for m in zf.infolist() if not m.is_dir()]
        check_entries(members, "the zip", MAX_ZIP_FILES, MAX_UNZIPPED_MB * 1024 * 1024)
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
        by_stem: dict[str, dict[str, zipfile.ZipInfo]] = {"images": {}, "masks": {}}
        for m in members:
            parts = PurePosixPath(m.filename).parts
            if parts[:len(prefix)] != prefix:
                continue
            rest = parts[len(prefix):]
            if len(rest) != 2 or rest[0] not in ("images", "masks") or rest[1].startswith("."):
                continue
            if Path(rest[1]).suffix.lower() not in IMAGE_SUFFIXES:
                raise InputError(f"the zip member {m.filename!r} is not an image file "
                                 f"({', '.join(IMAGE_SUFFIXES)}); nothing was imported")
            stem = safe_name(Path(rest[1]).stem, "file name")
            other = by_stem[rest[0]].get(stem)
            if other is not None:
                raise InputError(f"the zip members {other.filename!r} and {m.filename!r} both become "
                                 f"{rest[0]}/{stem}.png; rename one of them (nothing was imported)")
            by_stem[rest[0]][stem] = m
        images, masks = by_stem["images"], by_stem["masks"]
        if not images:
            raise InputError("the zip's images/ and masks/ folders hold no images")
        lonely = sorted(set(images) ^ set(masks))
        if lonely:
            raise InputError(f"the zip has unmatched stems (an image without a mask or a mask without an image): "
                             f"{', '.join(lonely[:10])}{' ...' if len(lonely) > 10 else ''}; nothing was imported")
        result = ImportedZip(self.datasets / safe_name(dataset, "dataset name"))
        known: dict[str, tuple[str, str]] = {}
        budget = [MAX_UNZIPPED_MB * 1024 * 1024]
        with self.new_dir(self.datasets, dataset) as dest:
            with atomic_directory(dest) as tmp:
                # One pair at a time (read, decode, check, write, release): the peak is IMPORT_PEAK_PAIRS x one
                # pair's decoded bytes, whatever the number of pairs. A refused pair still imports nothing: the
                # folder appears only when the block completes.
                for stem in sorted(images):
                    item = _prepare_pair(images[stem].filename, stem,
                                         read_entry(zf, images[stem], "the zip", budget),
                                         read_entry(zf, masks[stem], "the zip", budget),
                                         mask_label=masks[stem].filename)
                    if _skip_duplicate(item, known, result):
                        continue
                    known[item.image_hash] = (stem, item.mask_hash)
                    atomic_write_bytes(tmp / "images" / f"{item.stem}.png", _png(item.image))
                    atomic_write_bytes(tmp / "masks" / f"{item.stem}.png", _png(item.mask))
                    result.notes += item.notes
                    result.pairs += 1
                    del item
                _save_content_index(tmp, known)
        result.folder = dest
        return result


@dataclass
class AddedPairs:
    """What :meth:`Workspace.add_pairs` did. Unpacks as ``folder, written`` (the stems written)."""

    folder: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)     # one line each: which upload, and why
    notes: list[str] = field(default_factory=list)       # conversions the mask rule made, empty masks, ...

    def __iter__(self):
        return iter((self.folder, self.written))


@dataclass
class ImportedZip:
    """What :meth:`Workspace.import_zip` did. Unpacks as ``folder, pairs`` (the number of pairs imported)."""

    folder: Path
    pairs: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter((self.folder, self.pairs))


@dataclass
class _Prepared:
    fname: str
    stem: str
    image: "object"          # (H, W, 3) uint8
    mask: "object"           # (H, W) uint8 0/255
    image_hash: str
    mask_hash: str
    notes: list[str]


def _prepare_pair(fname: str, stem: str, img_bytes: bytes, mask_bytes: bytes,
                  mask_label: str | None = None) -> _Prepared:
    from ..files.pairs import load_pair

    pair = load_pair(img_bytes, mask_bytes, name=stem, image_label=f"{fname} (image)",
                     mask_label=f"{mask_label or fname} (mask)")
    return _Prepared(fname, stem, pair.image, pair.mask, _pixels_hash(pair.image), _pixels_hash(pair.mask),
                     pair.notes)


def _pixels_hash(array) -> str:  # noqa: ANN001 - a numpy array
    """sha256 of decoded pixels and their shape: equal for the same picture in any file format."""
    import hashlib

    h = hashlib.sha256(str(array.shape).encode())
    h.update(array.tobytes())
    return h.hexdigest()


def _skip_duplicate(item: _Prepared, known: dict[str, tuple[str, str]], result) -> bool:  # noqa: ANN001
    if item.image_hash not in known:
        return False
    other, mask_hash = known[item.image_hash]
    why = "and mask" if mask_hash == item.mask_hash else "but a different mask (one image has one mask)"
    result.skipped.append(f"{item.fname}: skipped: the same image {why} as {other!r}, already in the dataset")
    return True


CONTENT_INDEX = ".content.json"   # {image pixel hash: [stem, mask pixel hash]}, plus the files' stat keys


def _content_index(folder: Path) -> dict[str, tuple[str, str]]:
    """Pixel hashes of every pair in a dataset folder, from ``.content.json`` where it is still current (by
    file size and mtime), else by decoding the pair (pairs that no longer decode are left out)."""
    from ..files.bounded_json import read_json
    from ..files.pairs import find_pairs

    try:
        cached = read_json(folder / CONTENT_INDEX).get("pairs", {})
    except (InputError, AttributeError):
        cached = {}
    try:
        found = find_pairs(folder)
    except InputError:
        return {}
    index: dict[str, tuple[str, str]] = {}
    for stem, image, mask in found:
        key = [_stat_key(image), _stat_key(mask)]
        entry = cached.get(stem) if isinstance(cached, dict) else None
        if isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("image"), str):
            index[entry["image"]] = (stem, str(entry.get("mask")))
            continue
        try:
            item = _prepare_pair(image.name, stem, image.read_bytes(), mask.read_bytes())
        except (InputError, OSError):
            continue
        index[item.image_hash] = (stem, item.mask_hash)
    return index


def _save_content_index(folder: Path, index: dict[str, tuple[str, str]]) -> None:
    pairs = {}
    for image_hash, (stem, mask_hash) in index.items():
        files = [next((folder / sub / f"{stem}{ext}" for ext in IMAGE_SUFFIXES
                       if (folder / sub / f"{stem}{ext}").is_file()), None) for sub in ("images", "masks")]
        if all(files):
            pairs[stem] = {"image": image_hash, "mask": mask_hash, "key": [_stat_key(f) for f in files]}
    atomic_write_json(folder / CONTENT_INDEX, {"pairs": pairs})


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _png(array) -> bytes:  # noqa: ANN001 - a numpy array
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def check_size(what: str, nbytes: int, max_mb: float) -> None:
    if nbytes > max_mb * 1024 * 1024:
        raise InputError(f"{what} is {nbytes / 2**20:.1f} MB; uploads are limited to {max_mb:g} MB")
    if nbytes == 0:
        raise InputError(f"{what} is empty")


def _dirs(parent: Path) -> Iterable[Path]:
    if not parent.is_dir():
        return []
    return [p for p in parent.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
