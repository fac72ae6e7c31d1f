"""Skipping an update whose loss or gradient is not finite (a bad batch, an overflow): the weights, optimizer moments
and EMA keep their old values, the step still advances (the next batch belongs to the next step), and the skip is
reported as the metric "skipped" (the loop logs the running count as train/skipped_updates)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def is_finite(loss: jax.Array, grad_norm: jax.Array) -> jax.Array:
    return jnp.isfinite(loss) & jnp.isfinite(grad_norm)


def keep_if(finite: jax.Array, new, old):
    """`new` where the update is finite, else `old`, leaf by leaf (pytrees of the same structure)."""
    return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)


def skipped(finite: jax.Array) -> jax.Array:
    return 1.0 - finite.astype(jnp.float32)
