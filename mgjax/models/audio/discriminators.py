"""DAC's discriminators (descript-audio-codec `dac/model/discriminator.py`), for the DAC-VAE's adversarial phase.

- **Multi-period** (HiFi-GAN's MPD; periods 2, 3, 5, 7, 11): the waveform, reflect-padded to a multiple of the
  period, folded into (n / p, p) and read by 2-D convs with (5, 1) kernels striding 3 along time (widths 32, 128,
  512, 1024, 1024), then a (3, 1) conv to one channel.
- **Multi-band multi-scale STFT** (DAC's MRD; FFT sizes 2048, 1024, 512): the complex STFT (real and imaginary parts
  as two channels, hop = window / 4) split into five frequency bands (0-10-25-50-75-100% of the bins), each read by
  its own stack of (3, 9) convs (the last three striding 2 along frequency, width 32) and a (3, 3) conv; the bands'
  maps are joined along frequency and a (3, 3) conv gives one channel.

Every conv is weight-normalised (as in DAC) and followed by leaky ReLU 0.1, except the last. Each discriminator
returns its feature maps, the last being its logits: the losses are LSGAN's (DAC's GANLoss) and an L1 feature
matching over every map but the last. Inputs are DAC's: the waveform with its mean removed and its peak at 0.8.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.nn.params import param

PERIODS = (2, 3, 5, 7, 11)
PERIOD_WIDTHS = (32, 128, 512, 1024, 1024)  # HiFi-GAN's and DAC's
FFT_SIZES = (2048, 1024, 512)
STFT_CHANNELS = 32
BANDS = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


class WNConv2d(nnx.Module):
    """A weight-normalised 2-D conv (g per output channel), NHWC, torch's default initialisation."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1),
                 padding: tuple[int, int] = (0, 0), *, rngs: nnx.Rngs):
        bound = 1.0 / math.sqrt(cin * kernel[0] * kernel[1])
        uniform = lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -bound, bound)
        self.v = param(uniform, (*kernel, cin, cout), (None, None, "conv_in", "conv_out"), key=rngs.params())
        v = self.v[...]
        self.g = param(lambda *_: jnp.sqrt(jnp.sum(jnp.square(v), axis=(0, 1, 2))), (cout,), ("conv_out",))
        self.bias = param(uniform, (cout,), ("conv_out",), key=rngs.params())
        self.stride, self.padding = stride, padding

    def __call__(self, x: jax.Array) -> jax.Array:
        v = self.v[...]
        w = self.g[...] * v / jnp.sqrt(jnp.sum(jnp.square(v), axis=(0, 1, 2), keepdims=True))
        pad = [(p, p) for p in self.padding]
        y = jax.lax.conv_general_dilated(x, w, self.stride, pad, dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + self.bias[...]


def _leaky(x: jax.Array) -> jax.Array:
    return jax.nn.leaky_relu(x, 0.1)


def normalise(audio: jax.Array) -> jax.Array:
    """(b, n, 1) -> mean removed, peak 0.8 (what DAC's discriminators see)."""
    x = audio - jnp.mean(audio, axis=1, keepdims=True)
    return 0.8 * x / (jnp.max(jnp.abs(x), axis=1, keepdims=True) + 1e-9)


class PeriodDiscriminator(nnx.Module):
    def __init__(self, period: int, widths: tuple[int, ...] = PERIOD_WIDTHS, *, rngs: nnx.Rngs):
        widths = (1, *widths)
        self.period = period
        self.convs = nnx.List([WNConv2d(a, b, (5, 1), (3 if i < len(widths) - 2 else 1, 1), (2, 0), rngs=rngs)
                               for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))])
        self.post = WNConv2d(widths[-1], 1, (3, 1), (1, 1), (1, 0), rngs=rngs)

    def __call__(self, audio: jax.Array) -> list[jax.Array]:
        x = audio[..., 0]
        n, p = x.shape[1], self.period
        x = jnp.pad(x, ((0, 0), (0, p - n % p)), mode="reflect")
        x = x.reshape(x.shape[0], -1, p, 1)
        maps = []
        for conv in self.convs:
            x = _leaky(conv(x))
            maps.append(x)
        maps.append(self.post(x))
        return maps


def complex_stft(audio: jax.Array, window: int) -> jax.Array:
    """(b, n, 1) -> (b, frames, window // 2 + 1, 2): real and imaginary parts (centred, reflect, periodic Hann,
    hop window / 4)."""
    x = jnp.pad(audio[..., 0], ((0, 0), (window // 2, window // 2)), mode="reflect")
    hop = window // 4
    frames = 1 + (x.shape[1] - window) // hop
    index = jnp.arange(frames)[:, None] * hop + jnp.arange(window)[None, :]
    hann = 0.5 - 0.5 * jnp.cos(2 * jnp.pi * jnp.arange(window) / window)
    spec = jnp.fft.rfft(x[:, index] * hann, axis=-1)
    return jnp.stack([spec.real, spec.imag], axis=-1)


class BandedSTFTDiscriminator(nnx.Module):
    def __init__(self, fft_size: int, channels: int = STFT_CHANNELS, *, rngs: nnx.Rngs):
        self.fft_size = fft_size
        bins = fft_size // 2 + 1
        self.bands = tuple((int(lo * bins), int(hi * bins)) for lo, hi in BANDS)

        def stack():
            return nnx.List([WNConv2d(2, channels, (3, 9), (1, 1), (1, 4), rngs=rngs)]
                            + [WNConv2d(channels, channels, (3, 9), (1, 2), (1, 4), rngs=rngs) for _ in range(3)]
                            + [WNConv2d(channels, channels, (3, 3), (1, 1), (1, 1), rngs=rngs)])

        self.band_convs = nnx.List([stack() for _ in BANDS])
        self.post = WNConv2d(channels, 1, (3, 3), (1, 1), (1, 1), rngs=rngs)

    def __call__(self, audio: jax.Array) -> list[jax.Array]:
        spec = complex_stft(audio, self.fft_size)  # (b, time, freq, 2): NHWC with time as height
        maps, outs = [], []
        for (lo, hi), convs in zip(self.bands, self.band_convs):
            x = spec[:, :, lo:hi]
            for conv in convs:
                x = _leaky(conv(x))
                maps.append(x)
            outs.append(x)
        x = self.post(jnp.concatenate(outs, axis=2))
        return maps + [x]


class DACDiscriminator(nnx.Module):
    """The multi-period and the multi-band multi-scale STFT discriminators together: a list of feature-map lists.
    `period_widths` and `stft_channels` default to DAC's; narrower ones make a CPU-sized adversary."""

    def __init__(self, periods: tuple[int, ...] = PERIODS, fft_sizes: tuple[int, ...] = FFT_SIZES,
                 period_widths: tuple[int, ...] = PERIOD_WIDTHS, stft_channels: int = STFT_CHANNELS, *,
                 rngs: nnx.Rngs):
        self.discriminators = nnx.List([PeriodDiscriminator(p, period_widths, rngs=rngs) for p in periods]
                                       + [BandedSTFTDiscriminator(f, stft_channels, rngs=rngs) for f in fft_sizes])

    def __call__(self, audio: jax.Array) -> list[list[jax.Array]]:
        x = normalise(audio)
        return [d(x) for d in self.discriminators]


def discriminator_loss(fake: list[list[jax.Array]], real: list[list[jax.Array]]) -> jax.Array:
    """LSGAN: mean(D(fake)^2) + mean((1 - D(real))^2), summed over the discriminators."""
    return sum(jnp.mean(jnp.square(f[-1])) + jnp.mean(jnp.square(1 - r[-1])) for f, r in zip(fake, real))


def generator_losses(fake: list[list[jax.Array]], real: list[list[jax.Array]]) -> tuple[jax.Array, jax.Array]:
    """(adversarial, feature matching): mean((1 - D(fake))^2), and the L1 distance of every feature map but the
    logits to the real audio's (held fixed), summed over the discriminators."""
    adversarial = sum(jnp.mean(jnp.square(1 - f[-1])) for f in fake)
    features = sum(jnp.mean(jnp.abs(a - jax.lax.stop_gradient(b))) for f, r in zip(fake, real)
                   for a, b in zip(f[:-1], r[:-1]))
    return adversarial, features
