"""CLIP's vision transformer (MetaCLIP's vision tower; PT2V's reference-image encoder, paper §4): patches, a class
token, learned positions, pre-LayerNorm blocks (mgjax/nn/clip.py), the class token pooled through `post_norm`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from einops import rearrange
from flax import nnx

from mgjax.config.vision import VisionEncoderConfig
from mgjax.nn.clip import clip_layers
from mgjax.nn.linear import linear
from mgjax.nn.norms import LayerNorm
from mgjax.nn.params import param
from mgjax.parallel.rules import Rules

_normal = nnx.initializers.normal


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
        self.layers = clip_layers(cfg.num_layers, d, cfg.num_heads, cfg.ffn_width, cfg.activation, cfg.norm_eps,
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
