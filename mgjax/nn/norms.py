"""Norms computed in fp32 whatever the activation dtype, returning the input dtype."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.nn.params import param

ones = nnx.initializers.ones_init()
zeros = nnx.initializers.zeros_init()


class RMSNorm(nnx.Module):
    """y = x / rms(x) * scale (no mean subtraction; also T5's "layer norm")."""

    def __init__(self, features: int, *, eps: float = 1e-6, use_scale: bool = True, param_dtype=jnp.float32):
        self.eps = eps
        self.scale = param(ones, (features,), ("norm",), dtype=param_dtype) if use_scale else None

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        if self.scale is not None:
            y = y * self.scale[...].astype(jnp.float32)
        return y.astype(x.dtype)


class LayerNorm(nnx.Module):
    """Standard LayerNorm with scale and bias (the text projections use it, paper §3.1.4)."""

    def __init__(self, features: int, *, eps: float = 1e-5, param_dtype=jnp.float32):
        self.eps = eps
        self.scale = param(ones, (features,), ("norm",), dtype=param_dtype)
        self.bias = param(zeros, (features,), ("norm",), dtype=param_dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        mean = jnp.mean(x32, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)
        y = (x32 - mean) * jax.lax.rsqrt(var + self.eps) * self.scale[...] + self.bias[...]
        return y.astype(x.dtype)
