"""The DAC-VAE's reconstruction losses and metrics, as DAC computes them (descript-audio-codec `conf/base.yml`,
audiotools' `MelSpectrogramLoss`, `MultiScaleSTFTLoss`, `SISDRLoss`).

- STFT: centred frames (reflect-padded by half a window), a periodic Hann window, hop = window / 4, magnitudes.
- Mel: magnitudes times a Slaney-style mel filterbank (librosa's default: Slaney mel scale, area-normalised
  triangles), 0 Hz to Nyquist.
- Multi-scale mel distance (the loss, weight 15): the sum over DAC's seven scales (window 32 .. 2048 samples with
  5 .. 320 mels) of the L1 distance of log10 mel magnitudes clamped at 1e-5.
- Multi-scale STFT distance (a metric): windows 2048 and 512, L1 of log10 power spectra clamped at 1e-5, plus
  L1 of the power spectra.
- SI-SDR (a metric, in dB): the scale-invariant signal-to-distortion ratio of the reconstruction, zero-mean.
Audio is (b, n, 1) or (b, n).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

MEL_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BINS = (5, 10, 20, 40, 80, 160, 320)
STFT_WINDOWS = (2048, 512)
CLAMP = 1e-5


def _hz_to_mel(f):
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    f = np.asarray(f, np.float64)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, 3.0 * f / 200.0)


def _mel_to_hz(m):
    m = np.asarray(m, np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), 200.0 * m / 3.0)


@functools.lru_cache(maxsize=None)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangles on the Slaney mel scale from 0 Hz to Nyquist, each scaled to unit area
    (librosa.filters.mel's defaults)."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    lower = (freqs[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None]
    upper = (edges[None, 2:] - freqs[:, None]) / (edges[2:] - edges[1:-1])[None]
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[None]
    return weights.astype(np.float32)


def _mono(audio: jax.Array) -> jax.Array:
    return audio[..., 0] if audio.ndim == 3 else audio


def stft_magnitude(audio: jax.Array, window: int) -> jax.Array:
    """(b, n) -> (b, frames, window // 2 + 1) magnitudes; frames = 1 + n // (window // 4) (torch.stft, center=True,
    reflect padding)."""
    x = _mono(audio).astype(jnp.float32)
    hop, half = window // 4, window // 2
    x = jnp.pad(x, ((0, 0), (half, half)), mode="reflect")
    frames = 1 + (x.shape[1] - window) // hop
    index = jnp.arange(frames)[:, None] * hop + jnp.arange(window)[None, :]
    hann = 0.5 - 0.5 * jnp.cos(2 * jnp.pi * jnp.arange(window) / window)  # periodic
    return jnp.abs(jnp.fft.rfft(x[:, index] * hann, axis=-1))


def mel_distance(recon: jax.Array, target: jax.Array, sample_rate: int) -> jax.Array:
    """DAC's multi-scale mel loss (sum over the seven scales of mean |log10 mel(recon) - log10 mel(target)|)."""
    total = 0.0
    for window, bins in zip(MEL_WINDOWS, MEL_BINS):
        bank = jnp.asarray(mel_filterbank(sample_rate, window, bins))
        mel = lambda a: jnp.log10(jnp.maximum(stft_magnitude(a, window) @ bank, CLAMP))
        total = total + jnp.mean(jnp.abs(mel(recon) - mel(target)))
    return total


def stft_distance(recon: jax.Array, target: jax.Array) -> jax.Array:
    """DAC's multi-scale STFT distance: per window, mean |log10 power| difference plus mean |power| difference."""
    total = 0.0
    for window in STFT_WINDOWS:
        a, b = jnp.square(stft_magnitude(recon, window)), jnp.square(stft_magnitude(target, window))
        total = total + jnp.mean(jnp.abs(jnp.log10(jnp.maximum(a, CLAMP)) - jnp.log10(jnp.maximum(b, CLAMP))))
        total = total + jnp.mean(jnp.abs(a - b))
    return total


def si_sdr(recon: jax.Array, target: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Scale-invariant SDR per clip in dB (zero-mean signals; higher is better)."""
    x, y = _mono(recon).astype(jnp.float32), _mono(target).astype(jnp.float32)
    x, y = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    scale = jnp.sum(x * y, axis=1, keepdims=True) / (jnp.sum(y * y, axis=1, keepdims=True) + eps)
    signal, noise = scale * y, x - scale * y
    return 10 * jnp.log10((jnp.sum(signal ** 2, axis=1) + eps) / (jnp.sum(noise ** 2, axis=1) + eps))
