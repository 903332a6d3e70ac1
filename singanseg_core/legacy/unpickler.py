"""Import the authors' published SinGAN-Seg checkpoints without executing anything they contain.

The original code saves ``Gs.pth`` (a list of whole ``nn.Module`` generators), ``Zs.pth`` (reconstruction
noise), ``reals.pth`` (the real pyramid) and ``NoiseAmp.pth`` with ``torch.save``. Loading such a file the
usual way imports and runs whatever the pickle names. Here a restricted unpickler resolves only an
allow-list of names, and each of them to something inert:

* the SinGAN generator classes (under ``SinGAN.models`` and ``singan_seg_polyp.SinGAN.models``) and the
  ``torch.nn`` layer classes become :class:`PickledModule` records that only keep their pickled state;
* ``torch.<Type>Storage`` names become dtype markers, and the storage bytes are read from the container by
  this module;
* ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` are re-implemented here with
  ``torch.frombuffer`` + ``as_strided`` (the real torch functions are never called through the pickle);
* ``collections.OrderedDict`` and ``set`` are the plain containers.

Any other global refuses the file (:class:`RefusedGlobalError` names it). Both torch containers are read:
the zip archive (torch ≥ 1.6: ``<name>/data.pkl`` + ``<name>/data/<key>``) and the legacy stream
(magic number, protocol, sys_info, pickle, storage keys, raw storages). The pre-0.4 tar container is not.

What the files hold becomes a model in :mod:`.importer`.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np
import torch

from ..errors import CheckpointError

__all__ = ["MAX_FILE_BYTES", "PickledModule", "RefusedGlobalError", "restricted_load"]

MAX_FILE_BYTES = 2 << 30           # refuse single .pth files above 2 GiB
MAX_SCALES = 64
MAX_ELEMENTS_PER_FILE = 1 << 28    # tensor elements one file may rebuild (stride-0 views could claim terabytes)

_GENERATOR_NAMES = ("GeneratorConcatSkip2CleanAdd",)
_SINGAN_MODULES = ("SinGAN.models", "singan_seg_polyp.SinGAN.models")
GENERATOR_CLASSES = frozenset(f"{m}.{c}" for m in _SINGAN_MODULES for c in _GENERATOR_NAMES)
MODULE_CLASSES = GENERATOR_CLASSES | frozenset(f"{m}.ConvBlock" for m in _SINGAN_MODULES) | frozenset({
    "torch.nn.modules.conv.Conv2d",
    "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.activation.LeakyReLU",
    "torch.nn.modules.activation.Tanh",
    "torch.nn.modules.container.Sequential",
})
STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "UntypedStorage": torch.uint8,
}
_STORAGE_MODULES = ("torch", "torch.cuda", "torch.storage")
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class RefusedGlobalError(CheckpointError):
    """The pickle names a global outside the allow-list; nothing was imported or run."""

    def __init__(self, where: Any, global_name: str) -> None:
        self.global_name = global_name
        super().__init__(f"{where}: refused: the pickle asks for {global_name!r}, which is not on the allow-list "
                         "(legacy checkpoints may only hold SinGAN generators, torch.nn layers and tensors)")


class PickledModule:
    """Inert stand-in for an allow-listed ``nn.Module`` class: keeps the pickled ``__dict__`` and nothing else."""

    qualname: str = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "PickledModule":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise CheckpointError(f"pickled module {self.qualname} has a {type(state).__name__} state, expected a dict")
        self.state = state

    def __repr__(self) -> str:
        return f"PickledModule({self.qualname})"


_RECORD_CLASSES: dict[str, type[PickledModule]] = {
    name: type(name.rsplit(".", 1)[1], (PickledModule,), {"qualname": name, "__module__": __name__})
    for name in sorted(MODULE_CLASSES)
}


@dataclass(frozen=True)
class _StorageType:
    """Marker returned for ``torch.FloatStorage`` & co.: only carries the dtype."""

    name: str
    dtype: torch.dtype


@dataclass
class _Storage:
    """A storage read from the container: a flat tensor over a private, writable buffer."""

    flat: torch.Tensor
    buffer: bytearray


def _flat_from_bytes(buffer: bytearray, dtype: torch.dtype, big_endian: bool = False) -> torch.Tensor:
    itemsize = torch.empty((), dtype=dtype).element_size()
    if big_endian and itemsize > 1:
        swapped = np.frombuffer(buffer, np.uint8).reshape(-1, itemsize)[:, ::-1].tobytes()
        buffer[:] = swapped
    if not buffer:
        return torch.empty(0, dtype=dtype)
    return torch.frombuffer(buffer, dtype=dtype)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; storages come from ``read_storage(key, dtype, numel)``."""

    def __init__(self, file: IO[bytes], where: Any,
                 read_storage: Callable[[str, torch.dtype, int], _Storage] | None = None) -> None:
        super().__init__(file)
        self.where = where
        self.read_storage = read_storage
        self.storages: dict[str, _Storage] = {}
        self.storage_keys: list[str] = []
        self.elements = 0

    # -- globals ---------------------------------------------------------------------------------
    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        if full == "collections.OrderedDict":
            return collections.OrderedDict
        if full in ("builtins.set", "__builtin__.set"):  # protocol 2 spells builtins "__builtin__"
            return set
        if full in _RECORD_CLASSES:
            return _RECORD_CLASSES[full]
        if module in _STORAGE_MODULES and name in STORAGE_DTYPES:
            return _StorageType(full, STORAGE_DTYPES[name])
        if module == "torch._utils":
            rebuild = {"_rebuild_tensor_v2": self._rebuild_tensor_v2, "_rebuild_tensor": self._rebuild_tensor,
                       "_rebuild_parameter": self._rebuild_parameter,
                       "_rebuild_parameter_with_state": self._rebuild_parameter_with_state}.get(name)
            if rebuild is not None:
                return rebuild
        raise RefusedGlobalError(self.where, full)

    # -- storages --------------------------------------------------------------------------------
    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] == "module":
            # Legacy container: nn.Module classes go by reference (class, source file, source text); the class
            # itself came through find_class, so it is one of our records. The source text is ignored.
            if not (isinstance(pid[1], type) and issubclass(pid[1], PickledModule)):
                raise CheckpointError(f"{self.where}: module reference to {pid[1]!r}")
            return pid[1]
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"{self.where}: unexpected persistent id {str(pid)[:80]}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self.where}: persistent id names {storage_type!r}, not a storage type")
        if not isinstance(numel, int) or numel < 0:
            raise CheckpointError(f"{self.where}: storage {key} has an invalid size {numel!r}")
        if self.read_storage is None:
            raise CheckpointError(f"{self.where}: unexpected storage reference in a plain pickle")
        if key not in self.storages:
            self.storages[key] = self.read_storage(key, storage_type.dtype, numel)
            self.storage_keys.append(key)
        storage = self.storages[key]
        if storage.flat.dtype != storage_type.dtype:
            raise CheckpointError(f"{self.where}: storage {key} is used with two dtypes")
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy container only: (view_key, offset, size) into the root storage
            try:
                _, offset, size = view
                flat = storage.flat[int(offset):int(offset) + int(size)]
            except (TypeError, ValueError):
                raise CheckpointError(f"{self.where}: bad storage view {str(view)[:80]}") from None
            return _Storage(flat, storage.buffer)
        return storage

    # -- tensors ---------------------------------------------------------------------------------
    def _rebuild_tensor(self, storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
        if not isinstance(storage, _Storage):
            raise CheckpointError(f"{self.where}: tensor rebuilt from a {type(storage).__name__}, not a storage")
        ok = (isinstance(storage_offset, int) and storage_offset >= 0
              and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
              and all(isinstance(v, int) and v >= 0 for v in (*size, *stride)))
        if not ok:
            raise CheckpointError(f"{self.where}: invalid tensor geometry size={size!r} stride={stride!r}")
        numel = storage.flat.numel()
        self.elements += int(np.prod(size, dtype=np.float64))
        if self.elements > MAX_ELEMENTS_PER_FILE:
            raise CheckpointError(f"{self.where}: tensors with more than {MAX_ELEMENTS_PER_FILE} elements in all; "
                                  "far more than a SinGAN checkpoint holds")
        if any(s == 0 for s in size):
            return torch.empty(size, dtype=storage.flat.dtype)
        last = storage_offset + sum((n - 1) * st for n, st in zip(size, stride, strict=True))
        if last >= numel:
            raise CheckpointError(f"{self.where}: tensor of size {tuple(size)} reaches element {last} of a storage "
                                  f"with {numel} (truncated or corrupt file)")
        # as_strided's offset counts from the start of the underlying buffer, a legacy view may start later
        return storage.flat.as_strided(size, stride, storage.flat.storage_offset() + storage_offset)

    def _rebuild_tensor_v2(self, storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                           backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
        return self._rebuild_tensor(storage, storage_offset, size, stride)

    def _rebuild_parameter(self, data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> torch.Tensor:
        if not isinstance(data, torch.Tensor):
            raise CheckpointError(f"{self.where}: parameter rebuilt from a {type(data).__name__}, not a tensor")
        return data

    def _rebuild_parameter_with_state(self, data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                                      state: Any = None) -> torch.Tensor:
        return self._rebuild_parameter(data)

    def load_checked(self) -> Any:
        try:
            return self.load()
        except CheckpointError:
            raise
        except Exception as err:  # pickle raises many types on malformed input
            raise CheckpointError(f"{self.where}: unreadable pickle ({err.__class__.__name__}: {err})") from None


def _read_zip(data: bytes, where: Any) -> Any:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = zf.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        raise CheckpointError(f"{where}: not a readable torch zip archive, truncated or corrupt ({err})") from None
    pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{where}: zip archive without exactly one <name>/data.pkl (found {len(pickles)})")
    prefix = pickles[0][: -len("data.pkl")]
    infos = {i.filename: i for i in zf.infolist()}
    def read_record(name: str, limit: int) -> bytes:
        info = infos.get(name)
        if info is None:
            raise CheckpointError(f"{where}: archive member {name} is missing (truncated or corrupt file)")
        if info.file_size > limit:
            raise CheckpointError(f"{where}: archive member {name} is {info.file_size} bytes, expected ≤ {limit}")
        try:
            return zf.read(name)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as err:
            raise CheckpointError(f"{where}: archive member {name} is unreadable ({err})") from None

    def read_storage(key: str, dtype: torch.dtype, numel: int) -> _Storage:
        nbytes = numel * torch.empty((), dtype=dtype).element_size()
        raw = read_record(f"{prefix}data/{key}", nbytes)
        if len(raw) != nbytes:
            raise CheckpointError(f"{where}: storage {key} holds {len(raw)} bytes, expected {nbytes} "
                                  "(truncated or corrupt file)")
        buf = bytearray(raw)
        return _Storage(_flat_from_bytes(buf, dtype, big_endian), buf)

    big_endian = f"{prefix}byteorder" in infos and read_record(f"{prefix}byteorder", 16).strip() == b"big"
    pkl = read_record(pickles[0], MAX_FILE_BYTES)
    return _RestrictedUnpickler(io.BytesIO(pkl), where, read_storage).load_checked()


def _read_legacy_stream(data: bytes, where: Any) -> Any:
    """torch < 1.6 container: five pickles in a row, then ``int64 numel`` + raw bytes per storage."""
    stream = io.BytesIO(data)

    def next_pickle(read_storage: Callable | None = None) -> tuple[Any, _RestrictedUnpickler]:
        unpickler = _RestrictedUnpickler(stream, where, read_storage)  # each pickle continues on the stream
        return unpickler.load_checked(), unpickler

    magic, _ = next_pickle()
    protocol, _ = next_pickle()
    sys_info, _ = next_pickle()
    if magic != _LEGACY_MAGIC or protocol != _LEGACY_PROTOCOL or not isinstance(sys_info, dict):
        raise CheckpointError(f"{where}: not a torch checkpoint (bad magic number or protocol)")
    big_endian = not sys_info.get("little_endian", True)
    budget = [len(data)]

    def new_storage(key: str, dtype: torch.dtype, numel: int) -> _Storage:
        # Storages are filled after the main pickle; never allocate more than the file could hold.
        nbytes = numel * torch.empty((), dtype=dtype).element_size()
        budget[0] -= nbytes
        if budget[0] < 0:
            raise CheckpointError(f"{where}: storages declare more bytes than the file holds (corrupt file)")
        buf = bytearray(nbytes)
        return _Storage(torch.frombuffer(buf, dtype=dtype) if nbytes else torch.empty(0, dtype=dtype), buf)

    result, unpickler = next_pickle(new_storage)
    keys, _ = next_pickle()
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(unpickler.storage_keys):
        raise CheckpointError(f"{where}: the storage key list does not match the pickle (corrupt file)")
    for key in map(str, keys):
        storage = unpickler.storages[key]
        head = stream.read(8)
        if len(head) != 8:
            raise CheckpointError(f"{where}: file ends before storage {key} (truncated file)")
        (numel,) = struct.unpack("<q" if not big_endian else ">q", head)
        itemsize = storage.flat.element_size()
        if numel * itemsize != len(storage.buffer):
            raise CheckpointError(f"{where}: storage {key} has {numel} elements on disk, the pickle says "
                                  f"{len(storage.buffer) // max(itemsize, 1)}")
        raw = stream.read(len(storage.buffer))
        if len(raw) != len(storage.buffer):
            raise CheckpointError(f"{where}: file ends inside storage {key} (truncated file)")
        storage.buffer[:] = raw  # in place: the tensors built during unpickling are views of this buffer
        if big_endian and itemsize > 1:
            storage.buffer[:] = np.frombuffer(raw, np.uint8).reshape(-1, itemsize)[:, ::-1].tobytes()
    return result


def restricted_load(source: str | os.PathLike | bytes, where: Any = None) -> Any:
    """Unpickle a ``torch.save`` file through the allow-list; never runs code named by the file.

    Args:
        source: a path, or the file's bytes.
    Returns:
        Plain Python containers, ``torch.Tensor`` (CPU, dtype as saved) and :class:`PickledModule` records.
    Raises:
        RefusedGlobalError: a global outside the allow-list.
        CheckpointError: missing, truncated or corrupt files, or the unsupported pre-0.4 tar container.
    """
    if isinstance(source, (bytes, bytearray)):
        data, where = bytes(source), where or "<bytes>"
    else:
        path = Path(source)
        where = where or path
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CheckpointError(f"{path}: {path.stat().st_size} bytes is too large for a SinGAN checkpoint")
        data = path.read_bytes()
    if not data:
        raise CheckpointError(f"{where}: empty file")
    if data[:4] == b"PK\x03\x04" or zipfile.is_zipfile(io.BytesIO(data)):
        return _read_zip(data, where)
    if data[:1] == b"\x80":  # a pickle protocol opcode: the legacy stream starts with the pickled magic number
        return _read_legacy_stream(data, where)
    if len(data) > 262 and data[257:262] == b"ustar":
        raise CheckpointError(f"{where}: pre-0.4 torch tar checkpoints are not supported")
    raise CheckpointError(f"{where}: not a torch checkpoint (neither a zip archive nor a legacy torch stream)")
