"""Multi-head attention layers (self and cross) around the mesh-aware `sharded_attend()` kernel API."""

from __future__ import annotations

import jax
from einops import rearrange
from flax import nnx

from mgjax.attention.sharded import sharded_attend
from mgjax.attention.xla import attention_weights
from mgjax.nn.linear import linear
from mgjax.nn.norms import RMSNorm
from mgjax.nn.rope import apply_rope
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain


class MultiHeadAttention(nnx.Module):
    """Bias-free Q/K/V/O projections; keys and values come from `context` (cross) or from `x` (self).

    Q, K, V are column-parallel over heads and O is row-parallel, so tensor parallelism needs one all-reduce per layer.
    """

    def __init__(self, width: int, num_heads: int, *, rules: Rules, qk_norm: bool = False, eps: float = 1e-6,
                 implementation: str = "auto", context_parallel: str = "all_gather", dtype, param_dtype,
                 rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.q = linear(width, width, ("embed", "heads"), **kw)
        self.k = linear(width, width, ("embed", "heads"), **kw)
        self.v = linear(width, width, ("embed", "heads"), **kw)
        self.o = linear(width, width, ("heads", "embed"), **kw)
        head_dim = width // num_heads
        self.q_norm = RMSNorm(head_dim, eps=eps, param_dtype=param_dtype) if qk_norm else None
        self.k_norm = RMSNorm(head_dim, eps=eps, param_dtype=param_dtype) if qk_norm else None
        self.num_heads = num_heads
        self.implementation = implementation
        self.context_parallel = context_parallel
        self.rules = rules

    def __call__(self, x: jax.Array, context: jax.Array | None = None, kv_lengths: jax.Array | None = None,
                 seq_axis: str = "seq", rope: tuple[jax.Array, jax.Array] | None = None) -> jax.Array:
        """x: (b, n, d); context: (b, m, d) or None (self-attention); kv_lengths: (b,) valid context tokens;
        rope: (cos, sin) tables (n, head_dim / 2) that rotate q and k (self-attention only)."""
        return self.o(rearrange(self._attend(x, context, kv_lengths, seq_axis, rope), "b n h d -> b n (h d)"))

    def gated_joint(self, x: jax.Array, text: jax.Array, text_lengths: jax.Array, joint: jax.Array,
                    joint_lengths: jax.Array, gate: jax.Array, seq_axis: str = "seq") -> jax.Array:
        """Cross-attention to the text, moved per head by `gate` (h,) towards attention over `joint` (the text plus
        extra context tokens, one softmax): o_text + gate * (o_joint - o_text). Gate 0 is exactly the text-only
        layer; gate 1 is plain attention over the concatenation."""
        text_out = self._attend(x, text, text_lengths, seq_axis)
        joint_out = self._attend(x, joint, joint_lengths, seq_axis)
        out = text_out + gate.astype(text_out.dtype)[:, None] * (joint_out - text_out)
        return self.o(rearrange(out, "b n h d -> b n (h d)"))

    def _attend(self, x: jax.Array, context: jax.Array | None, kv_lengths: jax.Array | None, seq_axis: str,
                rope=None) -> jax.Array:
        """-> per-head outputs (b, n, h, d), before the output projection."""
        context = x if context is None else context
        kv_axis = seq_axis if context is x else "text_seq"
        q, k, v = self._heads(x, context, rope)
        q = constrain(q, ("batch", seq_axis, "act_heads", None), self.rules)
        k = constrain(k, ("batch", kv_axis, "act_heads", None), self.rules)
        v = constrain(v, ("batch", kv_axis, "act_heads", None), self.rules)
        return sharded_attend(q, k, v, rules=self.rules, seq_axis=seq_axis, kv_seq_axis=kv_axis,
                              self_attention=context is x, kv_lengths=kv_lengths, context_mode=self.context_parallel,
                              implementation=self.implementation)

    def _heads(self, x: jax.Array, context: jax.Array, rope=None) -> tuple[jax.Array, jax.Array, jax.Array]:
        split = lambda t: rearrange(t, "b n (h d) -> b n h d", h=self.num_heads)
        q, k, v = split(self.q(x)), split(self.k(context)), split(self.v(context))
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        return q, k, v

    def attention_weights(self, x: jax.Array, context: jax.Array | None = None, rope=None) -> jax.Array:
        """The softmax weights (b, heads, n, m) this layer would use, for diagnostics (no key padding)."""
        q, k, _ = self._heads(x, x if context is None else context, rope)
        return attention_weights(q, k)
