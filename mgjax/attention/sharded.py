"""Attention on a device mesh: every kernel runs per device inside `jax.shard_map`, with the batch sharded over the
data axes, heads over `tensor` and the query sequence over `context`.

Context parallelism (paper §3.1.6): queries stay local and each device needs every key and value of its sample.
- "all_gather" (the paper's scheme): K and V are all-gathered over the context axis before a local kernel; the
  transpose of all-gather is a reduce-scatter, so their gradients are reduce-scattered in the backward pass.
- "ring": K/V blocks travel around the context ring (`ppermute`) while each device folds them into an online
  softmax; it never holds more than one remote block (memory O(n/cp)), at the price of cp sequential steps.
Padding (keys at positions >= kv_lengths) is masked in both.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from mgjax.attention.api import attend
from mgjax.attention.xla import absorb_key_block, empty_softmax_state, finish_softmax
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import fit_axes, logical_to_spec

CONTEXT_MODES = ("all_gather", "ring")


def _axes_tuple(axes) -> tuple[str, ...]:
    return () if axes is None else (axes,) if isinstance(axes, str) else tuple(axes)


def ring_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, axis: tuple[str, ...], size: int,
                   kv_lengths: jax.Array | None = None, scale: float | None = None) -> jax.Array:
    """Per-device body: q, k, v are this device's sequence blocks (b, n/cp, h, d). Block i of the ring holds the keys
    of device (me - i) mod cp; a running max, denominator and output (all fp32) absorb it."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    me = jax.lax.axis_index(axis)
    block = k.shape[1]
    state = empty_softmax_state(q)
    forward = [(j, (j + 1) % size) for j in range(size)]
    for i in range(size):
        valid = None
        if kv_lengths is not None:
            owner = (me - i) % size
            valid = (owner * block + jnp.arange(block))[None, :] < kv_lengths[:, None]  # (b, m) global positions
        state = absorb_key_block(state, q, k, v, scale, valid)
        if i + 1 < size:
            k, v = jax.lax.ppermute(k, axis, forward), jax.lax.ppermute(v, axis, forward)
    return finish_softmax(state, q.dtype)


def sharded_attend(q: jax.Array, k: jax.Array, v: jax.Array, *, rules: Rules, seq_axis: str = "seq",
                   kv_seq_axis: str = "text_seq", self_attention: bool, kv_lengths: jax.Array | None = None,
                   context_mode: str = "all_gather", implementation: str = "auto",
                   causal: bool = False) -> jax.Array:
    """`attend` over the active mesh. q: (b, n, h, d), k/v: (b, m, h, d). For self-attention the keys shard like the
    queries (over `seq_axis`'s mesh axes) and are gathered (or ringed) there; cross-attention keys are replicated
    along their sequence and need no communication."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or mesh.size == 1:
        return attend(q, k, v, kv_lengths=kv_lengths, causal=causal, implementation=implementation)
    if context_mode not in CONTEXT_MODES:
        raise ValueError(f"unknown context-parallel mode {context_mode!r}; valid: {', '.join(CONTEXT_MODES)}")
    b, n, h, _ = q.shape
    spec = logical_to_spec(("batch", seq_axis, "act_heads", None), rules)
    batch_ax, heads_ax = fit_axes(b, spec[0], mesh), fit_axes(h, spec[2], mesh)
    seq_ax = fit_axes(n, spec[1], mesh)
    kv_ax = seq_ax if self_attention else fit_axes(k.shape[1], logical_to_spec((kv_seq_axis,), rules)[0], mesh)
    cp_axes = _axes_tuple(seq_ax) if self_attention else ()
    cp = math.prod(mesh.shape[a] for a in cp_axes)
    if causal and cp > 1:
        raise NotImplementedError("causal attention is not context-parallel (Movie Gen's attention is bidirectional)")

    def local(q, k, v, lengths):
        if cp > 1 and context_mode == "ring":
            return ring_attention(q, k, v, axis=cp_axes, size=cp, kv_lengths=lengths)
        if cp > 1:  # the paper's scheme: gather K and V, keep Q local
            k = jax.lax.all_gather(k, cp_axes, axis=1, tiled=True)
            v = jax.lax.all_gather(v, cp_axes, axis=1, tiled=True)
        return attend(q, k, v, kv_lengths=lengths, causal=causal, implementation=implementation)

    q_spec = P(batch_ax, seq_ax, heads_ax, None)
    kv_spec = P(batch_ax, kv_ax, heads_ax, None)
    lengths_spec = P(batch_ax)
    if kv_lengths is None:
        fn = jax.shard_map(lambda q, k, v: local(q, k, v, None), in_specs=(q_spec, kv_spec, kv_spec),
                           out_specs=q_spec, check_vma=False)
        return fn(q, k, v)
    fn = jax.shard_map(local, in_specs=(q_spec, kv_spec, kv_spec, lengths_spec), out_specs=q_spec, check_vma=False)
    return fn(q, k, v, kv_lengths.astype(jnp.int32))

