"""The latent codec interface the video model trains in: pixels (b, t, h, w, 3) <-> latents (b, t', h', w', c).

Implementations: the trained TAE (`tae_codec.py`, loaded from a TAE run by `mgjax.pipelines.codec.load_codec`) and a
lossless, parameter-free space-to-depth codec for training on pixels.
"""

from __future__ import annotations

from typing import Protocol

import jax

from mgjax.errors import UserError


class LatentCodec(Protocol):
    factors: tuple[int, int, int]  # (t, h, w) compression
    latent_channels: int

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(t', h', w', c) for a clip of the given size."""

    def encode(self, video: jax.Array) -> jax.Array:
        """video: (b, t, h, w, 3) in [-1, 1] -> latents (b, t', h', w', c)."""

    def decode(self, latents: jax.Array, num_frames: int | None = None) -> jax.Array:
        """latents (b, t', h', w', c) -> video (b, num_frames or ft * t', h, w, 3) in [-1, 1]."""


def latent_grid(cfg, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(t', h', w', c) from a `CodecConfig` alone (no model built): ceil(frames / ft) latent frames, so one frame (an
    image) keeps one latent frame."""
    ft, fh, fw = cfg.factors
    channels = cfg.pixel_channels * ft * fh * fw if cfg.kind == "space_to_depth" else cfg.latent_channels
    return (-(-frames // ft), height // fh, width // fw, channels)


def build_codec(cfg) -> LatentCodec:
    """A parameter-free codec named by a `CodecConfig`; a TAE has weights, so it comes from
    `mgjax.pipelines.codec.load_codec`."""
    from mgjax.models.codec.space_to_depth import SpaceToDepthCodec  # imported here: it implements this interface

    if cfg.kind == "space_to_depth":
        return SpaceToDepthCodec(cfg.factors, cfg.pixel_channels)
    raise UserError(f"codec kind {cfg.kind!r} has weights: load it with mgjax.pipelines.codec.load_codec")
