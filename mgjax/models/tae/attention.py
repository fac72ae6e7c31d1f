"""The TAE's attention: single-head spatial attention over each frame (as the SD/LDM autoencoder), then a 1D temporal
attention over each pixel's frames (paper: "a 1D temporal attention after each spatial attention")."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from einops import rearrange
from flax import nnx

from mgjax.attention.sharded import sharded_attend
from mgjax.attention.xla import attend_key_blocks
from mgjax.models.tae.frame_context import current_view
from mgjax.models.tae.layers import GroupNorm
from mgjax.nn.linear import linear
from mgjax.parallel.rules import TAE_RULES


class _Attention(nnx.Module):
    """GroupNorm -> q, k, v -> one head over the chosen axis -> projection -> residual."""

    def __init__(self, channels: int, num_groups: int, zero_init_out: bool, *, dtype, param_dtype, rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs, use_bias=True)
        self.norm = GroupNorm(channels, num_groups, rngs=rngs)
        self.qkv = linear(channels, 3 * channels, ("conv_in", "conv_out"), **kw)
        out_init = nnx.initializers.zeros_init() if zero_init_out else nnx.initializers.xavier_uniform()
        self.out = linear(channels, channels, ("conv_in", "conv_out"), init=out_init, **kw)

    def attend_tokens(self, h: jax.Array, keys_values: jax.Array | None = None) -> jax.Array:
        """h: (n, l, c) -> (n, l, c), attention over l; or, given `keys_values` (n, m, 2c), over those m instead,
        l at a time (a tile's queries against its frame's keys, in memory bounded by the tile)."""
        q, k, v = (x[:, :, None, :] for x in jnp.split(self.qkv(h), 3, axis=-1))
        if keys_values is None:
            return self.out(sharded_attend(q, k, v, rules=TAE_RULES, self_attention=True)[:, :, 0, :])
        k, v = (x[:, :, None, :] for x in jnp.split(keys_values, 2, axis=-1))
        return self.out(attend_key_blocks(q, k, v, block=h.shape[1])[:, :, 0, :])


class SpatialAttention(_Attention):
    def __init__(self, channels: int, num_groups: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        super().__init__(channels, num_groups, False, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, t, h, w, c = x.shape
        tokens = rearrange(self.norm(x), "b t h w c -> (b t) (h w) c")
        view, keys_values = current_view(), None
        if view is not None:  # a spatial tile: its queries attend to the whole frame's keys (frame_context.py)
            tile_kv = rearrange(self.qkv(tokens)[..., c:], "n (h w) c -> n h w c", h=h)
            keys_values = view.record(view.place_in_frame(tile_kv))
            if keys_values is not None:
                keys_values = rearrange(keys_values, "n h w c -> n (h w) c")
        return x + rearrange(self.attend_tokens(tokens, keys_values), "(b t) (h w) c -> b t h w c", b=b, h=h)


class TemporalAttention(_Attention):
    """Starts as the identity when `identity_init` (zero output projection), so image weights carry over."""

    def __init__(self, channels: int, num_groups: int, identity_init: bool, *, dtype, param_dtype, rngs: nnx.Rngs):
        super().__init__(channels, num_groups, identity_init, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, t, h, w, _ = x.shape
        tokens = rearrange(self.norm(x), "b t h w c -> (b h w) t c")
        return x + rearrange(self.attend_tokens(tokens), "(b h w) t c -> b t h w c", b=b, h=h)
