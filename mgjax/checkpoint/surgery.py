"""Weight surgery: start a run from a parent run's weights (paper: Edit and PT2V from the text-to-video model, the
upsampler from a text-to-image model).

Every parameter the parent has is copied; a parameter the child widened along a declared axis (the patchify kernel's
input channels, when conditioning channels are added) gets the parent's values in its leading slice and zeros in the
rest; parameters only the child has (new conditioning modules) keep their initialisation, which is zero for every
conditioning input. Any other difference is a one-line error naming the parameter.
"""

from __future__ import annotations

import pathlib
from typing import Any, Mapping

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P

from mgjax.checkpoint.orbax import open_existing
from mgjax.errors import UserError

Path = tuple[str, ...]


def parse_run(spec: str) -> tuple[pathlib.Path, int | None]:
    """"DIR" or "DIR:STEP"."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit():
        return pathlib.Path(head), int(tail)
    return pathlib.Path(spec), None


def _flat(tree) -> dict[Path, Any]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {tuple(str(getattr(k, "key", getattr(k, "idx", k))) for k in path): leaf for path, leaf in leaves}


def _name(path: Path) -> str:
    return ".".join(path)


def transplant(parent: Mapping[Path, jax.Array], child: Any, widen: Mapping[Path, int], where: str) -> Any:
    """`child` (a pytree of arrays) with every parameter taken from `parent` (flat {path: array}); see the module
    docstring for the rules. `widen` maps a child path to the axis along which it may be larger than the parent's."""
    child_flat = _flat(child)
    extra = [p for p in parent if p not in child_flat]
    if extra:
        raise UserError(f"{where} has {len(extra)} parameters this model lacks (e.g. {_name(extra[0])}); a child "
                        f"may add modules but not drop them")
    leaves, treedef = jax.tree_util.tree_flatten_with_path(child)
    out = []
    for (path, value), key in zip(leaves, child_flat):
        if key not in parent:
            out.append(value)  # a new module: its own (zero) initialisation
            continue
        old = parent[key]
        if old.shape == value.shape:
            out.append(jnp.asarray(old, value.dtype))
            continue
        axis = widen.get(key)
        axis = None if axis is None else axis % value.ndim
        same_elsewhere = axis is not None and len(old.shape) == value.ndim and all(
            a == b for i, (a, b) in enumerate(zip(old.shape, value.shape)) if i != axis)
        if not same_elsewhere or old.shape[axis] > value.shape[axis]:
            raise UserError(f"{where}: parameter {_name(key)} has shape {tuple(old.shape)} there but "
                            f"{tuple(value.shape)} here, which weight surgery cannot explain (only a widened "
                            f"patchify input can differ); check model.* against the parent's config")
        index = tuple(slice(0, old.shape[axis]) if i == axis else slice(None) for i in range(value.ndim))
        out.append(jnp.zeros_like(value).at[index].set(jnp.asarray(old, value.dtype)))
    return jax.tree_util.tree_unflatten(treedef, out)


def read_parent(spec: str, item: str, child: Any, mesh) -> dict[Path, jax.Array]:
    """The parent run's checkpoint item as flat {path: array}, each placed like the child's parameter of the same
    path and shape (so a model too large for one device restores sharded), replicated otherwise."""
    directory, step = parse_run(spec)
    ckpt = open_existing(directory)
    try:
        step = ckpt.latest_step() if step is None else step
        metadata = ckpt.item_metadata(item, step)
        if metadata is None:
            raise UserError(f"train.init_from={spec}: step {step} has no {item!r} weights")
        child_flat = _flat(child)

        def target(path, meta):
            key = tuple(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
            mine = child_flat.get(key)
            sharding = (mine.sharding if mine is not None and tuple(mine.shape) == tuple(meta.shape)
                        else NamedSharding(mesh, P()))
            return jax.ShapeDtypeStruct(tuple(meta.shape), meta.dtype, sharding=sharding)

        abstract = jax.tree_util.tree_map_with_path(target, metadata)
        restored = ckpt.restore({item: abstract}, items=(item,), step=step)[item]
    finally:
        ckpt.close()
    return _flat(restored)
