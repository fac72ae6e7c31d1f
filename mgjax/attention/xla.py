"""The reference kernel: plain XLA einsums with an fp32 softmax. Runs everywhere; every other kernel is tested
against it."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def kv_length_mask(kv_lengths: jax.Array, num_keys: int) -> jax.Array:
    """(b,) valid key counts -> (b, 1, 1, k) boolean mask; keys at positions >= length are padding."""
    return (jnp.arange(num_keys)[None, :] < kv_lengths[:, None])[:, None, None, :]


def attention_weights(q: jax.Array, k: jax.Array, *, bias: jax.Array | None = None,
                      kv_lengths: jax.Array | None = None, scale: float | None = None,
                      causal: bool = False) -> jax.Array:
    """The fp32 softmax weights (b, h, n, m) of `attend_xla` (also what diagnostics inspect)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    logits = jnp.einsum("bnhd,bmhd->bhnm", q, k, preferred_element_type=jnp.float32) * scale
    if bias is not None:
        logits = logits + bias.astype(jnp.float32)
    if kv_lengths is not None:
        logits = jnp.where(kv_length_mask(kv_lengths, k.shape[1]), logits, jnp.finfo(jnp.float32).min)
    if causal:
        allowed = jnp.arange(k.shape[1])[None, :] <= jnp.arange(q.shape[1])[:, None]
        logits = jnp.where(allowed, logits, jnp.finfo(jnp.float32).min)
    return jax.nn.softmax(logits, axis=-1)


def attend_xla(q: jax.Array, k: jax.Array, v: jax.Array, *, bias: jax.Array | None = None,
               kv_lengths: jax.Array | None = None, scale: float | None = None, causal: bool = False) -> jax.Array:
    """q: (b, n, h, d); k, v: (b, m, h, d); bias: broadcastable to (b, h, n, m); kv_lengths: (b,) -> (b, n, h, d).
    causal: query i sees keys j <= i (CLIP's text tower)."""
    weights = attention_weights(q, k, bias=bias, kv_lengths=kv_lengths, scale=scale, causal=causal)
    return jnp.einsum("bhnm,bmhd->bnhd", weights.astype(v.dtype), v)


def absorb_key_block(state: tuple, q: jax.Array, k: jax.Array, v: jax.Array, scale: float,
                     valid: jax.Array | None = None) -> tuple:
    """One step of the online softmax: fold a block of keys into the running (max, denominator, output), all fp32,
    shaped (b, h, n), (b, h, n), (b, h, n, d). valid: (b, m) or None; a fully invalid block adds nothing."""
    run_max, denom, acc = state
    logits = jnp.einsum("bnhd,bmhd->bhnm", q, k, preferred_element_type=jnp.float32) * scale
    if valid is not None:
        logits = jnp.where(valid[:, None, None, :], logits, jnp.finfo(jnp.float32).min)
    new_max = jnp.maximum(run_max, logits.max(-1))
    weights = jnp.exp(logits - new_max[..., None])
    if valid is not None:  # exp(min - min) = 1 would count a padded key
        weights = jnp.where(valid[:, None, None, :], weights, 0.0)
    correction = jnp.exp(run_max - new_max)
    acc = acc * correction[..., None] + jnp.einsum("bhnm,bmhd->bhnd", weights.astype(v.dtype), v,
                                                   preferred_element_type=jnp.float32)
    return new_max, denom * correction + weights.sum(-1), acc


def empty_softmax_state(q: jax.Array) -> tuple:
    b, n, h, d = q.shape
    return (jnp.full((b, h, n), jnp.finfo(jnp.float32).min, jnp.float32), jnp.zeros((b, h, n), jnp.float32),
            jnp.zeros((b, h, n, d), jnp.float32))


def finish_softmax(state: tuple, dtype) -> jax.Array:
    """(max, denominator, output) -> the attention output (b, n, h, d)."""
    _, denom, acc = state
    out = acc / jnp.maximum(denom, jnp.finfo(jnp.float32).tiny)[..., None]
    return jnp.transpose(out, (0, 2, 1, 3)).astype(dtype)


def attend_key_blocks(q: jax.Array, k: jax.Array, v: jax.Array, block: int, scale: float | None = None) -> jax.Array:
    """`attend_xla` over keys taken `block` at a time in a `lax.scan` (an online softmax), so the scores held at once
    are (n, block), not (n, m): many queries against a long key sequence in bounded memory on any backend."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    b, m = k.shape[:2]
    blocks = -(-m // block)
    pad = ((0, 0), (0, blocks * block - m), (0, 0), (0, 0))
    split = lambda x: jnp.pad(x, pad).reshape(b, blocks, block, *x.shape[2:]).swapaxes(0, 1)  # noqa: E731
    valid = (jnp.arange(blocks * block) < m).reshape(blocks, 1, block).repeat(b, axis=1)

    def step(state, inputs):
        k_block, v_block, valid_block = inputs
        return absorb_key_block(state, q, k_block, v_block, scale, valid_block), None

    return finish_softmax(jax.lax.scan(step, empty_softmax_state(q), (split(k), split(v), valid))[0], q.dtype)
