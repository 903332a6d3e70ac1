"""The one zip-entry rule (``files.zip_entries``) as both zip readers apply it, and the bounded memory of
``Workspace.import_zip`` (pairs streamed one at a time)."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from singanseg_core.errors import InputError
from singanseg_core.files.zip_entries import UnsafeArchiveError, check_entries, entry_problem, read_entry
from singanseg_core.legacy.download import safe_extract
from singanseg_core.services.workspace import IMPORT_PEAK_PAIRS, Workspace
from tests.helpers import make_zip


def _encrypted(entries: dict[str, bytes], secret: str) -> bytes:
    """A zip whose ``secret`` entry carries the "encrypted" flag bit (what an encrypting zip tool sets)."""
    data = bytearray(make_zip(entries, compression=zipfile.ZIP_STORED))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(secret)
    local, name = info.header_offset, secret.encode()  # the flag bits sit at byte 6 (local), 8 (central)
    data[local + 6] |= 0x1                                   # local header's flag bits
    for pos in _all(bytes(data), b"PK\x01\x02"):              # the central record naming the entry
        n = int.from_bytes(data[pos + 28:pos + 30], "little")
        if bytes(data[pos + 46:pos + 46 + n]) == name:
            data[pos + 8] |= 0x1
    return bytes(data)


def _all(data: bytes, sig: bytes) -> list[int]:
    out, i = [], data.find(sig)
    while i >= 0:
        out.append(i)
        i = data.find(sig, i + 1)
    return out


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_entry_problem_names_each_refusal() -> None:
    def info(name: str, mode: int = 0o100644) -> zipfile.ZipInfo:
        i = zipfile.ZipInfo(name)
        i.external_attr = mode << 16
        return i

    assert entry_problem(info("images/a.png")) is None
    assert entry_problem(info("../a")) == "unsafe path ('..')"
    assert entry_problem(info("/etc/a")) == entry_problem(info("C:/a")) == "unsafe path (absolute)"
    assert entry_problem(info("a\\b")) == "unsafe path (backslash)"
    assert entry_problem(info("l", 0o120777)) == "symbolic link"
    assert entry_problem(info("fifo", 0o010644)) == "special file"
    locked = info("x")
    locked.flag_bits |= 0x1
    assert entry_problem(locked) == "encrypted entry"


def test_both_readers_refuse_an_encrypted_entry(tmp_path: Path) -> None:
    """Once only the legacy download refused encrypted entries; the dataset import now does too."""
    img = _png(np.zeros((8, 8, 3), np.uint8))
    mask = _png(np.zeros((8, 8), np.uint8))
    data = _encrypted({"images/a.png": img, "masks/a.png": mask}, "masks/a.png")
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(UnsafeArchiveError, match=r"^the zip: refused entry 'masks/a.png' \(encrypted entry\)"):
        ws.import_zip(data, "locked")
    assert ws.list_datasets() == []
    archive = tmp_path / "locked.zip"
    archive.write_bytes(data)
    with pytest.raises(UnsafeArchiveError, match=r"refused entry 'masks/a.png' \(encrypted entry\)"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_caps_on_count_and_declared_size() -> None:
    zf = zipfile.ZipFile(io.BytesIO(make_zip({f"f{i}": b"x" * 10 for i in range(5)})))
    with pytest.raises(UnsafeArchiveError, match=r"^z: 5 entries, more than the cap of 4"):
        check_entries(zf.infolist(), "z", max_entries=4, max_bytes=10**6)
    with pytest.raises(UnsafeArchiveError, match=r"^z: 50 bytes uncompressed, more than the cap of 49 \(zip bomb\?\)"):
        check_entries(zf.infolist(), "z", max_entries=5, max_bytes=49)
    assert check_entries(zf.infolist(), "z", max_entries=5, max_bytes=50) == 50


def test_read_entry_stops_at_the_archive_budget() -> None:
    """The budget is spent across entries: the declared-size check is not the only bound."""
    zf = zipfile.ZipFile(io.BytesIO(make_zip({"a": bytes(3 << 20), "b": bytes(3 << 20)})))
    budget = [5 << 20]
    assert len(read_entry(zf, zf.getinfo("a"), "z", budget)) == 3 << 20
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        read_entry(zf, zf.getinfo("b"), "z", budget)


def _flat_pairs_zip(pairs: int, side: int) -> bytes:
    """The hostile case: large flat pictures, a few KB compressed per pair."""
    entries = {}
    for i in range(pairs):
        mask = np.zeros((side, side), np.uint8)
        mask[i * 10:i * 10 + 100, 100:200] = 255
        entries[f"images/p{i}.png"] = _png(np.full((side, side, 3), 100 + i, np.uint8))
        entries[f"masks/p{i}.png"] = _png(mask)
    return make_zip(entries)


def _import_peak(tmp: Path, data: bytes) -> tuple[int, int]:
    """(pairs imported, peak bytes traced while importing ``data``); numpy's buffers are traced."""
    ws = Workspace(tmp)
    tracemalloc.start()
    try:
        _, n = ws.import_zip(data, "flat")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return n, peak


def test_import_zip_memory_does_not_grow_with_the_pairs(tmp_path: Path) -> None:
    """Six 1600 x 1600 pairs (10 MB decoded each) in a zip of a few hundred KB: the peak is the stated bound
    (IMPORT_PEAK_PAIRS pairs' bytes) and no more than importing one pair (plus one pair's bytes of slack).
    Holding every decoded pair until the end, as import_zip once did, peaks at twice the one-pair import."""
    side = 1600
    pair_bytes = side * side * 4
    data = _flat_pairs_zip(6, side)
    assert len(data) < 400_000
    n1, one = _import_peak(tmp_path / "one", _flat_pairs_zip(1, side))
    n6, six = _import_peak(tmp_path / "six", data)
    assert (n1, n6) == (1, 6)
    assert six < IMPORT_PEAK_PAIRS * pair_bytes, f"peak {six / 2**20:.1f} MB, pairs of {pair_bytes / 2**20:.1f} MB"
    assert six < one + pair_bytes, f"six pairs {six / 2**20:.1f} MB vs one pair {one / 2**20:.1f} MB"


def test_refused_pair_late_in_the_zip_imports_nothing(tmp_path: Path) -> None:
    """Streaming writes earlier pairs before a later one is refused; the dataset still never appears."""
    good = _png(np.full((16, 16, 3), 90, np.uint8))
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 255
    data = make_zip({"images/a.png": good, "masks/a.png": _png(mask),
                     "images/b.png": good[:40], "masks/b.png": _png(mask)})
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InputError, match="b.png"):
        ws.import_zip(data, "half")
    assert ws.list_datasets() == []
    assert not any(p.name.startswith(".") for p in ws.datasets.iterdir())
