"""Procedural audio (mgjax/data/procedural_audio.py): seeded, split, loudness-normalised, and each event is what it
says it is, read from its spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from mgjax.data.procedural_audio import EVENTS, ProceduralAudio, event

SR = 16_000


def peak_share(x: np.ndarray) -> float:
    """The share of the energy in the strongest 5 Hz of the spectrum: ~1 for a tone, small for noise."""
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    width = max(1, int(5 * len(x) / SR))
    return float(np.max(np.convolve(power, np.ones(width), "same")) / np.sum(power))


def peak_hz(x: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x))))) * SR / len(x))


def test_clips_are_seeded_split_and_loudness_normalised():
    train, heldout = ProceduralAudio("train", num_samples=8000), ProceduralAudio("heldout", num_samples=8000)
    np.testing.assert_array_equal(train[3]["audio"], ProceduralAudio("train", num_samples=8000)[3]["audio"])
    assert not np.allclose(train[3]["audio"], heldout[3]["audio"])
    clips = np.stack([train[i]["audio"] for i in range(64)])
    assert clips.shape == (64, 8000, 1) and clips.dtype == np.float32
    peak, rms_db = np.abs(clips).max(axis=(1, 2)), 20 * np.log10(np.sqrt(np.mean(clips ** 2, axis=(1, 2))))
    assert peak.max() <= 0.98 + 1e-6 and rms_db.max() <= -14 + 1e-3
    assert np.all((rms_db >= -28 - 1e-3) | (np.abs(peak - 0.98) < 1e-4))  # quieter only when peak-limited
    kinds = {k for i in range(64) for k in train.events(i)}
    assert kinds == set(EVENTS)
    with pytest.raises(IndexError):
        train[len(train)]


def test_each_event_is_what_its_name_says():
    rng = np.random.default_rng(0)
    n = SR
    for _ in range(5):
        tone, noise = event(rng, "tone", n, SR), event(rng, "noise", n, SR)
        assert peak_share(tone) > 0.9 and peak_share(noise) < 0.5
        sweep = event(rng, "sweep", n, SR)
        first, last = peak_hz(sweep[: n // 8]), peak_hz(sweep[-n // 8:])
        assert abs(np.log2(first / last)) > 0.05 or peak_share(sweep) > 0.9  # it moves, unless both ends coincide
        clicks = event(rng, "clicks", n, SR)
        kurtosis = np.mean(clicks ** 4) / np.mean(clicks ** 2) ** 2
        assert kurtosis > 5  # energy in short bursts
        note = event(rng, "note", n, SR)
        power = np.abs(np.fft.rfft(note * np.hanning(n))) ** 2
        top = int(np.argmax(power))
        power[max(0, top - 10):top + 11] = 0
        assert power.max() > 0.01 * np.abs(np.fft.rfft(note * np.hanning(n)))[top] ** 2  # overtones: not a sine
