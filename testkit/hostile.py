"""Hostile and broken inputs, built in code (shared by the hardening tests and ``bench/bench_reliability.py``).

Nothing here is a fixture file: every probe is made from a few bytes, so what it tests is visible.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from testkit.shared_data import LEGACY_FILES, LEGACY_MODEL_DIR


# ---------------------------------------------------------------------------------------------- pickles
def torch_zip(pickle_bytes: bytes, storages: dict[str, bytes] | None = None, compress: bool = True) -> bytes:
    """A torch ≥ 1.6 style zip container: ``archive/data.pkl`` (+ ``archive/data/<key>``)."""
    buf = io.BytesIO()
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", mode) as zf:
        zf.writestr("archive/data.pkl", pickle_bytes)
        zf.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            zf.writestr(f"archive/data/{key}", data)
    return buf.getvalue()


def laughs_body(levels: int = 20, fan: int = 10, tuples: bool = False) -> bytes:
    """Pickle opcodes leaving one object on the stack: ``levels`` nested lists (or tuples), each holding ``fan``
    references to the one below: ~10 bytes per level stand for ``fan ** levels`` elements when walked."""
    body = bytearray(b")q\x00" if tuples else b"]q\x00")            # EMPTY_TUPLE/EMPTY_LIST, BINPUT 0
    for k in range(levels):
        body += b"0("                                              # POP the previous level, MARK
        body += (b"h" + bytes([k])) * fan                          # BINGET k, fan times
        body += (b"t" if tuples else b"l") + b"q" + bytes([k + 1])  # TUPLE/LIST, BINPUT k+1
    return bytes(body)


def billion_laughs() -> bytes:
    """The issue's 497-byte probe: a shared nested list of 10^20 elements when rendered."""
    return b"\x80\x02" + laughs_body() + b"."


def noise_amps(entry_body: bytes) -> bytes:
    """A ``NoiseAmp.pth`` pickle: ``[1, 1, 1, 1, <entry>]`` with the given opcodes as the last entry."""
    return b"\x80\x02](K\x01K\x01K\x01K\x01" + entry_body + b"e."


def deep_list_body(depth: int = 200_000) -> bytes:
    return b"]" * depth + b"a" * (depth - 1)


def hash_bomb_body() -> bytes:
    """``{laughs_tuple: None}``: hashing the key walks 10^20 tuples in C (a hang no signal interrupts)."""
    return b"}" + laughs_body(tuples=True) + b"Ns"


def tensor_pickle(numel: int, size: tuple[int, ...], stride: tuple[int, ...]) -> bytes:
    """The pickle ``torch.save`` writes for ``[tensor]``: one float32 storage of ``numel`` elements (key ``"0"``)
    viewed with ``size`` / ``stride``; built with the standard pickler, nothing imported from the file."""
    import collections
    import pickle

    import torch

    storage = object()

    class Tensor:
        def __reduce__(self):  # noqa: ANN204
            return (torch._utils._rebuild_tensor_v2, (storage, 0, size, stride, False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):  # noqa: ANN001, ANN202
            return ("storage", torch.FloatStorage, "0", "cpu", numel) if obj is storage else None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump([Tensor()])
    return buf.getvalue()


def inflated_storage(declared_bytes: int = 1 << 30) -> bytes:
    """A ``Zs.pth`` whose one storage declares ``declared_bytes`` (float32) and whose zip member really holds
    that many zero bytes, deflated: a ~1 MB file (for 1 GiB) that costs GBs if storages are read as declared."""
    import zlib

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("archive/data.pkl", tensor_pickle(declared_bytes // 4, (declared_bytes // 4,), (1,)))
        zf.writestr("archive/byteorder", "little")
        info = zipfile.ZipInfo("archive/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as out:
            block = bytes(1 << 24)
            for _ in range(declared_bytes // len(block)):
                out.write(block)
    del zlib
    return buf.getvalue()


def stride0_view(side: int = 16_000) -> bytes:
    """A ``reals.pth`` of a few hundred bytes: one float viewed as ``(1, 1, side, side)`` with stride 0 (no copy
    when read; ``side**2`` floats when the importer makes it contiguous: 1 GB for 16 000)."""
    return torch_zip(tensor_pickle(1, (1, 1, side, side), (0, 0, 0, 0)), {"0": bytes(4)})


def legacy_model(folder: Path, replace: dict[str, bytes] | None = None) -> Path:
    """A copy of the legacy fixture model in ``folder`` with some of its four files replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in LEGACY_FILES:
        data = (replace or {}).get(name)
        if data is None:
            shutil.copyfile(LEGACY_MODEL_DIR / name, folder / name)
        else:
            (folder / name).write_bytes(data)
    return folder


# ---------------------------------------------------------------------------------------------- checkpoints
def tamper_config(checkpoint: Path, change) -> Path:  # noqa: ANN001 - dict -> dict | any JSON value
    """Rewrite ``checkpoint/config.json`` through ``change(config_dict)`` (NaN allowed, as a hostile file may)."""
    cfg = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps(change(cfg), allow_nan=True))
    return checkpoint


def nan_weights(checkpoint: Path) -> Path:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(checkpoint / "model.safetensors"))
    key = next(k for k in tensors if k.startswith("generators.0.") and tensors[k].is_floating_point())
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[0] = float("nan")
    save_file(tensors, str(checkpoint / "model.safetensors"))
    return checkpoint


# ---------------------------------------------------------------------------------------------- images
def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG") if mode else Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def square_mask(h: int = 48, w: int = 64) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[h // 4:3 * h // 4, w // 4:3 * w // 4] = 255
    return m


def textured_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def textured_dataset(data: Path, n: int = 6, side: int = 40) -> Path:
    """``data`` as a Kvasir-SEG folder of ``n`` seeded noise images (``p<i>.png``, side × side) with square masks."""
    for sub in ("images", "masks"):
        (data / sub).mkdir(parents=True)
    for i in range(n):
        Image.fromarray(textured_image(side, side, i)).save(data / "images" / f"p{i}.png")
        Image.fromarray(square_mask(side, side)).save(data / "masks" / f"p{i}.png")
    return data


def bad_masks(h: int = 48, w: int = 64) -> dict[str, np.ndarray]:
    """Masks the mask rule refuses: colours that cannot be told apart, a photo, a multi-class label image."""
    m = square_mask(h, w) > 0
    navy = np.zeros((h, w, 3), np.uint8)
    navy[:] = (0, 0, 128)
    navy[m] = (220, 0, 0)
    photo = np.asarray(Image.fromarray(textured_image(h, w)).convert("L").resize((w, h)))
    photo = np.clip(photo.astype(np.int64) // 3 + 85, 0, 255).astype(np.uint8)  # mid-grey everywhere
    labels = (np.arange(h * w).reshape(h, w) % 3).astype(np.uint8)
    return {"red-on-navy": navy, "photo": photo, "3-class labels": labels}


def exif_rotated_jpeg(upright: np.ndarray) -> bytes:
    """A JPEG whose stored pixels are ``upright`` turned 90° clockwise, with EXIF orientation 8 ("rotate 90° to
    view"), as phones write: a viewer that applies EXIF shows ``upright``."""
    stored = np.ascontiguousarray(np.rot90(upright, k=-1))
    exif = Image.Exif()
    exif[0x0112] = 8
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def decompression_bomb_png(side: int = 30_000) -> bytes:
    """A small PNG (~100 KB) that claims ``side`` x ``side`` 1-bit pixels, written chunk by chunk (building it
    through PIL would itself need ``side**2`` bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (side + 7) // 8)          # filter byte + packed bits, all zero
    deflate = zlib.compressobj(9)
    body = b"".join(deflate.compress(row) for _ in range(side)) + deflate.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------- jobs
# A worker whose task hangs in C where neither a progress callback nor a Python signal handler ever runs (a read
# that never returns, SIGTERM blocked in that thread), like the legacy import stuck inside one C call.
STUCK_WORKER = """
import dataclasses, os, signal, sys
from singanseg_core.services import job_tasks, jobs

def hang(ctx):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    ctx.log("stuck")
    r, w = os.pipe()
    os.read(r, 1)  # nothing is ever written

job_tasks.TASKS["import-legacy"] = dataclasses.replace(job_tasks.TASKS["import-legacy"], run=hang)
sys.exit(jobs.run_job(sys.argv[1]))
"""


# ---------------------------------------------------------------------------------------------- disk full
@contextmanager
def disk_budget(monkeypatch_or_none, budget_bytes: int, only: str | None = None,  # noqa: ANN001
                armed: bool = True) -> Iterator[dict]:
    """Make every file opened through ``os.fdopen`` (all atomic writes: ``files.atomic``) fail with ENOSPC once
    ``budget_bytes`` in all were written, or, with ``only``, every write to a file whose name contains ``only``.
    The patch holds for the ``with`` block only (``monkeypatch_or_none`` is accepted for symmetry, unused).
    Yields a dict with ``written`` (bytes), ``refused`` (writes refused) and ``armed`` (set it to False to let
    writes through, True to start refusing)."""
    state = {"written": 0, "refused": 0, "armed": armed}
    real_fdopen = os.fdopen

    class Capped(io.RawIOBase):
        def __init__(self, fh, name: str) -> None:  # noqa: ANN001
            self.fh, self.name_ = fh, name

        def write(self, data) -> int:  # noqa: ANN001
            n = len(data)
            over = (only is not None and only in self.name_) or (only is None and state["written"] + n > budget_bytes)
            if over and state["armed"]:
                state["refused"] += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.name_)
            state["written"] += n
            return self.fh.write(data)

        def writable(self) -> bool:
            return True

        def flush(self) -> None:
            if not self.fh.closed:
                self.fh.flush()

        def fileno(self) -> int:
            return self.fh.fileno()

        def close(self) -> None:
            if not self.closed:
                self.fh.close()
                super().close()

    def fdopen(fd, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        fh = real_fdopen(fd, mode, *args, **kwargs)
        if "w" not in mode and "a" not in mode:
            return fh
        name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else str(fd)
        return Capped(fh, name)

    os.fdopen = fdopen  # restored when the block ends (not only when the test ends)
    try:
        yield state
    finally:
        os.fdopen = real_fdopen
