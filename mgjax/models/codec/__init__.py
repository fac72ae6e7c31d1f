"""Latent codecs: the protocol, the registry, and the built-in kinds (imported here so they register)."""

from mgjax.models.codec import image_vae, space_to_depth, tae_codec
from mgjax.models.codec.base import CODECS, LatentCodec, pixels_to_unit, register_codec, unit_to_pixels

__all__ = ["CODECS", "LatentCodec", "image_vae", "pixels_to_unit", "register_codec", "space_to_depth", "tae_codec",
           "unit_to_pixels"]
