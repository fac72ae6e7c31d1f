"""The trained TAE as the video model's codec: the posterior mean, normalised per channel by statistics measured on
training data (`latent_stats.json`, written by `python -m mgjax.eval.tae_recon`), and tiled encode/decode."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mgjax.models.tae.model import TemporalAutoencoder, compression, latent_frames
from mgjax.models.tae.tiling import tiled_decode, tiled_encode


class TAECodec:
    """latents = (posterior mean - shift) / scale, per channel, so the flow model sees roughly unit-variance latents
    (the role of SD's scaling factor; per channel because the TAE's channels differ in spread)."""

    def __init__(self, model: TemporalAutoencoder, shift, scale):
        self.model = model
        self.factors = compression(model.cfg)
        self.latent_channels = model.cfg.latent_channels
        self.shift = jnp.asarray(np.asarray(shift, np.float32).reshape(-1))
        self.scale = jnp.asarray(np.asarray(scale, np.float32).reshape(-1))

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        _, fh, fw = self.factors
        return (latent_frames(self.model.cfg, frames), height // fh, width // fw, self.latent_channels)

    def encode(self, video: jax.Array) -> jax.Array:
        mean, _ = tiled_encode(self.model, video)
        return (mean - self.shift) / self.scale

    def decode(self, latents: jax.Array, num_frames: int | None = None) -> jax.Array:
        return tiled_decode(self.model, latents * self.scale + self.shift, num_frames)
