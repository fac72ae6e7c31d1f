"""The latent codec protocol every generative model trains in, and the registry of codec kinds.

A codec maps a signal (video (b, t, h, w, 3), image, audio) in [-1, 1] to latents and back, and declares its shape
arithmetic as a `LatentGeometry` (mgjax/config/geometry.py). Kinds register here by `CodecConfig.kind`; a kind with
weights names the module they restore into, and `mgjax.checkpoint.restore.load_codec` loads them.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.codec import CodecConfig
from mgjax.config.geometry import LatentGeometry


class LatentCodec(Protocol):
    geometry: LatentGeometry

    def encode(self, signal: jax.Array) -> jax.Array:
        """signal (b, *axes, c) in [-1, 1] -> latents (b, *latent axes, geometry.channels)."""

    def decode(self, latents: jax.Array, length: int | None = None) -> jax.Array:
        """latents -> signal in [-1, 1]; `length` trims the first axis (frames, samples) to the original's."""


class CodecKind(Protocol):
    """What a codec kind registers: `has_weights`; `module(cfg)`, the nnx module its weights restore into (a kind with
    weights); `build(cfg, module, stats)` makes the codec from it and the run's latent statistics (both None without
    weights)."""

    has_weights: bool

    def module(self, cfg: CodecConfig) -> nnx.Module: ...

    def build(self, cfg: CodecConfig, module: nnx.Module | None, stats: dict[str, Any] | None) -> LatentCodec: ...


CODECS: dict[str, CodecKind] = {}


def register_codec(kind: str) -> Callable[[type], type]:
    """Class decorator: the class's `module` and `build` classmethods make it a `CodecKind` for `kind`."""

    def register(cls: type) -> type:
        CODECS[kind] = cls
        return cls

    return register


def pixels_to_unit(video: jax.Array) -> jax.Array:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return video.astype(jnp.float32) / 127.5 - 1.0


def unit_to_pixels(video: jax.Array) -> jax.Array:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped (the inverse of `pixels_to_unit`)."""
    return jnp.clip(jnp.round((video + 1.0) * 127.5), 0, 255).astype(jnp.uint8)
