"""Text conditioning for the backbone (paper §3.1.4): each encoder's output gets its own Linear + LayerNorm to the model
width; the sequences are concatenated and the padding is moved to the end so attention needs only key lengths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.nn.linear import linear
from mgjax.nn.norms import LayerNorm


class TextProjection(nnx.Module):
    def __init__(self, in_width: int, width: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        self.proj = linear(in_width, width, ("text_embed", "embed"), dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.norm = LayerNorm(width, param_dtype=param_dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.norm(self.proj(x))


def pack_valid_first(tokens: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Stable-reorder each row so valid tokens come first: tokens (b, m, d), mask (b, m) -> (tokens, lengths (b,)).

    Concatenating padded encoder outputs interleaves padding; packing keeps each encoder's token order and lets every
    attention kernel (cuDNN, splash) express the mask as a key length.
    """
    order = jnp.argsort(~mask, axis=1, stable=True)
    packed = jnp.take_along_axis(tokens, order[:, :, None], axis=1)
    return packed, jnp.sum(mask, axis=1).astype(jnp.int32)
