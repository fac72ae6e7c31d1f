"""The reference kernel: plain XLA einsums with an fp32 softmax. Runs everywhere; every other kernel is tested
against it."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def kv_length_mask(kv_lengths: jax.Array, num_keys: int) -> jax.Array:
    """(b,) valid key counts -> (b, 1, 1, k) boolean mask; keys at positions >= length are padding."""
    return (jnp.arange(num_keys)[None, :] < kv_lengths[:, None])[:, None, None, :]


def attention_weights(q: jax.Array, k: jax.Array, *, bias: jax.Array | None = None,
                      kv_lengths: jax.Array | None = None, scale: float | None = None,
                      causal: bool = False) -> jax.Array:
    """The fp32 softmax weights (b, h, n, m) of `attend_xla` (also what diagnostics inspect)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    logits = jnp.einsum("bnhd,bmhd->bhnm", q, k, preferred_element_type=jnp.float32) * scale
    if bias is not None:
        logits = logits + bias.astype(jnp.float32)
    if kv_lengths is not None:
        logits = jnp.where(kv_length_mask(kv_lengths, k.shape[1]), logits, jnp.finfo(jnp.float32).min)
    if causal:
        allowed = jnp.arange(k.shape[1])[None, :] <= jnp.arange(q.shape[1])[:, None]
        logits = jnp.where(allowed, logits, jnp.finfo(jnp.float32).min)
    return jax.nn.softmax(logits, axis=-1)


def attend_xla(q: jax.Array, k: jax.Array, v: jax.Array, *, bias: jax.Array | None = None,
               kv_lengths: jax.Array | None = None, scale: float | None = None, causal: bool = False) -> jax.Array:
    """q: (b, n, h, d); k, v: (b, m, h, d); bias: broadcastable to (b, h, n, m); kv_lengths: (b,) -> (b, n, h, d).
    causal: query i sees keys j <= i (CLIP's text tower)."""
    weights = attention_weights(q, k, bias=bias, kv_lengths=kv_lengths, scale=scale, causal=causal)
    return jnp.einsum("bhnm,bmhd->bnhd", weights.astype(v.dtype), v)
