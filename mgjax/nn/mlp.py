"""The SwiGLU feed-forward of the LLaMa-style block."""

from __future__ import annotations

import jax
from flax import nnx

from mgjax.nn.linear import linear
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain


class SwiGLU(nnx.Module):
    """out = W2 (silu(W1 x) * W3 x); no biases."""

    def __init__(self, width: int, hidden: int, *, rules: Rules, dtype, param_dtype, rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.w1 = linear(width, hidden, ("embed", "mlp"), **kw)
        self.w3 = linear(width, hidden, ("embed", "mlp"), **kw)
        self.w2 = linear(hidden, width, ("mlp", "embed"), **kw)
        self.rules = rules

    def __call__(self, x: jax.Array) -> jax.Array:
        h = jax.nn.silu(self.w1(x)) * self.w3(x)
        h = constrain(h, ("batch", "seq", "act_mlp"), self.rules)
        return self.w2(h)
