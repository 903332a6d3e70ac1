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

The work of reading a file is bounded before it is done, by what a real checkpoint of this architecture can
need, so a hostile file costs little memory and time:

* a pickle is at most :data:`MAX_PICKLE_BYTES`; before it is unpickled, its opcodes are replayed without
  building anything (:func:`_prescan`) and it is refused if any object would nest deeper than
  :data:`MAX_DEPTH` or hold more than :data:`MAX_NODES` objects counted with repeats (a few hundred bytes of
  shared references, a "billion laughs", can otherwise stand for 10^20 objects that hashing or printing walks);
* storages are capped at :data:`MAX_STORAGE_BYTES` per file and tensor views at :data:`MAX_ELEMENTS_PER_FILE`
  elements *before* anything is allocated or read;
* the loaded structure is walked once more within the same budget (lists filled after they were referenced);
* error messages show untrusted values only through :func:`_short` (bounded size and depth).

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

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "MAX_PICKLE_BYTES", "MAX_STORAGE_BYTES", "PickledModule",
           "RefusedGlobalError", "restricted_load"]

# What the largest real legacy checkpoint can need: at most 16 scales (min_size 25 px, scale factor >= 0.75,
# finest side <= 1024 px), generators of <= 128 channels (3x3, 5 layers: ~0.46 M weights per scale, so Gs.pth
# < 8 M elements) and a real pyramid of 4 x 1024 x 1024 px at the finest scale (reals.pth and Zs.pth < 10 M
# elements). Every bound below is about 3x that, so a real file always passes and a hostile one costs at most
# a few hundred MB: peak memory of reading one file <= MAX_STORAGE_BYTES (raw storages) + 4 B x
# MAX_ELEMENTS_PER_FILE (the float32 copies the importer makes) + what a MAX_PICKLE_BYTES pickle can build.
MAX_SCALES = 64
MAX_STORAGE_BYTES = 128 << 20          # raw tensor bytes one file may declare (read nothing beyond)
MAX_ELEMENTS_PER_FILE = 32 << 20       # tensor elements one file may rebuild (stride-0 views could claim TBs)
MAX_FILE_BYTES = MAX_STORAGE_BYTES + (8 << 20)   # a .pth file: storages + pickle + container
MAX_PICKLE_BYTES = 1 << 20             # one pickle (data.pkl); real ones: 40 KB for 5 scales, < 200 KB for 16
MAX_DEPTH = 48                         # object nesting; a real Gs.pth nests about 15 deep
MAX_NODES = 200_000                    # objects reachable, counted with repeats; a real Gs.pth: ~10 k
MAX_STORAGES = 20_000                  # storages one file may declare; a real Gs.pth: ~50 per scale
MAX_TENSOR_DIMS = 8

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


def _short(obj: Any, limit: int = 80) -> str:
    """A bounded description of an untrusted value for an error message: never renders it whole (a shared
    nested list can stand for 10^20 elements, a nested one for 200 000 levels, an int for a million digits)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 2, 4, 4, 4, 4
    r.maxstring, r.maxother, r.maxlong = limit, limit, 40
    try:
        text = r.repr(obj)
    except Exception:  # noqa: BLE001 - a hostile object may fail to render in any way
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class RefusedGlobalError(CheckpointError):
    """The pickle names a global outside the allow-list; nothing was imported or run."""

    def __init__(self, where: Any, global_name: str) -> None:
        self.global_name = global_name
        super().__init__(f"{where}: refused: the pickle asks for {_short(global_name)}, which is not on the allow-list "
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
        self.storage_bytes = 0

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
                raise CheckpointError(f"{self.where}: module reference to {_short(pid[1])}")
            return pid[1]
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"{self.where}: unexpected persistent id {_short(pid)}")
        storage_type, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self.where}: persistent id names {_short(storage_type)}, not a storage type")
        if not (isinstance(key, str) and len(key) <= 64 or isinstance(key, int) and 0 <= key < 1 << 62):
            raise CheckpointError(f"{self.where}: storage key {_short(key)} is not a short name")
        key = str(key)
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise CheckpointError(f"{self.where}: storage {key} has an invalid size {_short(numel)}")
        if self.read_storage is None:
            raise CheckpointError(f"{self.where}: unexpected storage reference in a plain pickle")
        if key not in self.storages:
            nbytes = numel * torch.empty((), dtype=storage_type.dtype).element_size()
            self.storage_bytes += nbytes
            if self.storage_bytes > MAX_STORAGE_BYTES or len(self.storages) >= MAX_STORAGES:
                raise CheckpointError(f"{self.where}: declares more than {MAX_STORAGE_BYTES >> 20} MiB of tensors "
                                      f"(or {MAX_STORAGES} storages), more than any SinGAN checkpoint holds; refused "
                                      "before reading them")
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
                raise CheckpointError(f"{self.where}: bad storage view {_short(view)}") from None
            return _Storage(flat, storage.buffer)
        return storage

    # -- tensors ---------------------------------------------------------------------------------
    def _rebuild_tensor(self, storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
        if not isinstance(storage, _Storage):
            raise CheckpointError(f"{self.where}: tensor rebuilt from a {type(storage).__name__}, not a storage")
        ok = (isinstance(storage_offset, int) and storage_offset >= 0
              and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
              and len(size) <= MAX_TENSOR_DIMS
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (*size, *stride)))
        if not ok:
            raise CheckpointError(f"{self.where}: invalid tensor geometry size={_short(size)} "
                                  f"stride={_short(stride)}")
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
            result = self.load()
        except CheckpointError:
            raise
        except Exception as err:  # pickle raises many types on malformed input  # noqa: BLE001
            raise CheckpointError(f"{self.where}: unreadable pickle ({err.__class__.__name__}: "
                                  f"{_short(str(err), 160)})") from None
        _check_structure(result, self.where)
        return result


def _prescan(data: bytes, where: Any) -> int:
    """Replay the opcodes of the pickle at the start of ``data`` on a stack of (size, depth) records, building
    nothing, and refuse it when an object would nest deeper than :data:`MAX_DEPTH` or stand for more than
    :data:`MAX_NODES` objects counted with repeats (sizes and depths add up exactly for tuples and frozensets,
    the objects unpickling hashes: a shared nested tuple used as a dict key would hang hashing in C).
    Returns the length of the pickle in bytes (up to and including STOP).
    """
    import pickletools

    mark = object()
    stack: list[Any] = []
    memo: dict[Any, Any] = {}
    inplace = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"}

    def pop_to_mark() -> list:
        items = []
        while True:
            item = stack.pop()
            if item is mark:
                return items
            items.append(item)

    try:
        for op, arg, pos in pickletools.genops(data):
            name = op.name
            if name == "STOP":
                return pos + 1
            if name == "MARK":
                stack.append(mark)
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name == "DUP":
                stack.append(stack[-1])
            elif name == "POP":
                stack.pop()
            elif name == "POP_MARK":
                pop_to_mark()
            else:
                popped: list = []
                for so in reversed(op.stack_before):
                    if so is pickletools.stackslice:
                        popped += pop_to_mark()
                    elif so is not pickletools.markobject:
                        popped.append(stack.pop())
                children = [c for c in popped if c is not mark]
                if name in inplace:  # the container is the deepest item taken; it grows in place
                    node, children = children[-1], children[:-1]
                else:
                    node = [1, 1] if op.stack_after else None
                if node is not None:
                    if children:
                        node[0] = min(node[0] + sum(c[0] for c in children), MAX_NODES + 1)
                        node[1] = max(node[1], 1 + max(c[1] for c in children))
                    if node[0] > MAX_NODES or node[1] > MAX_DEPTH:
                        raise CheckpointError(f"{where}: the pickle builds an object of more than {MAX_NODES} "
                                              f"parts or nested deeper than {MAX_DEPTH} (near byte {pos}); no SinGAN "
                                              "checkpoint does; refused unread")
                    stack.extend([node] * len(op.stack_after))
    except CheckpointError:
        raise
    except (IndexError, KeyError, ValueError, TypeError) as err:
        raise CheckpointError(f"{where}: unreadable pickle (truncated or malformed: {type(err).__name__}: "
                              f"{_short(str(err), 100)})") from None
    raise CheckpointError(f"{where}: unreadable pickle (it does not end: truncated, or longer than "
                          f"{MAX_PICKLE_BYTES} bytes)")


def _check_structure(obj: Any, where: Any) -> None:
    """Walk what was unpickled once, without recursion, within :data:`MAX_NODES` visits and
    :data:`MAX_DEPTH` levels (lists filled after they were referenced escape :func:`_prescan`'s count)."""
    todo: list[tuple[Any, int]] = [(obj, 1)]
    visits = 0
    while todo:
        item, depth = todo.pop()
        visits += 1
        if visits > MAX_NODES or depth > MAX_DEPTH:
            raise CheckpointError(f"{where}: the pickle holds a structure of more than {MAX_NODES} parts or nested "
                                  f"deeper than {MAX_DEPTH}; no SinGAN checkpoint does; refused")
        if isinstance(item, PickledModule):
            todo.append((item.state, depth + 1))
        elif isinstance(item, dict):
            todo.extend((v, depth + 1) for kv in item.items() for v in kv)
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend((v, depth + 1) for v in item)


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
        nbytes = numel * torch.empty((), dtype=dtype).element_size()  # <= MAX_STORAGE_BYTES (persistent_load)
        raw = read_record(f"{prefix}data/{key}", nbytes)
        if len(raw) != nbytes:
            raise CheckpointError(f"{where}: storage {key} holds {len(raw)} bytes, expected {nbytes} "
                                  "(truncated or corrupt file)")
        buf = bytearray(raw)
        return _Storage(_flat_from_bytes(buf, dtype, big_endian), buf)

    big_endian = f"{prefix}byteorder" in infos and read_record(f"{prefix}byteorder", 16).strip() == b"big"
    pkl = read_record(pickles[0], MAX_PICKLE_BYTES)
    _prescan(pkl, where)
    return _RestrictedUnpickler(io.BytesIO(pkl), where, read_storage).load_checked()


def _read_legacy_stream(data: bytes, where: Any) -> Any:
    """torch < 1.6 container: five pickles in a row, then ``int64 numel`` + raw bytes per storage."""
    stream = io.BytesIO(data)

    def next_pickle(read_storage: Callable | None = None) -> tuple[Any, _RestrictedUnpickler]:
        start = stream.tell()  # each pickle continues on the stream; it is checked, then read from a window
        length = _prescan(data[start:start + MAX_PICKLE_BYTES], where)
        unpickler = _RestrictedUnpickler(io.BytesIO(data[start:start + length]), where, read_storage)
        result = unpickler.load_checked()
        stream.seek(start + length)
        return result, unpickler

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
        if len(data) > MAX_FILE_BYTES:
            raise CheckpointError(f"{where}: {len(data)} bytes is too large for a SinGAN checkpoint")
    else:
        path = Path(source)
        where = where or path
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CheckpointError(f"{path}: {path.stat().st_size} bytes is too large for a SinGAN checkpoint "
                                  f"(at most {MAX_FILE_BYTES >> 20} MiB)")
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
