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


@dataclasses.dataclass(frozen=True)
class DACVAELossConfig:
    """DAC-VAE training (DAC's `conf/base.yml` where it applies): the multi-scale mel distance (weight 15), from
    `disc_start` the multi-period and multi-band multi-scale STFT discriminators with LSGAN (weight 1) and feature
    matching (weight 2). The VAE's KL term replaces DAC's codebook and commitment losses; the paper gives no weight,
    so it is stable-audio-tools' for its DAC-encoder VAE (1e-4, KL summed over channels, averaged over frames). No
    waveform L1: DAC's issue #17 records that it made the output buzzy."""

    mel_weight: float = 15.0
    kl_weight: float = 1e-4
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0
    disc_start: int = 0  # generator steps before the discriminators switch on
    disc_learning_rate: float = 0.0  # 0: optim.learning_rate (DAC uses AdamW 1e-4 for both)
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    fft_sizes: tuple[int, ...] = (2048, 1024, 512)
    period_widths: tuple[int, ...] = (32, 128, 512, 1024, 1024)  # the multi-period convs (DAC's; the last strides 1)
    stft_channels: int = 32  # the multi-band STFT discriminator's width (DAC's)
    sample_posterior: bool = True
