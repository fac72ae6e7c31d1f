"""The T5 v1.1 / UL2 encoder: relative position buckets, a gated feed-forward (GELU for T5 v1.1 and ByT5, SiLU for
UL2), T5's RMS layer norm, no biases.

Parameter names follow the Hugging Face layout (q, k, v, o; wi_0, wi_1, wo) so `mgjax.convert.t5` maps keys one to one.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from einops import rearrange
from flax import nnx

from mgjax.attention import attend
from mgjax.config.text import TextEncoderConfig
from mgjax.nn.linear import linear
from mgjax.nn.norms import RMSNorm
from mgjax.nn.embeddings import lookup
from mgjax.nn.activations import activation
from mgjax.nn.params import param, partitioned
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain


def relative_position_bucket(relative_position: np.ndarray, num_buckets: int, max_distance: int) -> np.ndarray:
    """T5's bidirectional bucketing of key - query offsets: exact for small offsets, logarithmic beyond."""
    num_buckets //= 2
    buckets = (relative_position > 0).astype(np.int32) * num_buckets
    n = np.abs(relative_position)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        large = max_exact + (np.log(np.maximum(n, 1) / max_exact) / math.log(max_distance / max_exact)
                             * (num_buckets - max_exact)).astype(np.int32)
    large = np.minimum(large, num_buckets - 1)
    return buckets + np.where(n < max_exact, n, large)


def bucket_distances(num_buckets: int, max_distance: int) -> np.ndarray:
    """The smallest |key - query| offset that falls in each relative-position bucket: (num_buckets,)."""
    offsets = np.arange(-max_distance, max_distance + 1)
    buckets = relative_position_bucket(offsets, num_buckets, max_distance)
    distances = np.full(num_buckets, max_distance)
    np.minimum.at(distances, buckets, np.abs(offsets))
    return distances


def _relative_bias_init(cfg: TextEncoderConfig):
    """T5's normal(width^-0.5) table, minus a per-head linear distance penalty when `relative_bias_locality` > 0."""
    normal = nnx.initializers.normal(cfg.width ** -0.5)
    slopes = cfg.relative_bias_locality * 2.0 ** -np.arange(cfg.num_heads)
    penalty = bucket_distances(cfg.relative_buckets, cfg.relative_max_distance)[:, None] * slopes[None, :]

    def init(key, shape, dtype=jnp.float32):
        return normal(key, shape, dtype) - jnp.asarray(penalty, dtype)

    return init


class T5Layer(nnx.Module):
    def __init__(self, cfg: TextEncoderConfig, *, rules: Rules, dtype, param_dtype, rngs: nnx.Rngs):
        d, inner = cfg.width, cfg.num_heads * cfg.head_dim
        n = nnx.initializers.normal
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.attn_norm = RMSNorm(d, eps=cfg.norm_eps, param_dtype=param_dtype)
        self.q = linear(d, inner, ("embed", "heads"), init=n((d * cfg.head_dim) ** -0.5), **kw)
        self.k = linear(d, inner, ("embed", "heads"), init=n(d ** -0.5), **kw)
        self.v = linear(d, inner, ("embed", "heads"), init=n(d ** -0.5), **kw)
        self.o = linear(inner, d, ("heads", "embed"), init=n(inner ** -0.5), **kw)
        self.ffn_norm = RMSNorm(d, eps=cfg.norm_eps, param_dtype=param_dtype)
        self.wi_0 = linear(d, cfg.ffn_width, ("embed", "mlp"), init=n(d ** -0.5), **kw)
        self.wi_1 = linear(d, cfg.ffn_width, ("embed", "mlp"), init=n(d ** -0.5), **kw)
        self.wo = linear(cfg.ffn_width, d, ("mlp", "embed"), init=n(cfg.ffn_width ** -0.5), **kw)
        self.num_heads = cfg.num_heads
        self.act = activation(cfg.activation)
        self.rules = rules

    def __call__(self, x: jax.Array, bias: jax.Array, lengths: jax.Array) -> jax.Array:
        h = self.attn_norm(x)
        split = lambda t: rearrange(t, "b n (h d) -> b n h d", h=self.num_heads)
        # T5 folds the 1/sqrt(d) into its initialisation: attention logits are unscaled.
        a = attend(split(self.q(h)), split(self.k(h)), split(self.v(h)), bias=bias, kv_lengths=lengths, scale=1.0)
        x = x + self.o(rearrange(a, "b n h d -> b n (h d)"))
        h = self.ffn_norm(x)
        h = self.act(self.wi_0(h)) * self.wi_1(h)
        h = constrain(h, ("batch", "text_seq", "act_mlp"), self.rules)
        return x + self.wo(h)


class T5Encoder(nnx.Module):
    """token ids (b, m) and a padding mask (b, m) (valid tokens first) -> hidden states (b, m, width)."""

    def __init__(self, cfg: TextEncoderConfig, *, rules: Rules, dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        self.embed = nnx.Embed(cfg.vocab_size, cfg.width, dtype=dtype, param_dtype=param_dtype, rngs=rngs,
                               embedding_init=partitioned(nnx.initializers.normal(1.0), ("vocab", "embed")))
        self.relative_bias = param(_relative_bias_init(cfg), (cfg.relative_buckets, cfg.num_heads), ("relpos", "heads"),
                                   key=rngs.params(), dtype=param_dtype)
        self.layers = nnx.List([T5Layer(cfg, rules=rules, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
                                for _ in range(cfg.num_layers)])
        self.final_norm = RMSNorm(cfg.width, eps=cfg.norm_eps, param_dtype=param_dtype)
        self.cfg = cfg
        self.rules = rules

    def position_bias(self, length: int) -> jax.Array:
        """(1, heads, m, m) bias shared by all layers (T5 computes it in the first layer and reuses it)."""
        pos = np.arange(length)
        buckets = relative_position_bucket(pos[None, :] - pos[:, None], self.cfg.relative_buckets,
                                           self.cfg.relative_max_distance)
        return jnp.transpose(self.relative_bias[...][buckets], (2, 0, 1))[None]

    def __call__(self, ids: jax.Array, mask: jax.Array) -> jax.Array:
        x = constrain(lookup(self.embed, ids, self.rules), ("batch", "text_seq", "act_embed"), self.rules)
        bias = self.position_bias(ids.shape[1])
        lengths = jnp.sum(mask, axis=1).astype(jnp.int32)
        for layer in self.layers:
            x = layer(x, bias, lengths)
        return self.final_norm(x)
