"""The spatial upsampler's training degradations (paper §3.1.7: "second-order degradation in the Real-ESRGAN style,
plus TAE-like artifacts"), applied by mgjax/data/degradations.py.

The structure is Real-ESRGAN's (Wang et al. 2021, `options/train_realesrgan_x4plus.yml`): two rounds of blur, resize,
noise and JPEG, then a final resize to the low resolution with a sinc filter and JPEG in either order. The paper gives
no strengths. Real-ESRGAN's are for real-world photos degraded 4x; our input is the 768 px output of the text-to-video
model, degraded far less, so the defaults keep Real-ESRGAN's kernel families and probabilities and narrow the
strengths (blur sigma, resize range, noise level, JPEG quality). Real-ESRGAN's own values are in the comments.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DegradationRound:
    """One round: blur (with `blur_prob`), resize, noise, JPEG (each with its probability)."""

    blur_prob: float = 1.0  # Real-ESRGAN: 1.0, then 0.8 in round 2
    # Kernel families and their probabilities: isotropic and anisotropic Gaussians, generalized Gaussians (shape
    # beta_g), plateau kernels (beta_p); with `sinc_prob` a sinc (ideal low-pass, ringing) instead.
    # iso, aniso, generalized iso, generalized aniso, plateau iso, plateau aniso (Real-ESRGAN's)
    kernel_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob: float = 0.1
    kernel_sizes: tuple[int, int] = (7, 15)  # odd sizes drawn from this range (Real-ESRGAN: 7-21 for 4x)
    sigma: tuple[float, float] = (0.2, 1.2)  # Real-ESRGAN: (0.2, 3), then (0.2, 1.5)
    beta_gaussian: tuple[float, float] = (0.5, 4.0)
    beta_plateau: tuple[float, float] = (1.0, 2.0)
    resize_probs: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep (Real-ESRGAN: the same)
    resize_scale: tuple[float, float] = (0.6, 1.2)  # Real-ESRGAN: (0.15, 1.5), then (0.3, 1.2)
    gaussian_noise_prob: float = 0.5  # otherwise Poisson noise (Real-ESRGAN: 0.5)
    noise_sigma: tuple[float, float] = (1.0, 6.0)  # in 8-bit levels (Real-ESRGAN: (1, 30), then (1, 25))
    poisson_scale: tuple[float, float] = (0.05, 0.5)  # Real-ESRGAN: (0.05, 3), then (0.05, 2.5)
    gray_noise_prob: float = 0.4
    noise_prob: float = 1.0  # Real-ESRGAN: 1.0 in both rounds
    jpeg_quality: tuple[int, int] = (70, 95)  # Real-ESRGAN: (30, 95)
    jpeg_prob: float = 1.0


@dataclasses.dataclass(frozen=True)
class DegradationConfig:
    """Second-order degradation of a high-resolution clip to its low-resolution training input. One set of parameters
    per clip, used on every frame (parameters drawn per frame make the input flicker); only the noise is drawn per
    frame, as a camera's is."""

    enabled: bool = True  # False: the low-resolution input is the clip resized (antialiased bicubic), nothing else
    first: DegradationRound = DegradationRound()
    second: DegradationRound = DegradationRound(blur_prob=0.5, sigma=(0.2, 0.6), resize_probs=(0.3, 0.4, 0.3),
                                                resize_scale=(0.85, 1.15), noise_prob=0.5, noise_sigma=(1.0, 4.0),
                                                poisson_scale=(0.05, 0.4))
    # Each round's four operations run in a random order (BSRGAN's shuffle) when set; Real-ESRGAN's fixed order
    # (blur, resize, noise, JPEG) when not.
    shuffle: bool = True
    final_sinc_prob: float = 0.3  # Real-ESRGAN: 0.8, cut-off U(pi/3, pi)
    final_jpeg: tuple[int, int] = (70, 95)  # Real-ESRGAN: (30, 95)
    # With this probability a clip skips the degradations and is only resized, so the model also sees clean inputs
    # (a generated video is often clean); paper silent.
    clean_prob: float = 0.2
