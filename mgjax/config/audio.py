"""Movie Gen Audio's codec (paper §6): the DAC-VAE's architecture."""

from __future__ import annotations

import dataclasses

from mgjax.config.video import Dtype


@dataclasses.dataclass(frozen=True)
class DACVAEConfig:
    """The Descript Audio Codec's encoder and decoder with its residual vector quantiser replaced by a VAE bottleneck
    (paper §6: 48 kHz mono -> 25 latent frames per second of 128 channels, so a hop of 1920 samples).

    The paper gives the rate, the hop and the width; the rest is DAC's 44.1 kHz model (encoder width 64 doubling at
    each block, decoder width 1536 halving, residual units with dilations 1/3/9, kernel 7, Snake activations). DAC's
    strides are (2, 4, 8, 8) for a hop of 512; for 1920 we choose (4, 6, 8, 10): four blocks as DAC, and every stride
    even, so a transposed conv (kernel 2s, padding s/2) gives exactly s samples per frame and latent frames x hop ==
    samples for any input padded to a multiple of the hop (odd strides lose a sample per block)."""

    sample_rate: int = 48_000
    encoder_dim: int = 64  # doubles at each downsampling block
    strides: tuple[int, ...] = (4, 6, 8, 10)  # encoder order; the decoder upsamples in reverse
    decoder_dim: int = 1536  # halves at each upsampling block
    latent_channels: int = 128
    dilations: tuple[int, ...] = (1, 3, 9)
    residual_kernel: int = 7
    dtype: Dtype = "float32"
    param_dtype: Dtype = "float32"
