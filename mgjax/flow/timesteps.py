"""Training-time t sampling: logit-normal(mean, std) as in SD3 and the paper, or uniform."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample_t(key: jax.Array, batch: int, kind: str = "logit_normal", mean: float = 0.0, std: float = 1.0) -> jax.Array:
    """(batch,) flow times in (0, 1)."""
    if kind == "logit_normal":
        return jax.nn.sigmoid(mean + std * jax.random.normal(key, (batch,), jnp.float32))
    if kind == "uniform":
        return jax.random.uniform(key, (batch,), jnp.float32)
    raise ValueError(f"unknown t sampling {kind!r}; valid: logit_normal, uniform")
