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
    # A zero-initialised linear map from each patch of the conditioning latent straight to the output patch, scaled
    # by (1 - t) so it speaks at the noise end and is silent at the data end (paper silent; not in the 7B config).
    # Copying the input is then one linear map away instead of a path the stack must learn (docs/upsample.md).
    cond_skip: bool = False
    # The skip's output is gain x (kernel @ patch). Adam moves a weight by about the learning rate per step, so a
    # zero-initialised map needs ~1 / lr steps to reach the identity; the gain makes it that many times faster (it
    # acts as a learning-rate multiplier for this one map).
    cond_skip_gain: float = 1.0


def upsampler_model(base: VideoModelConfig, **overrides) -> UpsamplerModelConfig:
    """The upsampler on a backbone config (the text-to-image parent run's `model`)."""
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(VideoModelConfig)}
    cfg = UpsamplerModelConfig(**{**fields, **overrides})
    return dataclasses.replace(cfg, cond_channels=cfg.in_channels)
