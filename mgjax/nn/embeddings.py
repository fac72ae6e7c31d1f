"""Timestep and factorized (t, h, w) positional embeddings."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.nn.linear import linear
from mgjax.nn.params import param


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


class FactorizedPositionalEmbedding(nnx.Module):
    """Three learnable absolute tables phi_t, phi_h, phi_w; a token at patch (i, j, k) gets their sum (paper §3.1.3).

    The tables are sized in patch units; a shorter clip or smaller frame uses their first entries, so images
    (one latent frame) and videos share the spatial tables.
    """

    def __init__(self, width: int, max_patches: tuple[int, int, int], *, param_dtype, rngs: nnx.Rngs):
        init = nnx.initializers.normal(0.02)
        self.t = param(init, (max_patches[0], width), (None, "embed"), key=rngs.params(), dtype=param_dtype)
        self.h = param(init, (max_patches[1], width), (None, "embed"), key=rngs.params(), dtype=param_dtype)
        self.w = param(init, (max_patches[2], width), (None, "embed"), key=rngs.params(), dtype=param_dtype)

    def __call__(self, grid: tuple[int, int, int]) -> jax.Array:
        """grid (nt, nh, nw) -> (nt*nh*nw, d), ordered like the patch sequence (t, h, w)."""
        nt, nh, nw = grid
        pe = self.t[:nt][:, None, None] + self.h[:nh][None, :, None] + self.w[:nw][None, None, :]
        return pe.reshape(nt * nh * nw, -1)
