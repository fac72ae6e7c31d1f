"""CLIP's text transformer (MetaCLIP's text tower): causal pre-LayerNorm blocks with biases (mgjax/nn/clip.py),
learned absolute positions, a final LayerNorm, pooled at the EOS token (the last valid one).

Movie Gen's long-prompt MetaCLIP widens its context from 77 to 256 positions (`mgjax.convert.clip` interpolates a
77-position table). Parameter names follow the Hugging Face layout so `mgjax.convert.clip` maps keys one to one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.text import TextEncoderConfig
from mgjax.nn.clip import clip_layers
from mgjax.nn.embeddings import lookup
from mgjax.nn.linear import linear
from mgjax.nn.norms import LayerNorm
from mgjax.nn.params import param, partitioned
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain

_normal = nnx.initializers.normal


class CLIPTextEncoder(nnx.Module):
    """token ids (b, m) and a padding mask (b, m) (valid tokens first, BOS ... EOS) -> token outputs (b, m, width),
    the last hidden states after the final LayerNorm; `pooled` gives the (projected) EOS output."""

    def __init__(self, cfg: TextEncoderConfig, *, rules: Rules, dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        self.token_embed = nnx.Embed(cfg.vocab_size, cfg.width, dtype=dtype, param_dtype=param_dtype, rngs=rngs,
                                     embedding_init=partitioned(_normal(0.02), ("vocab", "embed")))
        self.pos_embed = param(_normal(0.01), (cfg.max_length, cfg.width), (None, "embed"), key=rngs.params(),
                               dtype=param_dtype)
        self.layers = clip_layers(cfg.num_layers, cfg.width, cfg.num_heads, cfg.ffn_width, cfg.activation, cfg.norm_eps,
                              rules=rules, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.final_norm = LayerNorm(cfg.width, eps=cfg.norm_eps, param_dtype=param_dtype)
        self.projection = (linear(cfg.width, cfg.projection_dim, ("embed", None), dtype=dtype, param_dtype=param_dtype,
                                  rngs=rngs) if cfg.projection_dim else None)
        self.rules = rules

    def __call__(self, ids: jax.Array, mask: jax.Array) -> jax.Array:
        positions = self.pos_embed[...][: ids.shape[1]].astype(self.token_embed.dtype)
        x = lookup(self.token_embed, ids, self.rules) + positions
        x = constrain(x, ("batch", "text_seq", "act_embed"), self.rules)
        lengths = jnp.sum(mask, axis=1).astype(jnp.int32)
        for layer in self.layers:
            x = layer(x, lengths, causal=True)
        return self.final_norm(x)

    def pooled(self, hidden: jax.Array, mask: jax.Array) -> jax.Array:
        """(b, m, width) token outputs -> (b, width or projection_dim): the output at EOS, the last valid token."""
        eos = jnp.sum(mask, axis=1).astype(jnp.int32) - 1
        out = jnp.take_along_axis(hidden, eos[:, None, None], axis=1)[:, 0]
        return out if self.projection is None else self.projection(out)
