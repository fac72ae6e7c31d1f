"""Activation sharding constraints and batch placement, resolved from logical names through a rule set."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from mgjax.parallel.rules import Rules, logical_to_spec


def constrain(x: jax.Array, logical: Sequence[str | None], rules: Rules) -> jax.Array:
    """`with_sharding_constraint` by logical names; a no-op when no mesh is set (plain single-device code)."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or mesh.size == 1:
        return x
    spec = logical_to_spec(logical, rules)
    spec = P(*[fit_axes(dim, s, mesh) for dim, s in zip(x.shape, spec)])
    return jax.lax.with_sharding_constraint(x, spec)


def fit_axes(dim: int, axes, mesh) -> str | tuple[str, ...] | None:
    """Drop mesh axes that do not divide a dimension (e.g. a batch of 1 when sampling on many devices)."""
    if axes is None:
        return None
    flat = (axes,) if isinstance(axes, str) else tuple(axes)
    kept, size = [], 1
    for a in flat:
        if dim % (size * mesh.shape[a]) == 0:
            kept.append(a)
            size *= mesh.shape[a]
    return None if not kept else kept[0] if len(kept) == 1 else tuple(kept)


def batch_sharding(mesh: jax.sharding.Mesh, ndim: int, rules: Rules, batch_size: int) -> NamedSharding:
    """Shard the leading (batch) dimension by the `batch` rule, replicate the rest."""
    spec = logical_to_spec(("batch",) + (None,) * (ndim - 1), rules)
    return NamedSharding(mesh, P(*[fit_axes(batch_size, spec[0], mesh)] + [None] * (ndim - 1)))


def put_batch(batch, mesh: jax.sharding.Mesh, rules: Rules, process_local: bool = False):
    """Place a host batch pytree as global arrays, sharding every leaf's leading (batch) dimension.

    process_local=False: every process holds the same whole batch (Moving Shapes, cached latents). True: each process
    holds its own slice of the global batch (a real-data pipeline reads disjoint shards per host), and the global
    array is assembled from the slices in process order."""
    if process_local:
        def put(v):
            v = np.asarray(v)
            global_shape = (v.shape[0] * jax.process_count(),) + v.shape[1:]
            sharding = batch_sharding(mesh, v.ndim, rules, global_shape[0])
            return jax.make_array_from_process_local_data(sharding, v, global_shape)

        return jax.tree.map(put, batch)
    return jax.tree.map(lambda v: jax.device_put(v, batch_sharding(mesh, np.ndim(v), rules, np.shape(v)[0])), batch)
