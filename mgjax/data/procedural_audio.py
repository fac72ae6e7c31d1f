"""Procedural audio for training tiny audio codecs on CPU: tones, harmonic notes, chords, sweeps, clicks and noise
bursts under envelopes, mixed, loudness-normalised. Nothing is downloaded; every clip is a pure function of
(seed, split, index).

A clip sums 1-4 events at random onsets and gains (-12..0 dB), each shaped by an attack / decay / sustain / release
envelope (attacks from 1 ms, so transients are sharp as well as soft):

- **tone**: a sine at 50 Hz .. 0.45 x the sample rate (log-uniform), sometimes with vibrato;
- **note**: a harmonic tone (f0 55-880 Hz, harmonics up to 0.45 x the sample rate falling as k^-a, a in 0.5..2,
  random phases), sometimes slightly inharmonic (bells, strings);
- **chord**: 2-4 notes of a major, minor, seventh or power chord;
- **sweep**: an exponential chirp between two log-uniform frequencies;
- **clicks**: a train of short decaying bursts at 2-40 per second;
- **noise**: white noise band-passed (centre log-uniform, 0.3-3 octaves wide) or with a 1/f^b slope.

The clip is scaled to an RMS level of -28..-14 dBFS and then, if needed, down to a peak of 0.98. The "heldout" split
draws from its own random stream: the same distribution, clips never seen in training.
"""

from __future__ import annotations

import operator

import numpy as np

SPLITS = ("train", "heldout")
EVENTS = ("tone", "note", "chord", "sweep", "clicks", "noise")
CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 7), (0, 4, 7, 11), (0, 3, 7, 10))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def envelope(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """An ADSR envelope over a random span of the clip (zero outside it)."""
    start = int(rng.integers(0, max(1, n // 2)))
    length = int(rng.integers(max(1, n // 8), n - start + 1))
    attack = max(1, int(_log_uniform(rng, 0.001, 0.2) * sr))
    decay = max(1, int(_log_uniform(rng, 0.01, 0.5) * sr))
    release = max(1, int(_log_uniform(rng, 0.005, 0.5) * sr))
    sustain = rng.uniform(0.2, 1.0)
    t = np.arange(length, dtype=np.float64)
    env = np.minimum(t / attack, 1.0)
    env = np.where(t > attack, np.maximum(sustain, 1.0 - (1.0 - sustain) * (t - attack) / decay), env)
    env *= np.clip((length - t) / release, 0.0, 1.0)
    out = np.zeros(n)
    out[start:start + length] = env
    return out


def _note(rng: np.random.Generator, f0: float, t: np.ndarray, sr: int) -> np.ndarray:
    slope, stretch = rng.uniform(0.5, 2.0), (rng.uniform(0.0, 0.002) if rng.random() < 0.3 else 0.0)
    out = np.zeros_like(t)
    for k in range(1, 64):
        f = f0 * k * np.sqrt(1.0 + stretch * k * k)
        if f > 0.45 * sr:
            break
        out += k ** -slope * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out


def event(rng: np.random.Generator, kind: str, n: int, sr: int) -> np.ndarray:
    """One event's waveform (before its envelope), peak-free scale ~1."""
    t = np.arange(n) / sr
    top = 0.45 * sr
    if kind == "tone":
        f = _log_uniform(rng, 50.0, top)
        vibrato = rng.uniform(0, 0.01) * np.sin(2 * np.pi * rng.uniform(3, 7) * t) if rng.random() < 0.4 else 0.0
        return np.sin(2 * np.pi * np.cumsum(f * (1 + vibrato)) / sr + rng.uniform(0, 2 * np.pi))
    if kind == "note":
        return _note(rng, _log_uniform(rng, 55.0, 880.0), t, sr)
    if kind == "chord":
        root, shape = _log_uniform(rng, 55.0, 440.0), CHORDS[int(rng.integers(len(CHORDS)))]
        return sum(_note(rng, root * 2 ** (s / 12), t, sr) for s in shape) / np.sqrt(len(shape))
    if kind == "sweep":
        f0, f1 = _log_uniform(rng, 50.0, top), _log_uniform(rng, 50.0, top)
        freq = f0 * (f1 / f0) ** (t / t[-1] if n > 1 else t)
        return np.sin(2 * np.pi * np.cumsum(freq) / sr)
    if kind == "clicks":
        rate, width = rng.uniform(2, 40), _log_uniform(rng, 0.0002, 0.005)
        out = np.zeros(n)
        taps = int(8 * width * sr) + 1
        burst = np.exp(-np.arange(taps) / (width * sr)) * rng.standard_normal(taps)
        for start in (np.arange(0, t[-1] if n > 1 else 0, 1 / rate) * sr).astype(int):
            seg = out[start:start + len(burst)]
            seg += burst[:len(seg)]
        return out
    if kind == "noise":
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1 / sr)
        if rng.random() < 0.5:
            centre, octaves = _log_uniform(rng, 100.0, top), rng.uniform(0.3, 3.0)
            gain = np.exp(-0.5 * (np.log2(np.maximum(freqs, 1.0) / centre) / (octaves / 2)) ** 2)
        else:
            gain = np.maximum(freqs, 20.0) ** (-rng.uniform(0.0, 1.0))
        out = np.fft.irfft(spectrum * gain, n)
        return out / (np.std(out) + 1e-12)
    raise ValueError(f"unknown event {kind!r}")


class ProceduralAudio:
    """Random-access, picklable source of {"audio": float32 (n, 1)} clips in [-1, 1]."""

    def __init__(self, split: str = "train", *, sample_rate: int = 16_000, num_samples: int = 16_000, seed: int = 0,
                 length: int = 1_000_000):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split, self.sample_rate, self.num_samples = split, sample_rate, num_samples
        self.seed, self.length = seed, length

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (f"ProceduralAudio(split={self.split!r}, sample_rate={self.sample_rate}, "
                f"num_samples={self.num_samples}, seed={self.seed}, length={self.length})")

    def events(self, index: int) -> list[str]:
        """The kinds of event clip `index` mixes."""
        return self._plan(self._rng(index))

    def _rng(self, index) -> np.random.Generator:
        index = operator.index(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for length {self.length}")
        return np.random.default_rng([self.seed, SPLITS.index(self.split), index, 2])

    @staticmethod
    def _plan(rng: np.random.Generator) -> list[str]:
        count = 1 if rng.random() < 0.35 else int(rng.integers(2, 5))
        return [EVENTS[int(i)] for i in rng.integers(len(EVENTS), size=count)]

    def __getitem__(self, index: int) -> dict:
        rng = self._rng(index)
        n, sr = self.num_samples, self.sample_rate
        mix = np.zeros(n)
        for kind in self._plan(rng):
            mix += 10 ** (rng.uniform(-12, 0) / 20) * event(rng, kind, n, sr) * envelope(rng, n, sr)
        rms = np.sqrt(np.mean(mix ** 2))
        if rms > 0:
            mix *= 10 ** (rng.uniform(-28, -14) / 20) / rms
        peak = np.max(np.abs(mix))
        if peak > 0.98:
            mix *= 0.98 / peak
        return {"audio": mix.astype(np.float32)[:, None]}
