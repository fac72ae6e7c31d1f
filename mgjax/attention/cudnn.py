"""cuDNN fused (flash) attention on NVIDIA GPUs through `jax.nn.dot_product_attention`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

SUPPORTED_DTYPES = (jnp.bfloat16, jnp.float16)


def supports(q: jax.Array, bias: jax.Array | None) -> bool:
    """cuDNN's flash kernel needs half-precision inputs and head dims that are multiples of 8 up to 256."""
    return q.dtype in SUPPORTED_DTYPES and q.shape[-1] % 8 == 0 and q.shape[-1] <= 256


def attend_cudnn(q: jax.Array, k: jax.Array, v: jax.Array, *, bias: jax.Array | None = None,
                 kv_lengths: jax.Array | None = None, scale: float | None = None, causal: bool = False) -> jax.Array:
    """Same contract as `attend_xla`; padding is given as key lengths (padding sits at the end of the keys)."""
    q_lengths = None
    if kv_lengths is not None:
        q_lengths = jnp.full((q.shape[0],), q.shape[1], jnp.int32)
        kv_lengths = kv_lengths.astype(jnp.int32)
    return jax.nn.dot_product_attention(q, k, v, bias=None if bias is None else bias.astype(q.dtype), scale=scale,
                                        query_seq_lengths=q_lengths, key_value_seq_lengths=kv_lengths,
                                        is_causal=causal, implementation="cudnn")
