"""CLIP text and vision transformers (MetaCLIP's towers): pre-LayerNorm blocks with biases, learned absolute positions.

The text tower is causal, ends in a LayerNorm and pools at the EOS token (the last valid one); Movie Gen's long-prompt
MetaCLIP widens its context from 77 to 256 positions (`mgjax.convert.clip` interpolates a 77-position table). The
vision tower (PT2V's reference-image encoder) prepends a class token and pools it through `post_norm`. Parameter names
follow the Hugging Face layout so `mgjax.convert.clip` maps keys one to one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from einops import rearrange
from flax import nnx

from mgjax.attention.sharded import sharded_attend
from mgjax.config.schema import TextEncoderConfig, VisionEncoderConfig
from mgjax.nn.activations import activation
from mgjax.nn.linear import linear
from mgjax.nn.norms import LayerNorm
from mgjax.nn.params import param, partitioned
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain

_normal = nnx.initializers.normal


class CLIPLayer(nnx.Module):
    def __init__(self, width: int, num_heads: int, ffn_width: int, act: str, eps: float, *, rules: Rules, dtype,
                 param_dtype, rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs, use_bias=True)
        self.norm1 = LayerNorm(width, eps=eps, param_dtype=param_dtype)
        self.q = linear(width, width, ("embed", "heads"), init=_normal(width ** -0.5), **kw)
        self.k = linear(width, width, ("embed", "heads"), init=_normal(width ** -0.5), **kw)
        self.v = linear(width, width, ("embed", "heads"), init=_normal(width ** -0.5), **kw)
        self.o = linear(width, width, ("heads", "embed"), init=_normal(width ** -0.5), **kw)
        self.norm2 = LayerNorm(width, eps=eps, param_dtype=param_dtype)
        self.fc1 = linear(width, ffn_width, ("embed", "mlp"), init=_normal(width ** -0.5), **kw)
        self.fc2 = linear(ffn_width, width, ("mlp", "embed"), init=_normal(ffn_width ** -0.5), **kw)
        self.num_heads = num_heads
        self.act = activation(act)
        self.rules = rules

    def __call__(self, x: jax.Array, lengths: jax.Array | None, causal: bool) -> jax.Array:
        h = self.norm1(x)
        split = lambda t: rearrange(t, "b n (h d) -> b n h d", h=self.num_heads)
        a = sharded_attend(split(self.q(h)), split(self.k(h)), split(self.v(h)), rules=self.rules, seq_axis="text_seq",
                           self_attention=True, kv_lengths=lengths, causal=causal)
        x = x + self.o(rearrange(a, "b n h d -> b n (h d)"))
        h = constrain(self.act(self.fc1(self.norm2(x))), ("batch", "text_seq", "act_mlp"), self.rules)
        return x + self.fc2(h)


def _layers(n: int, *args, **kwargs) -> nnx.List:
    return nnx.List([CLIPLayer(*args, **kwargs) for _ in range(n)])


class CLIPTextEncoder(nnx.Module):
    """token ids (b, m) and a padding mask (b, m) (valid tokens first, BOS ... EOS) -> token outputs (b, m, width),
    the last hidden states after the final LayerNorm; `pooled` gives the (projected) EOS output."""

    def __init__(self, cfg: TextEncoderConfig, *, rules: Rules, dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        self.token_embed = nnx.Embed(cfg.vocab_size, cfg.width, dtype=dtype, param_dtype=param_dtype, rngs=rngs,
                                     embedding_init=partitioned(_normal(0.02), ("vocab", "embed")))
        self.pos_embed = param(_normal(0.01), (cfg.max_length, cfg.width), (None, "embed"), key=rngs.params(),
                               dtype=param_dtype)
        self.layers = _layers(cfg.num_layers, cfg.width, cfg.num_heads, cfg.ffn_width, cfg.activation, cfg.norm_eps,
                              rules=rules, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.final_norm = LayerNorm(cfg.width, eps=cfg.norm_eps, param_dtype=param_dtype)
        self.projection = (linear(cfg.width, cfg.projection_dim, ("embed", None), dtype=dtype, param_dtype=param_dtype,
                                  rngs=rngs) if cfg.projection_dim else None)
        self.rules = rules

    def __call__(self, ids: jax.Array, mask: jax.Array) -> jax.Array:
        x = self.token_embed(ids) + self.pos_embed[...][: ids.shape[1]].astype(self.token_embed.dtype)
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


class CLIPVisionEncoder(nnx.Module):
    """images (b, H, W, 3), normalised as the checkpoint expects -> (tokens (b, 1 + patches, width), pooled (b, d)).

    tokens are the last hidden states (class token first, no final norm, as Hugging Face returns them); pooled is the
    class token through `post_norm` and the optional projection.
    """

    def __init__(self, cfg: VisionEncoderConfig, *, rules: Rules, dtype=jnp.float32, param_dtype=jnp.float32,
                 rngs: nnx.Rngs):
        p, d = cfg.patch_size, cfg.width
        num_patches = (cfg.image_size // p) ** 2
        # A (p, p) stride-p conv without bias is a linear map of each flattened (c, p, p) patch.
        self.patch_embed = linear(3 * p * p, d, (None, "embed"), dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.class_embed = param(_normal(d ** -0.5), (d,), ("embed",), key=rngs.params(), dtype=param_dtype)
        self.pos_embed = param(_normal(0.02), (num_patches + 1, d), (None, "embed"), key=rngs.params(),
                               dtype=param_dtype)
        self.pre_norm = LayerNorm(d, eps=cfg.norm_eps, param_dtype=param_dtype)
        self.layers = _layers(cfg.num_layers, d, cfg.num_heads, cfg.ffn_width, cfg.activation, cfg.norm_eps,
                              rules=rules, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.post_norm = LayerNorm(d, eps=cfg.norm_eps, param_dtype=param_dtype)
        self.projection = (linear(d, cfg.projection_dim, ("embed", None), dtype=dtype, param_dtype=param_dtype,
                                  rngs=rngs) if cfg.projection_dim else None)
        self.patch_size = p
        self.image_size = cfg.image_size

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        if images.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"expected {self.image_size}x{self.image_size} images, got {images.shape[1:3]}")
        patches = rearrange(images, "b (h p) (w q) c -> b (h w) (c p q)", p=self.patch_size, q=self.patch_size)
        x = self.patch_embed(patches.astype(self.patch_embed.dtype))
        cls = jnp.broadcast_to(self.class_embed[...].astype(x.dtype), (x.shape[0], 1, x.shape[-1]))
        x = jnp.concatenate([cls, x], axis=1) + self.pos_embed[...].astype(x.dtype)
        x = self.pre_norm(x)
        for layer in self.layers:
            x = layer(x, None, causal=False)
        pooled = self.post_norm(x[:, 0])
        return x, pooled if self.projection is None else self.projection(pooled)
