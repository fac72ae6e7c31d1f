"""The spatial upsampler's frame-wise image VAE (paper §3.1.7): every frame encodes on its own, so latent frames =
pixel frames. It is the TAE's architecture with nothing temporal (no temporal downsampling, 1-tap temporal convs, no
temporal attention; `validate_image_vae` checks it), trained on images by the `tae` task, and it reuses the TAE's
tiled inference: with no frame mixing, tiles of `encode_tile_frames` / `decode_tile_frames` frames without overlap are
exact and bound memory by the tile, whatever the clip's length."""

from __future__ import annotations

from mgjax.models.codec.base import register_codec
from mgjax.models.codec.tae_codec import TAECodec


@register_codec("image_vae")
class ImageVAECodec(TAECodec):
    """The TAE codec's normalisation (per-channel shift and scale from the run's latent_stats.json) and tiling; the
    config's checks (`validate_image_vae`) are what make it frame-wise."""
