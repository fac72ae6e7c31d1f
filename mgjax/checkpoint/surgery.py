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
from mgjax.nn.params import path_keys

Path = tuple[str, ...]


def parse_run(spec: str) -> tuple[pathlib.Path, int | None]:
    """"DIR" or "DIR:STEP"."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit():
        return pathlib.Path(head), int(tail)
    return pathlib.Path(spec), None


def transplant(parent: Mapping[Path, jax.Array], child: Mapping[str, Any], widen: Mapping[Path, int],
               where: str) -> dict[str, Any]:
    """`child` ({item: pytree of arrays}, e.g. trainable `params` and frozen `rest`) with every parameter taken from
    `parent` ({module path: array}); see the module docstring for the rules. Paths are module paths, whatever item
    holds them, so a part the parent trained and the child freezes (or the reverse) still carries over. `widen` maps a
    module path to the axis along which the child's parameter may be larger than the parent's."""
    have = {key for tree in child.values() for key in _flat(tree)}
    extra = [p for p in parent if p not in have]
    if extra:
        raise UserError(f"{where} has {len(extra)} parameters this model lacks (e.g. {_name(extra[0])}); a child "
                        f"may add modules but not drop them")
    return {item: _transplant_tree(parent, tree, widen, where) for item, tree in child.items()}


def _transplant_tree(parent, tree, widen, where):
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    out = []
    for path, value in leaves:
        key = path_keys(path)
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


def read_parent(spec: str, items: tuple[str, ...], child: Mapping[str, Any], mesh) -> dict[Path, jax.Array]:
    """The parent run's weights as flat {module path: array}, from the first of `items` its checkpoint has plus every
    later one it has (e.g. ("ema", "params") then "rest"), each placed like the child's parameter of the same path and
    shape (so a model too large for one device restores sharded), replicated otherwise."""
    directory, step = parse_run(spec)
    ckpt = open_existing(directory)
    child_flat = {key: leaf for tree in child.values() for key, leaf in _flat(tree).items()}

    def target(path, meta):
        mine = child_flat.get(path_keys(path))
        sharding = (mine.sharding if mine is not None and tuple(mine.shape) == tuple(meta.shape)
                    else NamedSharding(mesh, P()))
        return jax.ShapeDtypeStruct(tuple(meta.shape), meta.dtype, sharding=sharding)

    out: dict[Path, jax.Array] = {}
    try:
        step = ckpt.latest_step() if step is None else step
        for group in items:
            names = (group,) if isinstance(group, str) else group
            found = [(n, m) for n in names if (m := ckpt.item_metadata(n, step)) is not None][:1]
            for name, metadata in found:
                abstract = jax.tree_util.tree_map_with_path(target, metadata)
                out.update(_flat(ckpt.restore({name: abstract}, items=(name,), step=step)[name]))
    finally:
        ckpt.close()
    if not out:
        raise UserError(f"train.init_from={spec}: step {step} holds none of the weights {items}")
    return out


def _flat(tree) -> dict[Path, Any]:
    return {path_keys(path): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _name(path: Path) -> str:
    return ".".join(path)
