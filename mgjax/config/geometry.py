"""Shape arithmetic in one place: codec compression, latent grids, patch grids and token counts, from configs alone.

Every count rounds the way the layers do: a stride-s temporal conv keeps ceil(t / s) frames (so any clip length
encodes and an image keeps one latent frame), and the patchify conv (kernel = stride, VALID) keeps floor(n / p)
patches, which validation makes exact by requiring divisibility.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Literal

from mgjax.config.codec import CodecConfig
from mgjax.config.tae import TAEConfig


def frames_after_stride(frames: int, stride: int) -> int:
    """A stride-s temporal conv keeps ceil(t / s) frames, so any length encodes and one frame stays one frame."""
    return -(-frames // stride)

def audio_hop(strides: tuple[int, ...]) -> int:
    """Samples per audio latent frame: the product of the codec's strides (DAC-VAE 48 kHz: 1920, 25 frames/s)."""
    hop = 1
    for s in strides:
        hop *= s
    return hop


def audio_latent_frames(samples: int, hop: int) -> int:
    """Audio is padded at its end to a multiple of the hop, so n samples encode to ceil(n / hop) latent frames and
    decode to exactly that many hops; the decoder's caller trims back to n."""
    return -(-samples // hop)


def dac_context_frames(strides: tuple[int, ...], dilations: tuple[int, ...], residual_kernel: int) -> tuple[int, int]:
    """How many latent frames of context on each side make a chunk of the DAC-VAE's encoder (input: audio) and
    decoder (input: latents) exact: each conv reaches (k - 1) x dilation positions of its input, at that input's
    spacing in samples; the sum over the stack bounds the reach on either side. Returns (encoder, decoder) frames."""
    units = (residual_kernel - 1) * sum(dilations)  # the residual units' dilated convs (their 1x1 convs reach 0)
    hop = audio_hop(strides)
    reach, spacing = 6, 1  # conv_in, kernel 7
    for s in strides:
        reach += units * spacing + (2 * s - 1) * spacing  # residual units, then the kernel-2s strided conv
        spacing *= s
    encoder = reach + 2 * spacing  # conv_out, kernel 3, at the latent spacing
    reach, spacing = 6 * hop, hop  # decoder conv_in, kernel 7, over latent frames
    for s in reversed(strides):
        reach += -(-2 * s // s) * spacing  # a transposed conv's output depends on ceil(2s / s) of its inputs
        spacing //= s
        reach += units * spacing
    decoder = reach + 6  # conv_out, kernel 7, at one sample
    return -(-encoder // hop) + 1, -(-decoder // hop) + 1


def temporal_factor(temporal_downsample: tuple[bool, ...]) -> int:
    return 2 ** sum(bool(d) for d in temporal_downsample)


def tae_compression(tae: TAEConfig) -> tuple[int, int, int]:
    """(t, h, w) compression of a TAE: each level but the last halves h and w; flagged levels also halve t."""
    spatial = 2 ** (len(tae.channel_mult) - 1)
    return temporal_factor(tae.temporal_downsample), spatial, spatial


def tae_latent_frames(tae: TAEConfig, frames: int) -> int:
    """Latent frames of a clip: ceil(t / 2) per temporal downsampling, i.e. ceil(t / ft)."""
    for down in tae.temporal_downsample:
        frames = frames_after_stride(frames, 2) if down else frames
    return frames


@dataclasses.dataclass(frozen=True)
class LatentGeometry:
    """How a codec maps a signal to latents: `layout` names the signal's axes (video (t, h, w), image (h, w),
    audio (samples,)), `factors` the compression along each (a latent position covers that many signal positions,
    the last one rounding up), `channels` the latent width."""

    layout: Literal["video", "image", "audio"]
    factors: tuple[int, ...]
    channels: int

    def latent_shape(self, *signal: int) -> tuple[int, ...]:
        """Signal sizes (one per axis of the layout) -> latent shape (..., channels)."""
        if len(signal) != len(self.factors):
            raise ValueError(f"a {self.layout} codec takes {len(self.factors)} sizes, got {signal}")
        return tuple(-(-s // f) for s, f in zip(signal, self.factors)) + (self.channels,)


def _space_to_depth(c: CodecConfig) -> LatentGeometry:
    return LatentGeometry("video", tuple(c.factors), c.pixel_channels * math.prod(c.factors))


def _tae(c: CodecConfig) -> LatentGeometry:
    return LatentGeometry("video", tae_compression(c.tae), c.tae.latent_channels)


# One entry per codec kind (CodecConfig.kind); a new codec adds its row.
CODEC_GEOMETRY: dict[str, Callable[[CodecConfig], LatentGeometry]] = {
    "space_to_depth": _space_to_depth,
    "tae": _tae,
    "image_vae": _tae,  # a frame-wise TAE: its temporal factor is 1
}


def codec_geometry(c: CodecConfig) -> LatentGeometry:
    return CODEC_GEOMETRY[c.kind](c)


def latent_grid(c: CodecConfig, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(t', h', w', c) of a clip under a video codec."""
    return codec_geometry(c).latent_shape(frames, height, width)


def patch_grid(latent: tuple[int, ...], patch_size: tuple[int, ...]) -> tuple[int, ...]:
    """Patches along each latent axis (the channel axis, if present, is ignored)."""
    return tuple(n // p for n, p in zip(latent, patch_size))


def video_tokens(cfg, frames: int | None = None, height: int | None = None, width: int | None = None) -> dict:
    """A text-to-video config's clip (default: the configured data size) -> latent grid, patch grid, video tokens and
    text tokens. `cfg` is a root Config whose model is a VideoModelConfig."""
    d = cfg.data
    frames, height, width = frames or d.num_frames, height or d.height, width or d.width
    latent = latent_grid(cfg.codec, frames, height, width)
    grid = patch_grid(latent, cfg.model.patch_size)
    return {"frames": frames, "height": height, "width": width, "latent": latent, "patch_grid": grid,
            "video_tokens": math.prod(grid), "text_tokens": sum(e.max_length for e in cfg.text.encoders)}
