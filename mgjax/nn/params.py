"""Creating a parameter with logical axis names (sharded eagerly under the active mesh and rules)."""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.parallel.rules import resolve


def path_keys(path) -> tuple[str, ...]:
    """A pytree key path (from `jax.tree_util.tree_flatten_with_path`) as strings: how checkpoints, exports, weight
    surgery and optimizer-state placement name a parameter (`("backbone", "blocks", "0", "mlp", "w1", "kernel")`)."""
    return tuple(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def param(init: Callable, shape: Sequence[int], axes: Sequence[str | None], *, key: jax.Array | None = None,
          dtype=jnp.float32) -> nnx.Param:
    """`axes` has one logical name per dimension; constant initialisers may pass no key."""
    key = jax.random.key(0) if key is None else key
    return nnx.Param(init(key, tuple(shape), dtype), out_sharding=resolve(tuple(axes)))


def partitioned(init: Callable, axes: Sequence[str | None]) -> Callable:
    """An initializer for NNX layers (Linear, Conv, Embed) whose parameter shards by the active rules."""
    return nnx.with_partitioning(init, resolve(tuple(axes)))
