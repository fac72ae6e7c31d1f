"""Token lookups, timestep and factorized (t, h, w) positional embeddings."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.nn.linear import linear
from mgjax.nn.params import param
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain


def lookup(embed: nnx.Embed, ids: jax.Array, rules: Rules) -> jax.Array:
    """`embed(ids)` with the table's width gathered first, as FSDP gathers every weight before use. A lookup in a
    table sharded along its width gives width-sharded rows; XLA's SPMD partitioner has no efficient way from there to
    the batch-sharded activations that follow and replicates them instead ("[SPMD] Involuntary full
    rematerialization" at compile time, an all-gather of the activations at run time)."""
    table = constrain(embed.embedding[...], ("vocab", None), rules)
    return jnp.take(table.astype(embed.dtype or table.dtype), ids, axis=0)


def timestep_features(t: jax.Array, dim: int, max_period: float = 10_000.0, scale: float = 1000.0) -> jax.Array:
    """Sinusoidal features of t in [0, 1] (scaled by 1000 as in DiT's integer timesteps): (b,) -> (b, dim)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = (t.astype(jnp.float32) * scale)[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


class TimestepEmbedder(nnx.Module):
    """Sinusoidal features -> Linear -> SiLU -> Linear, bias-free like the rest of the backbone."""

    def __init__(self, width: int, freq_dim: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        init = nnx.initializers.normal(0.02)
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs, init=init)
        self.fc1 = linear(freq_dim, width, (None, "embed"), **kw)
        self.fc2 = linear(width, width, ("embed", None), **kw)
        self.freq_dim = freq_dim

    def __call__(self, t: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.silu(self.fc1(timestep_features(t, self.freq_dim))))


def sincos_table(length: int, width: int, axis: int, num_axes: int = 3, scale: float = 0.5) -> jax.Array:
    """(length, width) sinusoids of the position along `axis`, occupying that axis's third of the channels (zeros
    elsewhere), so the sum of the three tables starts as the standard 3D sin-cos embedding."""
    part = (width // num_axes) // 2 * 2
    half = part // 2
    freqs = jnp.exp(-math.log(10_000.0) * jnp.arange(half, dtype=jnp.float32) / max(half, 1))
    angles = jnp.arange(length, dtype=jnp.float32)[:, None] * freqs[None, :]
    table = jnp.zeros((length, width), jnp.float32)
    return table.at[:, axis * part:(axis + 1) * part].set(scale * jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], 1))


class FactorizedPositionalEmbedding(nnx.Module):
    """Three learnable absolute tables phi_t, phi_h, phi_w; a token at patch (i, j, k) gets their sum (paper §3.1.3).

    The tables are sized in patch units; a shorter clip or smaller frame uses their first entries, so images
    (one latent frame) and videos share the spatial tables. The paper does not say how they are initialised; we start
    them as the 3D sin-cos embedding (each table on its own third of the channels) so that positions are distinct from
    the first step, with sinusoids of amplitude `init_scale`.
    """

    def __init__(self, width: int, max_patches: tuple[int, int, int], *, init_scale: float = 0.5, param_dtype,
                 rngs: nnx.Rngs):
        def table(axis):
            init = lambda key, shape, dtype: sincos_table(shape[0], shape[1], axis, scale=init_scale).astype(dtype)
            return param(init, (max_patches[axis], width), (None, "embed"), dtype=param_dtype)

        self.t, self.h, self.w = table(0), table(1), table(2)

    def __call__(self, grid: tuple[int, int, int], t_start: jax.Array | None = None) -> jax.Array:
        """grid (nt, nh, nw) -> (nt*nh*nw, d), ordered like the patch sequence (t, h, w). `t_start` (b,) ints: each
        sample's first row of the temporal table (clipped so the clip fits), giving (b, nt*nh*nw, d)."""
        nt, nh, nw = grid
        have = (self.t.shape[0], self.h.shape[0], self.w.shape[0])
        if nt > have[0] or nh > have[1] or nw > have[2]:
            raise ValueError(f"a clip of {nt}x{nh}x{nw} patches exceeds the positional tables ({have[0]}x{have[1]}x"
                             f"{have[2]}, model.max_patches): give a shorter or smaller clip, or a model built for it")
        if t_start is None:
            pe = self.t[:nt][:, None, None] + self.h[:nh][None, :, None] + self.w[:nw][None, None, :]
            return pe.reshape(nt * nh * nw, -1)
        table = self.t[...]
        rows = jax.vmap(lambda s: jax.lax.dynamic_slice_in_dim(table, s, nt, axis=0))(t_start)  # (b, nt, d)
        pe = rows[:, :, None, None] + self.h[:nh][None, None, :, None] + self.w[:nw][None, None, None, :]
        return pe.reshape(t_start.shape[0], nt * nh * nw, -1)
