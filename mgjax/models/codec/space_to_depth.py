"""A parameter-free, lossless codec: fold (ft, fh, fw) pixel blocks into channels."""

from __future__ import annotations

import jax
from einops import rearrange

from mgjax.config.codec import CodecConfig
from mgjax.config.geometry import codec_geometry
from mgjax.models.codec.base import register_codec


@register_codec("space_to_depth")
class SpaceToDepthCodec:
    """(b, t, h, w, c) -> (b, t/ft, h/fh, w/fw, ft*fh*fw*c). A one-frame image with ft > 1 is tiled in time first,
    so images and videos share one codec (decode keeps the first frame)."""

    def __init__(self, cfg: CodecConfig):
        self.geometry = codec_geometry(cfg)

    has_weights = False

    @classmethod
    def build(cls, cfg: CodecConfig, module=None, stats=None) -> "SpaceToDepthCodec":
        return cls(cfg)

    def encode(self, video: jax.Array) -> jax.Array:
        ft, fh, fw = self.geometry.factors
        if video.shape[1] == 1 and ft > 1:
            video = jax.numpy.repeat(video, ft, axis=1)
        return rearrange(video, "b (t ft) (h fh) (w fw) c -> b t h w (ft fh fw c)", ft=ft, fh=fh, fw=fw)

    def decode(self, latents: jax.Array, length: int | None = None) -> jax.Array:
        ft, fh, fw = self.geometry.factors
        video = rearrange(latents, "b t h w (ft fh fw c) -> b (t ft) (h fh) (w fw) c", ft=ft, fh=fh, fw=fw)
        return video if length is None else video[:, :length]
