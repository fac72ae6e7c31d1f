"""The spatial upsampler's model config (paper §3.1.7): the video backbone with the encoded low-resolution video on
extra zero-initialised input channels."""

from __future__ import annotations

import dataclasses

from mgjax.config.video import VideoModelConfig


@dataclasses.dataclass(frozen=True)
class UpsamplerModelConfig(VideoModelConfig):
    """Build it with `upsampler_model(base)`, which sets cond_channels = in_channels: the low-resolution video,
    bilinearly upsampled in pixels and encoded by the same frame-wise image VAE as the target, is concatenated to the
    noisy latent on channels."""

    scale: int = 2  # output side / input side (paper: trained for 2x; the design works for any factor)


def upsampler_model(base: VideoModelConfig, **overrides) -> UpsamplerModelConfig:
    """The upsampler on a backbone config (the text-to-image parent run's `model`)."""
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(VideoModelConfig)}
    cfg = UpsamplerModelConfig(**{**fields, **overrides})
    return dataclasses.replace(cfg, cond_channels=cfg.in_channels)
