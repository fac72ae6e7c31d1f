"""The first-order Euler ODE sampler (paper §3.4) with classifier-free guidance.

`velocity_fn(params, x, t, cond)` is any model callable; parameters are passed as arguments (not baked into the
compiled step as constants); conditional and unconditional passes run as one doubled batch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm


def cfg_combine(v_cond: jax.Array, v_uncond: jax.Array, scale: float) -> jax.Array:
    """v = v_u + s (v_c - v_u); s = 1 is plain conditional sampling."""
    return v_uncond + scale * (v_cond - v_uncond)


@functools.lru_cache(maxsize=16)
def make_guided_step(velocity_fn: Callable[[Any, jax.Array, jax.Array, Any], jax.Array], cfg_scale: float):
    """A jitted Euler step x <- x + (t1 - t0) v(x, t0) with CFG over `(cond, uncond)`, each a batch-leading pytree.

    Cached per (velocity_fn, cfg_scale): jit's compilation cache is keyed on the function object, so a fresh step per
    `euler_sample` call would recompile the model for every batch and every clip."""

    @jax.jit
    def step(params, x, t0, t1, cond, uncond):
        b = x.shape[0]
        if cfg_scale == 1.0:
            v = velocity_fn(params, x, jnp.full((b,), t0, jnp.float32), cond)
        else:
            both = jax.tree.map(lambda c, u: jnp.concatenate([c, u], axis=0), cond, uncond)
            xx = jnp.concatenate([x, x], axis=0)
            vv = velocity_fn(params, xx, jnp.full((2 * b,), t0, jnp.float32), both)
            v = cfg_combine(vv[:b], vv[b:], cfg_scale)
        return (x.astype(jnp.float32) + (t1 - t0) * v.astype(jnp.float32)).astype(x.dtype)

    return step


def euler_sample(velocity_fn: Callable, params: Any, noise: jax.Array, schedule: np.ndarray, cond: Any,
                 uncond: Any = None, cfg_scale: float = 1.0, progress: bool = True) -> jax.Array:
    """Integrate dX/dt = v from t = schedule[0] (noise) to schedule[-1] (data). The ODE state stays fp32."""
    step = make_guided_step(velocity_fn, cfg_scale)
    x = noise.astype(jnp.float32)
    pairs = list(zip(schedule[:-1], schedule[1:]))
    for t0, t1 in tqdm(pairs, desc="sampling", disable=not progress, leave=False):
        x = step(params, x, jnp.float32(t0), jnp.float32(t1), cond, uncond)
    return x


def guidance_weights(text_scale: float, source_scale: float) -> tuple[float, float, float]:
    """InstructPix2Pix's two-scale guidance as weights on (v(source, text), v(source, no text), v(no source, no
    text)): v = v_00 + s_S (v_S0 - v_00) + s_T (v_ST - v_S0)."""
    return (text_scale, source_scale - text_scale, 1.0 - source_scale)


@functools.lru_cache(maxsize=16)
def make_mixed_step(velocity_fn: Callable[[Any, jax.Array, jax.Array, Any], jax.Array], weights: tuple[float, ...]):
    """A jitted Euler step with v = sum_i w_i v(x, t | cond_i), the conditions run as one batch; a zero-weight
    condition is skipped (so weights (1,) or (s, 1 - s) are plain and classifier-free sampling)."""

    @jax.jit
    def step(params, x, t0, t1, conds):
        used = [(w, c) for w, c in zip(weights, conds) if w != 0.0]
        b = x.shape[0]
        batch = jax.tree.map(lambda *cs: jnp.concatenate(cs, axis=0), *[c for _, c in used])
        vv = velocity_fn(params, jnp.concatenate([x] * len(used), axis=0), jnp.full((len(used) * b,), t0, jnp.float32),
                         batch).astype(jnp.float32)
        v = sum(w * vv[i * b:(i + 1) * b] for i, (w, _) in enumerate(used))
        return (x.astype(jnp.float32) + (t1 - t0) * v).astype(x.dtype)

    return step


def euler_sample_mixed(velocity_fn: Callable, params: Any, noise: jax.Array, schedule: np.ndarray,
                       conds: tuple, weights: tuple[float, ...], progress: bool = True) -> jax.Array:
    """`euler_sample` with the velocity a weighted sum over several conditions (`make_mixed_step`)."""
    if len(conds) != len(weights):
        raise ValueError(f"{len(conds)} conditions but {len(weights)} weights")
    step = make_mixed_step(velocity_fn, tuple(float(w) for w in weights))
    x = noise.astype(jnp.float32)
    pairs = list(zip(schedule[:-1], schedule[1:]))
    for t0, t1 in tqdm(pairs, desc="editing", disable=not progress, leave=False):
        x = step(params, x, jnp.float32(t0), jnp.float32(t1), conds)
    return x
