"""The spatial upsampler (paper §3.1.7): a video-to-video flow model. The low-resolution video is upsampled bilinearly
in pixels to the output size, encoded by the frame-wise image VAE (the same codec as the target), and concatenated to
the noisy latent on channels (the backbone's zero-initialised `cond_channels`), so a model initialised from a
text-to-image run (`train.init_from`) gives its parent's output until training moves the new weights. Text enters as
in the parent (empty when a clip has no caption).
"""

from __future__ import annotations

from typing import Sequence

import jax
from flax import nnx

from mgjax.config.schema import Config
from mgjax.models.codec import LatentCodec
from mgjax.models.t2v import TextToVideo
from mgjax.models.video.transformer import Conditioning


def upsample_pixels(low: jax.Array, height: int, width: int) -> jax.Array:
    """(b, t, h, w, c) in [-1, 1] -> (b, t, height, width, c), bilinear (the paper's first step)."""
    return jax.image.resize(low, low.shape[:2] + (height, width, low.shape[-1]), "bilinear")


def condition_latent(codec: LatentCodec, low: jax.Array, height: int, width: int) -> jax.Array:
    """The conditioning latent of a low-resolution video in [-1, 1]: bilinear upsampling, then the image VAE."""
    return codec.encode(upsample_pixels(low, height, width))


class SpatialUpsampler(TextToVideo):
    """u_theta(X_t, P, t | low-resolution latent); `cfg.model` is an `UpsamplerModelConfig`
    (mgjax/config/upsample.py)."""

    def __call__(self, latents: jax.Array, t: jax.Array, tokens: Sequence[tuple[jax.Array, jax.Array]],
                 low_latent: jax.Array, frame_offset: jax.Array | None = None) -> jax.Array:
        """latents, low_latent: (b, t, h, w, c); `frame_offset` (b,): first temporal position rows (training clips
        shorter than the sampling window)."""
        cond = Conditioning(latent=low_latent, frame_offset=frame_offset)
        return self.backbone(latents, t, self.encode_text(tokens), cond)


def build_upsampler(cfg: Config) -> SpatialUpsampler:
    """Create the model under the active mesh (`jax.set_mesh`): parameters come out sharded by their rules."""
    return SpatialUpsampler(cfg, rngs=nnx.Rngs(cfg.train.seed))
