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


def velocity_from_data(x1_hat: jax.Array, xt: jax.Array, t: jax.Array, sigma_min: float,
                       min_denominator: float = 0.05) -> jax.Array:
    """The velocity implied by a prediction of the data X_1: X_0 = (X_t - t X_1) / (1 - (1 - sigma_min) t).

    The denominator is floored (as in JiT, Li & He 2025) so the implied velocity stays bounded as t -> 1.
    """
    t = _expand(t, xt.ndim)
    x0_hat = (xt - t * x1_hat) / jnp.maximum(1.0 - (1.0 - sigma_min) * t, min_denominator)
    return x1_hat - (1.0 - sigma_min) * x0_hat


def model_velocity(output: jax.Array, xt: jax.Array, t: jax.Array, prediction: str, sigma_min: float) -> jax.Array:
    """The network's output read as a velocity (the paper) or as the data (pixel-space runs; see FlowConfig)."""
    if prediction == "velocity":
        return output
    if prediction == "data":
        return velocity_from_data(output.astype(jnp.float32), xt.astype(jnp.float32), t, sigma_min)
    raise ValueError(f"unknown prediction {prediction!r}; valid: velocity, data")
