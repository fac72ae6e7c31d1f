"""Reconstruction metrics on uint8 frames: PSNR and SSIM (Wang et al. 2004), averaged per frame as the paper's
video scores are (§3.1.1: "video scores average per-frame metrics")."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _frames(x) -> jax.Array:
    """(..., h, w, c) uint8 or [0, 255] float -> (n, h, w, c) float32."""
    x = jnp.asarray(x, jnp.float32)
    return x.reshape(-1, *x.shape[-3:])


def psnr(reference, reconstruction) -> np.ndarray:
    """Per-frame PSNR in dB for 8-bit frames: (n,)."""
    a, b = _frames(reference), _frames(reconstruction)
    mse = jnp.mean(jnp.square(a - b), axis=(1, 2, 3))
    return np.asarray(10.0 * jnp.log10(255.0 ** 2 / jnp.maximum(mse, 1e-10)))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return (g / g.sum()).astype(np.float32)


def _blur(x: jax.Array, window: np.ndarray) -> jax.Array:
    """Separable 'valid' Gaussian filter over h and w of (n, h, w, c), channel by channel."""
    n, h, w, c = x.shape
    y = jnp.moveaxis(x, -1, 1).reshape(n * c, 1, h, w)
    k = jnp.asarray(window)
    y = jax.lax.conv_general_dilated(y, k.reshape(1, 1, -1, 1), (1, 1), "VALID")
    y = jax.lax.conv_general_dilated(y, k.reshape(1, 1, 1, -1), (1, 1), "VALID")
    return jnp.moveaxis(y.reshape(n, c, *y.shape[2:]), 1, -1)


def ssim(reference, reconstruction) -> np.ndarray:
    """Per-frame SSIM (11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, mean over channels): (n,).
    Frames smaller than the window use a window of the frame's short side."""
    a, b = _frames(reference), _frames(reconstruction)
    size = min(11, a.shape[1], a.shape[2])
    window = _gaussian_window(size, 1.5 * size / 11)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _blur(a, window), _blur(b, window)
    var_a = _blur(a * a, window) - mu_a ** 2
    var_b = _blur(b * b, window) - mu_b ** 2
    cov = _blur(a * b, window) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return np.asarray(jnp.mean(s, axis=(1, 2, 3)))
