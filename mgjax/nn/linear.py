"""Bias-free linear layers whose parameters declare logical axes at creation."""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
from flax import nnx

from mgjax.nn.params import partitioned

default_init = nnx.initializers.xavier_uniform()


def linear(in_features: int, out_features: int, axes: Sequence[str | None], *, rngs: nnx.Rngs,
           dtype=jnp.float32, param_dtype=jnp.float32, init=default_init, use_bias: bool = False) -> nnx.Linear:
    """`axes` names the kernel's (in, out) dimensions, e.g. ("embed", "mlp"); the rule set maps them to mesh axes."""
    return nnx.Linear(in_features, out_features, use_bias=use_bias, dtype=dtype, param_dtype=param_dtype,
                      kernel_init=partitioned(init, axes),
                      bias_init=partitioned(nnx.initializers.zeros_init(), (axes[-1],)), rngs=rngs)
