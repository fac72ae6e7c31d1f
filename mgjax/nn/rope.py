"""3D rotary position embedding (t, h, w) for self-attention queries and keys.

Not in Movie Gen (the paper adds learnable absolute tables only); an opt-in (`model.rope`) as in Wan, mochi and
Open-Sora. Rotating q and k by the patch coordinates makes every logit depend on the relative offset even when the
content is the same for all tokens. On the CPU demo, whose residual stream is dominated by a token-common part, it
sharpens the self-attention (entropy 3.0-3.5 nats vs 3.8-4.1, uniform 4.16) but does not teach motion direction
(README, demo section). The head channels are split between the axes as in Wan 2.1:
h and w each get 2 * (d // 6), t gets the rest.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def rope_axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Channels per axis (t, h, w); each is even because channels rotate in pairs."""
    if head_dim % 2:
        raise ValueError(f"rotary embeddings need an even head dimension, got {head_dim}")
    hw = 2 * (head_dim // 6)
    return head_dim - 2 * hw, hw, hw


def rope_tables(grid: tuple[int, int, int], head_dim: int, theta: float = 10_000.0) -> tuple[jax.Array, jax.Array]:
    """Patch grid (nt, nh, nw) -> cos, sin of shape (nt*nh*nw, head_dim // 2), ordered like the patch sequence."""
    angles = []
    for axis, (length, dims) in enumerate(zip(grid, rope_axis_dims(head_dim))):
        freqs = theta ** (-jnp.arange(0, dims, 2, dtype=jnp.float32) / max(dims, 1))
        a = jnp.arange(length, dtype=jnp.float32)[:, None] * freqs[None, :]  # (length, dims/2)
        shape = [1, 1, 1, dims // 2]
        shape[axis] = length
        angles.append(jnp.broadcast_to(a.reshape(shape), (*grid, dims // 2)))
    angles = jnp.concatenate(angles, axis=-1).reshape(-1, head_dim // 2)
    return jnp.cos(angles), jnp.sin(angles)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate channel pairs (2i, 2i+1) of x (b, n, heads, d) by the angles of each position (n, d/2)."""
    pairs = x.astype(jnp.float32).reshape(*x.shape[:-1], -1, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    out = jnp.stack([x0 * c - x1 * s, x0 * s + x1 * c], axis=-1)
    return out.reshape(x.shape).astype(x.dtype)
