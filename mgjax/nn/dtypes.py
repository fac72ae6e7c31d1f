"""The precision policy: fp32 master params, a compute dtype for activations and matmuls (set in config)."""

import jax.numpy as jnp

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def dtype_of(name: str) -> jnp.dtype:
    return DTYPES[name]
