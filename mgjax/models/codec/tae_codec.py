"""The trained TAE as the video model's codec: the posterior mean, normalised per channel by statistics measured on
training data (`latent_stats.json`, written by the TAE's evaluation), and tiled encode/decode."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.config.codec import CodecConfig
from mgjax.config.geometry import LatentGeometry, codec_geometry
from mgjax.models.codec.base import register_codec
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.models.tae.tiling import tiled_decode, tiled_encode


@register_codec("tae")
class TAECodec:
    """latents = (posterior mean - shift) / scale, per channel, so the flow model sees roughly unit-variance latents
    (the role of SD's scaling factor; per channel because the TAE's channels differ in spread)."""

    def __init__(self, model: TemporalAutoencoder, shift, scale, geometry: LatentGeometry):
        self.model = model
        self.geometry = geometry
        self.shift = jnp.asarray(np.asarray(shift, np.float32).reshape(-1))
        self.scale = jnp.asarray(np.asarray(scale, np.float32).reshape(-1))

    has_weights = True

    @classmethod
    def module(cls, cfg: CodecConfig) -> TemporalAutoencoder:
        return TemporalAutoencoder(cfg.tae, rngs=nnx.Rngs(0))

    @classmethod
    def build(cls, cfg: CodecConfig, module: TemporalAutoencoder, stats: dict) -> "TAECodec":
        return cls(module, stats["shift"], stats["scale"], codec_geometry(cfg))

    def encode(self, video: jax.Array) -> jax.Array:
        mean, _ = tiled_encode(self.model, video)
        return (mean - self.shift) / self.scale

    def decode(self, latents: jax.Array, length: int | None = None) -> jax.Array:
        return tiled_decode(self.model, latents * self.scale + self.shift, length)
