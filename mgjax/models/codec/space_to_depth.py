"""A parameter-free, lossless codec: fold (ft, fh, fw) pixel blocks into channels."""

from __future__ import annotations

import jax
from einops import rearrange


class SpaceToDepthCodec:
    """(b, t, h, w, c) -> (b, t/ft, h/fh, w/fw, ft*fh*fw*c). A one-frame image with ft > 1 is tiled in time first,
    so images and videos share one codec (decode keeps the first frame)."""

    def __init__(self, factors: tuple[int, int, int], pixel_channels: int = 3):
        self.factors = tuple(factors)
        self.pixel_channels = pixel_channels
        self.latent_channels = pixel_channels * factors[0] * factors[1] * factors[2]

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        ft, fh, fw = self.factors
        return (max(frames // ft, 1), height // fh, width // fw, self.latent_channels)

    def encode(self, video: jax.Array) -> jax.Array:
        ft, fh, fw = self.factors
        if video.shape[1] == 1 and ft > 1:
            video = jax.numpy.repeat(video, ft, axis=1)
        return rearrange(video, "b (t ft) (h fh) (w fw) c -> b t h w (ft fh fw c)", ft=ft, fh=fh, fw=fw)

    def decode(self, latents: jax.Array, num_frames: int | None = None) -> jax.Array:
        ft, fh, fw = self.factors
        video = rearrange(latents, "b t h w (ft fh fw c) -> b (t ft) (h fh) (w fw) c", ft=ft, fh=fh, fw=fw)
        return video if num_frames is None else video[:, :num_frames]
