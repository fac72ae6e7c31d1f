"""Copying checkpoint tensors into an NNX module by an explicit key map, with shape checks and exact errors.

A key map says, for every parameter of the module, which checkpoint key fills it and how (a transpose for a torch
Linear, say). Loading fails before anything is written when a parameter has no source, a source key is missing, a
shape differs, or the checkpoint holds keys nobody asked for (unless an `ignore` pattern names them, e.g. a T5
decoder when only the encoder is wanted).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Callable, Mapping, Sequence

import jax
import numpy as np
from flax import nnx

from mgjax.errors import UserError

log = logging.getLogger(__name__)
Path = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True)
class Source:
    key: str
    transform: Callable[[np.ndarray], np.ndarray] | None = None  # e.g. `linear_weight` for torch (out, in) kernels


def linear_weight(w: np.ndarray) -> np.ndarray:
    """torch Linear weight (out, in) -> NNX kernel (in, out)."""
    return np.transpose(w)


class Prefixed(Mapping[str, np.ndarray]):
    """A checkpoint seen with `prefix` added to every key: transformers 5 saves a lone CLIP tower without the
    `text_model.` / `vision_model.` prefix that version 4 and every combined model write."""

    def __init__(self, checkpoint: Mapping[str, np.ndarray], prefix: str):
        self.checkpoint, self.prefix = checkpoint, prefix

    def _inner(self, key: str) -> str:
        if not key.startswith(self.prefix):
            raise KeyError(key)
        return key[len(self.prefix):]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.checkpoint[self._inner(key)]

    def shape(self, key: str) -> tuple[int, ...]:
        inner = self._inner(key)
        get = getattr(self.checkpoint, "shape", None)
        return tuple(get(inner)) if get else tuple(self.checkpoint[inner].shape)

    def __iter__(self):
        return (self.prefix + k for k in self.checkpoint)

    def __len__(self) -> int:
        return len(self.checkpoint)

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key.startswith(self.prefix) and key[len(self.prefix):] in self.checkpoint


def with_prefix(checkpoint: Mapping[str, np.ndarray], prefix: str, probe: str) -> Mapping[str, np.ndarray]:
    """`checkpoint` as is when it holds `prefix + probe`, else viewed with `prefix` added."""
    if prefix + probe in checkpoint or probe not in checkpoint:
        return checkpoint
    return Prefixed(checkpoint, prefix)


def module_params(module: nnx.Module) -> dict[Path, nnx.Variable]:
    return {tuple(path): var for path, var in nnx.to_flat_state(nnx.state(module, nnx.Param))}


def _listing(keys: Sequence, limit: int = 8) -> str:
    keys = [".".join(map(str, k)) if isinstance(k, tuple) else k for k in keys]
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_key_map(module: nnx.Module, key_map: Mapping[Path, Source], checkpoint: Mapping[str, np.ndarray],
                  ignore: Sequence[str] = (), what: str = "checkpoint") -> tuple[dict[Path, nnx.Variable], dict]:
    """Every check, before any copy: returns the module's parameters by path, and the already converted arrays of
    sources with a custom transform (position interpolation, patch reshapes; small), whose shapes are only known
    after converting."""
    params = module_params(module)
    unmapped = [p for p in params if p not in key_map]
    if unmapped:  # a bug in the key map, not in the user's file
        raise ValueError(f"key map leaves parameters without a source: {_listing(unmapped)}")
    missing = sorted({s.key for s in key_map.values() if s.key not in checkpoint})
    if missing:
        raise UserError(f"{what} lacks {len(missing)} expected key(s): {_listing(missing)}")
    used = {s.key for s in key_map.values()}
    patterns = [re.compile(p) for p in ignore]
    unexpected = sorted(k for k in checkpoint if k not in used and not any(p.fullmatch(k) for p in patterns))
    if unexpected:
        raise UserError(f"{what} has {len(unexpected)} unexpected key(s): {_listing(unexpected)} (a different "
                        f"architecture or config?)")
    shape_of = getattr(checkpoint, "shape", None) or (lambda k: checkpoint[k].shape)  # headers only, when it can
    converted = {}
    for path, source in key_map.items():
        want = tuple(params[path].shape)
        if source.transform in (None, linear_weight):
            got = tuple(shape_of(source.key))
            if (got[::-1] if source.transform else got) != want:
                raise UserError(f"{what} key {source.key!r} has shape {got}, but {'.'.join(map(str, path))} needs "
                                f"{want}" + (" (transposed)" if source.transform else ""))
            continue
        converted[path] = source.transform(np.asarray(checkpoint[source.key]))
        if tuple(converted[path].shape) != want:
            raise UserError(f"{what} key {source.key!r} gives shape {converted[path].shape} after conversion, but "
                            f"{'.'.join(map(str, path))} needs {want}")
    return params, converted


def load_key_map(module: nnx.Module, key_map: Mapping[Path, Source], checkpoint: Mapping[str, np.ndarray],
                 ignore: Sequence[str] = (), what: str = "checkpoint") -> int:
    """Fill `module`'s parameters in place (each keeps its dtype and sharding); returns the number of values copied."""
    params, converted = check_key_map(module, key_map, checkpoint, ignore, what)
    count = 0
    for path, source in key_map.items():
        var = params[path]
        arr = converted.get(path)
        if arr is None:
            arr = np.asarray(checkpoint[source.key])
            arr = arr if source.transform is None else source.transform(arr)
        old = var[...]
        var[...] = jax.device_put(arr.astype(old.dtype), old.sharding)
        count += arr.size
    log.info("loaded %d parameters (%d tensors) from %s", count, len(key_map), what)
    return count
