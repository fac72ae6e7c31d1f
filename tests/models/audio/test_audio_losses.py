"""The DAC-VAE's metrics on signals whose answer is known (the STFT, filterbank and mel distance are checked against
torch and transformers in tests/parity/test_dac_parity.py)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from mgjax.models.audio.losses import mel_distance, mel_filterbank, si_sdr, stft_distance, stft_magnitude


def test_si_sdr_is_scale_invariant_and_reads_the_noise_level():
    rng = np.random.default_rng(0)
    clean = rng.standard_normal((2, 16000)).astype(np.float32)
    noise = rng.standard_normal((2, 16000)).astype(np.float32)
    noisy = clean + 0.1 * noise
    np.testing.assert_allclose(si_sdr(0.3 * noisy, clean), si_sdr(noisy, clean), atol=1e-3)
    assert float(jnp.min(si_sdr(clean, clean))) > 80
    np.testing.assert_allclose(si_sdr(noisy, clean), [20.0, 20.0], atol=0.2)  # noise at -20 dB
    assert float(jnp.max(si_sdr(noise, clean))) < -15


def test_distances_are_zero_on_identity_and_grow_with_distortion():
    t = np.arange(16000) / 16000
    clean = (0.5 * np.sin(2 * np.pi * 440 * t))[None, :, None].astype(np.float32)
    mild, harsh = np.clip(clean, -0.45, 0.45), np.clip(clean, -0.1, 0.1)
    assert float(mel_distance(clean, clean, 16000)) == 0.0 and float(stft_distance(clean, clean)) == 0.0
    assert 0 < float(mel_distance(mild, clean, 16000)) < float(mel_distance(harsh, clean, 16000))
    assert 0 < float(stft_distance(mild, clean)) < float(stft_distance(harsh, clean))
    assert stft_magnitude(clean, 512).shape == (1, 1 + 16000 // 128, 257)
    bank = mel_filterbank(16000, 2048, 80)
    assert bank.shape == (1025, 80) and np.all(bank.max(axis=0) > 0)  # no empty mel band at this resolution
