"""Second-order degradation (Real-ESRGAN style; config and defaults: mgjax/config/degradation.py): a high-resolution
clip becomes the low-resolution input the spatial upsampler trains on.

Host-side numpy, run in the input pipeline: JPEG is the real codec (PIL), which no array framework can trace, and a
clip's degradation is a pure function of its generator, so a batch is reproducible from its seed. `draw` picks one
clip's parameters (kernels, sizes, noise kinds, qualities), `apply` runs them on every frame; only the noise differs
between frames. The TAE round trip (the paper's "TAE-like artifacts") needs the TAE's weights and runs on device in
the train step (mgjax/train/upsample_step.py).
"""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
from PIL import Image
from scipy import signal, special

from mgjax.config.degradation import DegradationConfig, DegradationRound

KERNELS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESAMPLE = {"area": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


# -- kernels -------------------------------------------------------------------------------------------------------

def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    return np.meshgrid(r, r, indexing="ij")


def gaussian_family_kernel(size: int, sigma: tuple[float, float], angle: float, family: str = "gaussian",
                           beta: float = 1.0) -> np.ndarray:
    """A normalised (size, size) kernel of the quadratic form d = x^T S^-1 x (S: sigmas rotated by `angle`):
    gaussian exp(-d / 2), generalized exp(-(d)^beta / 2), plateau 1 / (1 + d^beta)."""
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    inv = np.linalg.inv(rot @ np.diag(np.square(sigma)) @ rot.T)
    y, x = _grid(size)
    d = inv[0, 0] * x * x + (inv[0, 1] + inv[1, 0]) * x * y + inv[1, 1] * y * y
    if family == "gaussian":
        k = np.exp(-0.5 * d)
    elif family == "generalized":
        k = np.exp(-0.5 * np.power(d, beta))
    elif family == "plateau":
        k = 1.0 / (1.0 + np.power(d, beta))
    else:
        raise ValueError(f"unknown kernel family {family!r}")
    return (k / k.sum()).astype(np.float32)


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """The circular ideal low-pass of cut-off `cutoff` (radians per pixel), truncated to (size, size): ringing."""
    y, x = _grid(size)
    r = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    k[r == 0] = cutoff ** 2 / (4 * np.pi)
    return (k / k.sum()).astype(np.float32)


def random_kernel(rng: np.random.Generator, r: DegradationRound) -> np.ndarray:
    size = int(rng.choice(np.arange(r.kernel_sizes[0] | 1, r.kernel_sizes[1] + 1, 2)))
    if rng.random() < r.sinc_prob:
        low = math.pi / 3 if size < 13 else math.pi / 5
        return sinc_kernel(size, float(rng.uniform(low, math.pi)))
    kind = KERNELS[int(rng.choice(len(KERNELS), p=np.asarray(r.kernel_probs) / sum(r.kernel_probs)))]
    s1 = float(rng.uniform(*r.sigma))
    if kind.endswith("iso") and not kind.endswith("aniso"):
        sigma, angle = (s1, s1), 0.0
    else:
        sigma, angle = (s1, float(rng.uniform(*r.sigma))), float(rng.uniform(-math.pi, math.pi))
    family = kind.split("_")[0] if "_" in kind else "gaussian"
    beta = float(rng.uniform(*(r.beta_plateau if family == "plateau" else r.beta_gaussian)))
    return gaussian_family_kernel(size, sigma, angle, family, beta)


# -- operations on float (t, h, w, 3) clips in [0, 1] --------------------------------------------------------------

def blur(clip: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Every frame filtered by `kernel`, edges reflected (FFT convolution: any kernel size costs the same)."""
    p = kernel.shape[0] // 2
    padded = np.pad(clip, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
    return signal.fftconvolve(padded, kernel[None, :, :, None], mode="valid", axes=(1, 2)).astype(np.float32)


def resize(clip: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Every frame resized to (h, w) with PIL's `area`, `bilinear` or `bicubic` (antialiased when shrinking)."""
    if clip.shape[1:3] == tuple(size):
        return clip
    out = [np.stack([np.asarray(Image.fromarray(f[..., c]).resize((size[1], size[0]), RESAMPLE[mode]))
                     for c in range(f.shape[-1])], -1) for f in clip]
    return np.stack(out).astype(np.float32)


def add_noise(clip: np.ndarray, rng: np.random.Generator, kind: str, strength: float, gray: bool) -> np.ndarray:
    """Gaussian noise of `strength` 8-bit levels, or Poisson (shot) noise at 8-bit photon counts times `strength`;
    `gray`: the same noise on the three channels. New noise in every frame."""
    shape = clip.shape[:-1] + (1 if gray else clip.shape[-1],)
    if kind == "gaussian":
        noise = rng.normal(0.0, strength / 255.0, shape)
    else:
        base = clip.mean(-1, keepdims=True) if gray else clip
        levels = 255.0
        noise = (rng.poisson(np.clip(base, 0, 1) * levels) / levels - base) * strength
    return np.clip(clip + noise.astype(np.float32), 0.0, 1.0)


def jpeg(clip: np.ndarray, quality: int) -> np.ndarray:
    """Every frame through a real JPEG encode and decode at `quality` (rounded to 8 bits first, as a file would be)."""
    out = []
    for f in to_uint8(clip):
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        with Image.open(buf) as image:
            out.append(np.asarray(image.convert("RGB")))
    return np.stack(out).astype(np.float32) / 255.0


def to_uint8(clip: np.ndarray) -> np.ndarray:
    return np.clip(np.round(clip * 255.0), 0, 255).astype(np.uint8)


# -- one clip's degradation ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Degradation:
    """One clip's drawn operations, in order: ("blur", kernel), ("resize", (h, w), mode), ("noise", kind, strength,
    gray), ("jpeg", quality); `noise_seed` seeds the per-frame noise."""

    ops: tuple[tuple, ...]
    noise_seed: int


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(4, round(size[0] * scale)), max(4, round(size[1] * scale))


def _round_ops(rng: np.random.Generator, r: DegradationRound, size: tuple[int, int], shuffle: bool) -> list[tuple]:
    ops = []
    if rng.random() < r.blur_prob:
        ops.append(("blur", random_kernel(rng, r)))
    way = int(rng.choice(3, p=np.asarray(r.resize_probs) / sum(r.resize_probs)))
    scale = (float(rng.uniform(1.0, r.resize_scale[1])), float(rng.uniform(r.resize_scale[0], 1.0)), 1.0)[way]
    ops.append(("resize", _scaled(size, scale), str(rng.choice(list(RESAMPLE)))))
    if rng.random() < r.noise_prob:
        gaussian = rng.random() < r.gaussian_noise_prob
        strength = float(rng.uniform(*(r.noise_sigma if gaussian else r.poisson_scale)))
        ops.append(("noise", "gaussian" if gaussian else "poisson", strength, bool(rng.random() < r.gray_noise_prob)))
    if rng.random() < r.jpeg_prob:
        ops.append(("jpeg", int(rng.integers(r.jpeg_quality[0], r.jpeg_quality[1] + 1))))
    if shuffle:
        ops = [ops[i] for i in rng.permutation(len(ops))]
    return ops


def draw(rng: np.random.Generator, cfg: DegradationConfig, high: tuple[int, int], low: tuple[int, int]) -> Degradation:
    """One clip's degradation from a (high) to a (low) resolution: two rounds (the first's resize relative to the
    high resolution, the second's to the low one), then the final resize to `low` with a sinc filter and a JPEG in
    either order. Disabled (or, with `clean_prob`, skipped): one antialiased bicubic resize."""
    if not cfg.enabled or rng.random() < cfg.clean_prob:
        return Degradation((("resize", tuple(low), "bicubic"),), 0)
    ops = _round_ops(rng, cfg.first, tuple(high), cfg.shuffle) + _round_ops(rng, cfg.second, tuple(low), cfg.shuffle)
    final = [("resize", tuple(low), str(rng.choice(list(RESAMPLE))))]
    if rng.random() < cfg.final_sinc_prob:
        final.append(("blur", sinc_kernel(int(rng.choice(np.arange(7, 16, 2))), float(rng.uniform(math.pi / 3,
                                                                                                  math.pi)))))
    quality = ("jpeg", int(rng.integers(cfg.final_jpeg[0], cfg.final_jpeg[1] + 1)))
    final = final + [quality] if rng.random() < 0.5 else [quality] + final
    return Degradation(tuple(ops + final), int(rng.integers(2**31)))


def apply(clip: np.ndarray, degradation: Degradation) -> np.ndarray:
    """uint8 (t, h, w, 3) -> the degraded uint8 clip at the degradation's final size."""
    x = clip.astype(np.float32) / 255.0
    noise_rng = np.random.default_rng(degradation.noise_seed)
    for op in degradation.ops:
        if op[0] == "blur":
            x = np.clip(blur(x, op[1]), 0.0, 1.0)
        elif op[0] == "resize":
            x = np.clip(resize(x, op[1], op[2]), 0.0, 1.0)
        elif op[0] == "noise":
            x = add_noise(x, noise_rng, *op[1:])
        else:
            x = jpeg(x, op[1])
    return to_uint8(x)


def degrade(clip: np.ndarray, cfg: DegradationConfig, scale: int, rng: np.random.Generator) -> np.ndarray:
    """A high-resolution uint8 clip -> its degraded low-resolution input (each side divided by `scale`)."""
    high = clip.shape[1:3]
    return apply(clip, draw(rng, cfg, high, (high[0] // scale, high[1] // scale)))
