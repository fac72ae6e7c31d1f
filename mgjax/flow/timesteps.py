"""Training-time t sampling: logit-normal(mean, std) as in SD3 and the paper, or uniform; optionally mixed with a
second logit-normal component near noise."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample_t(key: jax.Array, batch: int, kind: str = "logit_normal", mean: float = 0.0, std: float = 1.0,
             near_noise_prob: float = 0.0, near_noise_mean: float = -4.0, near_noise_std: float = 0.5) -> jax.Array:
    """(batch,) flow times in (0, 1). With `near_noise_prob` > 0 each t is, with that probability, drawn instead from
    logit-normal(near_noise_mean, near_noise_std) (by default t ~ 0.02, where the model must regress the caption's mean
    video from nothing but the prompt)."""
    if near_noise_prob > 0:
        k_base, k_near, k_pick = jax.random.split(key, 3)
        near = jax.nn.sigmoid(near_noise_mean + near_noise_std * jax.random.normal(k_near, (batch,), jnp.float32))
        return jnp.where(jax.random.bernoulli(k_pick, near_noise_prob, (batch,)), near, sample_t(k_base, batch, kind,
                                                                                                 mean, std))
    if kind == "logit_normal":
        return jax.nn.sigmoid(mean + std * jax.random.normal(key, (batch,), jnp.float32))
    if kind == "uniform":
        return jax.random.uniform(key, (batch,), jnp.float32)
    raise ValueError(f"unknown t sampling {kind!r}; valid: logit_normal, uniform")
