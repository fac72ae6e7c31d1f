"""safetensors files read with numpy memory maps: bf16 included (via ml_dtypes), one tensor at a time, no torch.

A checkpoint is a `.safetensors` file, a directory holding `model.safetensors`, or a sharded directory with
`model.safetensors.index.json` (as Hugging Face writes large models such as UL2). Pickle formats (.bin, .pt, .pth,
.ckpt) are refused: loading them runs arbitrary code.
"""

from __future__ import annotations

import json
import math
import pathlib
import struct
from typing import Iterator, Mapping

import ml_dtypes
import numpy as np

from mgjax.errors import UserError

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
INDEX = "model.safetensors.index.json"


def read_header(path: pathlib.Path, keep_metadata: bool = False) -> tuple[dict, int]:
    """(tensor entries, byte offset where the data starts); `keep_metadata`: with the `__metadata__` entry."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise UserError(f"{str(path)!r} is not a safetensors file (too short)")
        (n,) = struct.unpack("<Q", head)
        if n > 100_000_000:
            raise UserError(f"{str(path)!r} is not a safetensors file (header length {n})")
        header = json.loads(f.read(n))
    if not keep_metadata:
        header.pop("__metadata__", None)
    return header, 8 + n


def read_metadata(path: str | pathlib.Path) -> dict[str, str]:
    """The file's `__metadata__` (string to string; empty when it has none)."""
    return dict(read_header(pathlib.Path(path), keep_metadata=True)[0].get("__metadata__") or {})


class SafetensorsFile(Mapping[str, np.ndarray]):
    """One file as a read-only mapping key -> array (a view of a memory map; copy it to keep it past the file)."""

    def __init__(self, path: str | pathlib.Path):
        self.path = pathlib.Path(path)
        self.entries, self.data_start = read_header(self.path)
        self._map = np.memmap(self.path, dtype=np.uint8, mode="r")

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.entries[key]["shape"])

    def __getitem__(self, key: str) -> np.ndarray:
        e = self.entries[key]
        if e["dtype"] not in DTYPES:
            raise UserError(f"{key!r} in {str(self.path)!r} has unsupported dtype {e['dtype']}")
        start, end = e["data_offsets"]
        raw = self._map[self.data_start + start: self.data_start + end]
        return raw.view(DTYPES[e["dtype"]]).reshape(e["shape"])

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


class Checkpoint(Mapping[str, np.ndarray]):
    """All tensors of a (possibly sharded) checkpoint as one mapping; files open lazily."""

    def __init__(self, path: str | pathlib.Path):
        path = pathlib.Path(path)
        if path.suffix in PICKLE_SUFFIXES:
            raise UserError(f"{str(path)!r} is a pickle checkpoint; mgjax never loads pickle. Convert it to "
                            f"safetensors first (e.g. `safetensors.torch.save_file(torch.load(f), out)` in a "
                            f"trusted environment)")
        if path.is_dir():
            if (path / INDEX).is_file():
                weight_map = json.loads((path / INDEX).read_text())["weight_map"]
                self.files = {name: path / name for name in sorted(set(weight_map.values()))}
                self.key_file = dict(weight_map)
            elif (path / "model.safetensors").is_file():
                self.files = {"model.safetensors": path / "model.safetensors"}
                self.key_file = None
            else:
                found = sorted(p.name for p in path.iterdir())[:8]
                raise UserError(f"no model.safetensors or {INDEX} in {str(path)!r} (found: {found})")
        elif path.is_file():
            self.files = {path.name: path}
            self.key_file = None
        else:
            raise UserError(f"checkpoint {str(path)!r} not found")
        self.path = path
        self._open: dict[str, SafetensorsFile] = {}
        if self.key_file is None:
            self.key_file = {k: name for name in self.files for k in self._file(name).entries}

    def _file(self, name: str) -> SafetensorsFile:
        if name not in self._open:
            if not self.files[name].is_file():
                raise UserError(f"checkpoint shard {str(self.files[name])!r} (named in the index) is missing")
            self._open[name] = SafetensorsFile(self.files[name])
        return self._open[name]

    def shape(self, key: str) -> tuple[int, ...]:
        return self._file(self.key_file[key]).shape(key)

    def __getitem__(self, key: str) -> np.ndarray:
        return self._file(self.key_file[key])[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.key_file)

    def __len__(self) -> int:
        return len(self.key_file)


def save_file(tensors: Mapping[str, np.ndarray], path: str | pathlib.Path, metadata: dict[str, str] | None = None):
    """Write `tensors` as one safetensors file (keys sorted, 8-byte aligned data), atomically. Values need only
    `shape` and `dtype` until written (numpy or JAX arrays): each is brought to the host one at a time, so a large
    model is never held twice in host memory."""
    path = pathlib.Path(path)
    header, offset, keys = {}, 0, sorted(tensors)
    for key in keys:
        dtype = np.dtype(tensors[key].dtype)
        if dtype not in CODES:
            raise ValueError(f"{key!r}: dtype {dtype} cannot be stored in safetensors")
        size = math.prod(tensors[key].shape) * dtype.itemsize
        header[key] = {"dtype": CODES[dtype], "shape": list(tensors[key].shape),
                       "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for key in keys:
            arr = np.ascontiguousarray(np.asarray(tensors[key]))
            assert arr.nbytes == header[key]["data_offsets"][1] - header[key]["data_offsets"][0], key
            f.write(arr.reshape(-1).view(np.uint8).data)
    tmp.replace(path)
