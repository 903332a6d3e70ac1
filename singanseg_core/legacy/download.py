"""Fetch the authors' 1000 published SinGAN-Seg polyp models and import them (optional, needs internet).

The links are the ones the authors' package downloads (kept in ``pretrained_sources.json``): four model
archives ``TrainedModels_{1..4}_clean.zip`` and two archives of the real images and masks. Downloads resume
(HTTP Range) after an interruption, are checked (size, zip integrity) and extracted safely (no absolute
paths, no ``..``, no links or special files, a size cap against zip bombs), then imported with
:func:`singanseg_core.legacy.import_legacy`. Standard library only.

Layout under ``--dir D``::

    D/archives/<name>.zip(.part)   downloads (deleted after extraction unless keep_archives)
    D/legacy/                      the extracted published layout (TrainedModels_<k>_clean/, real_images/, ...)
    D/models/<id>/                 imported checkpoints (our safetensors format; or models_dir/<id>/)
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from ..errors import Cancelled, InputError
from ..files.atomic import atomic_write_json
from ..files.bounded_json import UnreadableJSONError, loads_bounded, read_json
from ..files.zip_entries import UnsafeArchiveError, check_entries, iter_entry
from .importer import ImportSummary, import_legacy

__all__ = [
    "ArchiveSource", "PretrainedSources", "UnsafeArchiveError", "PretrainedResult", "load_sources",
    "check_online", "download_file", "check_zip", "safe_extract", "download_pretrained",
]

ByteProgress = Callable[[str, int, "int | None"], "bool | None"]   # (file name, bytes done, bytes total)
ModelProgress = Callable[[int, int, str], "bool | None"]           # (models done, total, id)

USER_AGENT = "singanseg-studio (+https://pypi.org/project/singan-seg-polyp/ links)"
DEFAULT_MAX_EXTRACT_BYTES = 64 << 30       # per archive; the published ones are a few GiB each
DEFAULT_MAX_DOWNLOAD_BYTES = 16 << 30      # per archive, whether or not the server says how large it is
DISK_RESERVE_BYTES = 128 << 20            # never fill the disk: stop when less than this would stay free
DEFAULT_MAX_MEMBERS = 200_000
EXTRACTED_LOG = ".extracted.json"


@dataclass(frozen=True)
class ArchiveSource:
    """One downloadable zip: its URL and the top-level folder it holds."""

    url: str
    folder: str

    @property
    def filename(self) -> str:
        name = PurePosixPath(urllib.parse.urlparse(self.url).path).name
        return name if name.endswith(".zip") else f"{self.folder}.zip"


@dataclass
class PretrainedSources:
    """Model archives by part (``"1"`` .. ``"4"``) and real-data archives (``"images"``, ``"masks"``)."""

    models: dict[str, ArchiveSource]
    real_data: dict[str, ArchiveSource]
    origin: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PretrainedSources":
        def group(key: str) -> dict[str, ArchiveSource]:
            return {str(k): ArchiveSource(str(v["url"]).strip(), str(v["folder"])) for k, v in data[key].items()}

        try:
            return cls(group("models"), group("real_data"), str(data.get("origin", "")))
        except (KeyError, TypeError, AttributeError) as err:
            raise InputError(f"pretrained sources: missing or malformed entry ({err})") from None


def load_sources(path: str | os.PathLike | None = None) -> PretrainedSources:
    """The published links (package data ``pretrained_sources.json``), or another JSON file of the same shape."""
    if path is None:
        text = resources.files(__package__).joinpath("pretrained_sources.json").read_text()
    else:
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise InputError(f"{path}: cannot read sources file ({err.strerror or err})") from None
    try:
        return PretrainedSources.from_dict(loads_bounded(text, str(path or "pretrained_sources.json")))
    except UnreadableJSONError as err:
        raise InputError(str(err)) from None


def check_online(url: str, timeout: float = 5.0) -> None:
    """Fail fast (one TCP connect, ``timeout`` s) when ``url``'s host can't be reached.

    Raises:
        InputError: DNS failure, refused or timed-out connection.
    """
    parts = urllib.parse.urlparse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        raise InputError(f"cannot reach {host}:{port} ({err.__class__.__name__}: {err}); are you offline? "
                         "Download the archives on another machine and run `singanseg import-legacy` on the "
                         "extracted folder instead") from None


# ------------------------------------------------------------------------------------------------ download
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def download_file(url: str, dest: str | os.PathLike, progress: ByteProgress | None = None, timeout: float = 30.0,
                  retries: int = 5, retry_wait: float = 1.0, chunk_size: int = 1 << 20,
                  max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES, reserve_bytes: int = DISK_RESERVE_BYTES) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming with HTTP Range after interruptions.

    A transfer that ends early (dropped connection, timeout) is resumed from the bytes already on disk, up to
    ``retries`` times; an interrupted run leaves ``dest.part`` for the next call to resume. The final size must
    equal the server's announced size. The size is capped whether or not the server announces it: a file
    larger than ``max_bytes``, or one that would leave less than ``reserve_bytes`` free on the disk, is
    refused (before the transfer when the size is announced, as soon as it is passed otherwise) and its
    partial file deleted. The folder is locked while a download runs (``dest.part`` has a fixed name so
    that a later run can resume it; a second downloader is refused, not interleaved).

    Raises:
        InputError: HTTP errors, too large, disk full, or still incomplete after the retries.
        Cancelled: progress returned False.
    """
    import fcntl

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest.parent, os.O_RDONLY)  # flock on the folder itself: no lock file is left behind
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{dest.parent}: another download into this folder is running; wait for it to "
                             "finish") from None
        return _download(url, dest, progress, timeout, retries, retry_wait, chunk_size, max_bytes, reserve_bytes)
    finally:
        os.close(fd)


def _download(url: str, dest: Path, progress: ByteProgress | None, timeout: float, retries: int, retry_wait: float,
              chunk_size: int, max_bytes: int, reserve_bytes: int) -> Path:
    part = dest.with_name(dest.name + ".part")
    failures = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": USER_AGENT}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            _fetch(urllib.request.Request(url, headers=headers), part, have, dest.name, progress, timeout, chunk_size,
                   max_bytes, reserve_bytes)
        except urllib.error.HTTPError as err:
            if err.code == 416 and have:  # our partial file is unusable for this server: start over once
                part.unlink(missing_ok=True)
                failures += 1
                if failures <= retries:
                    continue
            raise InputError(f"{url}: HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
                socket.timeout, _ShortTransfer) as err:
            failures += 1
            if failures > retries:
                got = part.stat().st_size if part.exists() else 0
                raise InputError(f"{url}: download failed after {retries} retries "
                                 f"({getattr(err, 'reason', err)}); {got} bytes kept in {part}, "
                                 "run again to resume") from None
            time.sleep(retry_wait * failures)
            continue
        os.replace(part, dest)
        return dest


class _ShortTransfer(Exception):
    """The connection ended before the announced length (http.client returns b'' instead of raising)."""


def _fetch(request: urllib.request.Request, part: Path, have: int, name: str, progress: ByteProgress | None,
           timeout: float, chunk_size: int, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
           reserve_bytes: int = DISK_RESERVE_BYTES) -> None:
    """One HTTP request appending to / rewriting ``part``; raises _ShortTransfer if it ends early."""
    from ..files.atomic import disk_errors

    def too_large(size: int, known: bool) -> InputError:
        part.unlink(missing_ok=True)
        what = f"is {size} bytes" if known else f"sent more than {max_bytes} bytes without saying how many"
        return InputError(f"{request.full_url}: the file {what}; at most {max_bytes} are accepted "
                          "(pass a larger max_bytes if that is expected); the partial download was deleted")

    with urllib.request.urlopen(request, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        if have and resp.status == 206:
            m = _CONTENT_RANGE.fullmatch((resp.headers.get("Content-Range") or "").strip())
            if not m or int(m.group(1)) != have:
                raise _ShortTransfer(f"unexpected Content-Range {resp.headers.get('Content-Range')!r}")
            total = None if m.group(3) == "*" else int(m.group(3))
            mode, done = "ab", have
        else:  # 200: the server ignored Range (or nothing to resume): start from zero
            total = int(length) if length is not None and length.isdigit() else None
            mode, done = "wb", 0
        if total is not None and total > max_bytes:
            raise too_large(total, True)
        free = shutil.disk_usage(part.parent).free
        if total is not None and total - done > free - reserve_bytes:
            raise InputError(f"{request.full_url}: needs {total - done} more bytes but only {free} are free under "
                             f"{part.parent} (keeping {reserve_bytes} free); free some space and run again")
        with disk_errors(part), open(part, mode) as fh:
            while True:
                block = resp.read(chunk_size)
                if not block:
                    break
                if done + len(block) > max_bytes:
                    fh.close()
                    raise too_large(done + len(block), total is not None)
                if total is None and done // (64 << 20) != (done + len(block)) // (64 << 20) \
                        and shutil.disk_usage(part.parent).free - len(block) < reserve_bytes:
                    raise InputError(f"{request.full_url}: stopped at {done} bytes: less than {reserve_bytes} "
                                     f"bytes would stay free under {part.parent} ({part} kept)")
                fh.write(block)
                done += len(block)
                if progress is not None and progress(name, done, total) is False:
                    raise Cancelled(f"download of {name} cancelled at {done} bytes ({part} kept for resume)")
    if total is not None and done != total:
        raise _ShortTransfer(f"connection closed after {done} of {total} bytes")


# ------------------------------------------------------------------------------------------------ extraction
def check_zip(path: str | os.PathLike) -> None:
    """Raise InputError unless ``path`` is a complete zip whose members all pass their CRC check."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise InputError(f"{path}: not a complete zip archive ({err}); delete it and download again") from None
    if bad is not None:
        raise InputError(f"{path}: member {bad} fails its CRC check; delete the archive and download again")


def safe_extract(archive: str | os.PathLike, dest_dir: str | os.PathLike,
                 max_bytes: int = DEFAULT_MAX_EXTRACT_BYTES, max_members: int = DEFAULT_MAX_MEMBERS) -> list[str]:
    """Extract ``archive`` into ``dest_dir`` after vetting every entry; returns the top-level names written.

    Every entry is checked before anything is written; extraction goes to a temporary sibling and top-level
    entries are moved into place at the end, so a refused or failed archive leaves ``dest_dir`` unchanged.
    ``__MACOSX/`` resource-fork entries are skipped.

    Raises:
        UnsafeArchiveError: absolute/``..``/backslash paths, links, special or encrypted entries, more than
            ``max_members`` entries, or more than ``max_bytes`` uncompressed (declared or actual).
        InputError: not a readable zip.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"{archive}: not a readable zip archive ({err})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.filename.startswith("__MACOSX/")]
        declared = check_entries(infos, str(archive), max_members, max_bytes)
        dest_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(dest_dir).free
        if declared > free:
            raise InputError(f"{archive}: needs {declared} bytes, only {free} free under {dest_dir}")
        tmp = dest_dir / f".extract-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            budget = [max_bytes]
            for info in infos:
                target = tmp.joinpath(*[p for p in info.filename.split("/") if p not in ("", ".")])
                if not target.resolve().is_relative_to(tmp.resolve()):  # belt and braces after the name checks
                    raise UnsafeArchiveError(f"{archive}: refused entry {info.filename!r} (escapes the target)")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as out:
                    for block in iter_entry(zf, info, str(archive), budget):
                        out.write(block)
            tops = sorted(p.name for p in tmp.iterdir())
            for name in tops:
                final = dest_dir / name
                if final.exists():
                    if final.is_dir() and not final.is_symlink():
                        shutil.rmtree(final)
                    else:
                        final.unlink()
                os.replace(tmp / name, final)
            return tops
        except zipfile.BadZipFile as err:
            raise InputError(f"{archive}: corrupt member ({err})") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ all together
@dataclass
class PretrainedResult:
    """What :func:`download_pretrained` did: archives fetched/extracted and the import summary."""

    root: Path
    models_dir: Path
    downloaded: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    summary: ImportSummary | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"downloaded {len(self.downloaded)} archive(s), {len(self.already_present)} already present; "
               f"extracted into {self.root / 'legacy'}"]
        out += [f"  note: {n}" for n in self.notes]
        if self.summary is not None:
            out += self.summary.lines()
        return out


def _read_log(path: Path) -> dict[str, Any]:
    try:
        return read_json(path) if path.is_file() else {}
    except InputError:
        return {}


def download_pretrained(directory: str | os.PathLike, parts: list[int | str] | tuple = (1, 2, 3, 4),
                        real_data: bool = False, sources: PretrainedSources | None = None,
                        import_models: bool = True, keep_archives: bool = False, overwrite: bool = False,
                        progress: ByteProgress | None = None, import_progress: ModelProgress | None = None,
                        timeout: float = 30.0, retries: int = 5, retry_wait: float = 1.0,
                        max_extract_bytes: int = DEFAULT_MAX_EXTRACT_BYTES,
                        models_dir: str | os.PathLike | None = None,
                        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES) -> PretrainedResult:
    """Download, check, extract and import the published models into ``directory`` (see the module docstring).

    Archives already extracted (listed in ``legacy/.extracted.json``) are not fetched again; models already in
    ``models/`` are skipped by the import. Offline, it fails within ``~5 s`` with a clear message.

    Args:
        parts: which of the four model archives (1..4).
        real_data: also fetch ``real_images`` and ``real_masks`` (kept with each imported model).
        progress: ``progress(file, bytes_done, bytes_total)`` during downloads; return False to cancel.
        import_progress: ``import_progress(done, total, id)`` during the import; return False to cancel.
        models_dir: where the imported checkpoints go (default ``directory/models``; a workspace passes its
            ``checkpoints/``).
    Raises:
        InputError: unknown part, offline, HTTP failures, bad or unsafe archives. Cancelled.
    """
    sources = sources or load_sources()
    root = Path(directory)
    wanted: list[ArchiveSource] = []
    for p in parts:
        key = str(p)
        if key not in sources.models:
            raise InputError(f"unknown part {p!r}; choose from {', '.join(sorted(sources.models))}")
        wanted.append(sources.models[key])
    if real_data:
        wanted += [sources.real_data[k] for k in sorted(sources.real_data)]
    archives, legacy_dir = root / "archives", root / "legacy"
    log_path = legacy_dir / EXTRACTED_LOG
    done_log = _read_log(log_path)
    result = PretrainedResult(root=root, models_dir=Path(models_dir) if models_dir else root / "models")

    def extracted(s: ArchiveSource) -> bool:
        entry = done_log.get(s.filename)
        return isinstance(entry, dict) and all((legacy_dir / f).exists() for f in entry.get("folders", []))

    todo = [s for s in wanted if not extracted(s)]
    result.already_present = [s.filename for s in wanted if s not in todo]
    if any(not (archives / s.filename).exists() for s in todo):
        check_online(next(s.url for s in todo if not (archives / s.filename).exists()), timeout=min(timeout, 5.0))
    for src in todo:
        zip_path = archives / src.filename
        if not zip_path.exists():
            download_file(src.url, zip_path, progress=progress, timeout=timeout, retries=retries,
                          retry_wait=retry_wait, max_bytes=max_download_bytes)
            result.downloaded.append(src.filename)
        try:
            check_zip(zip_path)
            tops = safe_extract(zip_path, legacy_dir, max_bytes=max_extract_bytes)
        except UnsafeArchiveError:
            raise  # kept in archives/ for inspection; a rerun refuses it again
        except InputError:
            zip_path.unlink(missing_ok=True)  # a corrupt download must not block the next attempt
            raise
        if src.folder not in tops:  # the import walks all of legacy/, so another layout still works
            result.notes.append(f"{src.filename}: expected a top-level folder {src.folder}/, found "
                                f"{', '.join(tops) or 'nothing'}")
        result.extracted.append(src.filename)
        done_log[src.filename] = {"url": src.url, "folders": tops, "bytes": zip_path.stat().st_size}
        atomic_write_json(log_path, done_log)
        if not keep_archives:
            zip_path.unlink()
    if import_models and parts:  # every model under legacy/ (earlier parts too: already imported are skipped)
        result.summary = import_legacy(legacy_dir, result.models_dir, overwrite=overwrite, progress=import_progress)
    return result
