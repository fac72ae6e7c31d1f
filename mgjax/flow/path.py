"""The conditional optimal-transport path of flow matching (paper §3.1.2): t = 0 is noise, t = 1 is data.

X_t = t X_1 + (1 - (1 - sigma_min) t) X_0,   V_t = dX_t/dt = X_1 - (1 - sigma_min) X_0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _expand(t: jax.Array, ndim: int) -> jax.Array:
    return t.reshape(t.shape + (1,) * (ndim - t.ndim))


def interpolate(x0: jax.Array, x1: jax.Array, t: jax.Array, sigma_min: float) -> jax.Array:
    """x0: noise, x1: data, both (b, ...); t: (b,)."""
    t = _expand(t, x1.ndim)
    return t * x1 + (1.0 - (1.0 - sigma_min) * t) * x0


def velocity_target(x0: jax.Array, x1: jax.Array, sigma_min: float) -> jax.Array:
    return x1 - (1.0 - sigma_min) * x0
