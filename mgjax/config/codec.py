"""Latent codecs: what turns pixels (or, later, audio) into the latents a generative model trains in."""

from __future__ import annotations

import dataclasses
from typing import Literal

from mgjax.config.tae import TAEConfig


@dataclasses.dataclass(frozen=True)
class CodecConfig:
    """`space_to_depth` is lossless and parameter-free (latent channels = 3 x prod(factors)); `tae` is the paper's
    temporal autoencoder (8x8x8, 16 channels); `image_vae` is the spatial upsampler's frame-wise image VAE (a TAE
    with nothing temporal: factors (1, f, f)). Each kind's latent geometry: `mgjax.config.geometry.codec_geometry`."""

    kind: Literal["space_to_depth", "tae", "image_vae"] = "tae"
    factors: tuple[int, int, int] = (8, 8, 8)  # (t, h, w) compression; for the TAE and image VAE it must match `tae`
    latent_channels: int = 16  # the TAE's (must match `tae`); space_to_depth derives its own
    pixel_channels: int = 3
    tae: TAEConfig = TAEConfig()
    # A trained codec's run directory (its latest checkpoint and its latent_stats.json); "" builds an untrained one,
    # which only abstract uses (shapes, inspect, AOT) should do.
    checkpoint: str = ""
