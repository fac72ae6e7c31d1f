"""A run's weights as one safetensors file: what `python -m mgjax export` writes and what sampling and codecs load
without the Orbax run.

An export is a directory holding `model.safetensors` (and no `checkpoints/`), with the run's config.json, latent
statistics and tokenizer files beside it. Each tensor is named by its item and its path in the item's pure dict,
'/'-joined (`ema/backbone/blocks/0/attn/q/kernel`); the file's `__metadata__` says which items it holds, the step,
the config's name, the task and the mgjax version. Loading checks every name and shape against the model first and
places each array with the target's sharding, every device reading only its own slice of the memory-mapped file.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import numpy as np

from mgjax.checkpoint.orbax import checkpoint_dir, flat_names, shape_differences, summarize_differences
from mgjax.convert.safetensors import SafetensorsFile, read_metadata, save_file
from mgjax.errors import UserError
from mgjax.nn.params import path_keys

WEIGHTS = "model.safetensors"
FORMAT = "mgjax-weights-1"


def is_export(directory: str | pathlib.Path) -> bool:
    """Whether `directory` is a safetensors export (a training run, with checkpoints/, is not)."""
    directory = pathlib.Path(directory)
    return (directory / WEIGHTS).is_file() and not checkpoint_dir(directory).is_dir()


def mgjax_version() -> str:
    try:
        return importlib.metadata.version("mgjax")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def write_export(items: Mapping[str, Any], directory: str | pathlib.Path, metadata: Mapping[str, Any]) -> pathlib.Path:
    """Write `items` (name -> pure dict of arrays, kept in their dtypes) as DIRECTORY/model.safetensors; -> its path."""
    tensors: dict[str, Any] = {}
    for item, tree in items.items():
        tensors.update(flat_names(tree, item))
    meta = {"format": FORMAT, "items": ",".join(items), "mgjax_version": mgjax_version(), **metadata}
    path = pathlib.Path(directory) / WEIGHTS
    save_file(tensors, path, metadata={k: str(v) for k, v in meta.items()})
    return path


def export_metadata(directory: str | pathlib.Path) -> dict[str, str]:
    """The export's metadata (format, items, step, config, task, mgjax_version)."""
    return read_metadata(pathlib.Path(directory) / WEIGHTS)


def export_step(directory: str | pathlib.Path) -> int | None:
    step = export_metadata(directory).get("step")
    return int(step) if step is not None and step.isdigit() else None


def load_exported(target: Mapping[str, Any], directory: str | pathlib.Path,
                  items: Iterable[str] | None = None) -> dict[str, Any]:
    """`items` (default: every key of `target`) from DIRECTORY/model.safetensors onto the shapes, dtypes and shardings
    of `target` (item -> pure dict of arrays or ShapeDtypeStructs). A file that does not fit the model is one
    UserError naming the first differing arrays and their count; nothing is placed then."""
    directory = pathlib.Path(directory)
    items = list(target) if items is None else list(items)
    path = directory / WEIGHTS
    if not path.is_file():
        raise UserError(f"{str(path)!r} not found: export a run with `python -m mgjax export --config CONFIG "
                        f"--workdir RUN --out {directory}`")
    f = SafetensorsFile(path)
    saved_items = export_metadata(directory).get("items")
    saved_items = saved_items.split(",") if saved_items is not None else sorted({k.split("/")[0] for k in f})
    absent = [i for i in items if i not in saved_items and jax.tree.leaves(target[i])]
    if absent:
        raise UserError(f"export {str(directory)!r} holds {', '.join(saved_items) or 'nothing'}, not "
                        f"{', '.join(absent)}")
    want = {}
    for item in items:
        want.update({k: tuple(a.shape) for k, a in flat_names(target[item], item).items()})
    have = {k: f.shape(k) for k in f if k.split("/")[0] in items}
    differ = shape_differences(want, have)
    if differ:
        raise UserError(f"export {str(directory)!r} does not fit this model: {summarize_differences(differ)}; build "
                        f"the model with the export's config "
                        f"({str(directory / 'config.json')!r})")
    return {item: _place(target[item], f, item) for item in items}


def _place(tree, f: SafetensorsFile, item: str):
    def put(path, leaf):
        saved, dtype = f["/".join((item, *path_keys(path)))], np.dtype(leaf.dtype)
        sharding = getattr(leaf, "sharding", None)
        if sharding is None:
            return jax.device_put(np.array(saved, dtype))
        return jax.make_array_from_callback(tuple(leaf.shape), sharding, lambda idx: np.array(saved[idx], dtype))

    return jax.tree_util.tree_map_with_path(put, tree)
