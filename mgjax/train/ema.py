"""Exponential moving average of the parameters; sampling uses the EMA weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def ema_decay_at(step: jax.Array, decay: float) -> jax.Array:
    """Warm the decay up, min(decay, (1 + step) / (10 + step)), so early EMA weights are not dominated by the init."""
    step = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def ema_update(ema, params, decay: jax.Array):
    return jax.tree.map(lambda e, p: e + (1.0 - decay) * (p.astype(e.dtype) - e), ema, params)
