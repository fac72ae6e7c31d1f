"""Flow matching (paper §3.1.2) and sampling (paper §3.4)."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """t = 0 is noise, t = 1 is data."""

    sigma_min: float = 1e-5
    # What the network outputs; the loss is the velocity MSE either way. "velocity" is the paper's. "data" predicts X_1
    # and converts it to a velocity (JiT, Li & He 2025): for tokens carrying more values than the model width.
    prediction: Literal["velocity", "data"] = "velocity"
    t_sampling: Literal["logit_normal", "uniform"] = "logit_normal"  # paper: logit-normal(0, 1)
    logit_mean: float = 0.0
    logit_std: float = 1.0
    # Not in the paper: this fraction of training t comes from a second logit-normal near noise (t ~ 0.02), where the
    # prompt is all the model has (docs/moving_shapes_t2v.md).
    near_noise_prob: float = 0.0
    near_noise_logit_mean: float = -4.0
    near_noise_logit_std: float = 0.5


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """Inference (paper §3.4): Euler, 50 steps, linear-quadratic schedule, CFG 7.5."""

    num_steps: int = 50
    schedule: Literal["linear_quadratic", "linear"] = "linear_quadratic"
    linear_steps: int = 25  # steps taken from the linear schedule before the quadratic part
    linear_reference_steps: int = 250  # N of the linear schedule whose first steps are reused
    cfg_scale: float = 7.5
    # Edit: guidance on the input video, InstructPix2Pix's image scale; PT2V: on the reference (paper silent); 1: none
    source_cfg_scale: float = 1.5
    # The spatial upsampler: MultiDiffusion over windows of this many (latent = pixel) frames sharing `window_overlap`
    # frames, averaged at every step ("uniform", paper) or ramped across the overlap ("linear"); paper: 14 and 4.
    window_frames: int = 14
    window_overlap: int = 4
    window_ramp: Literal["uniform", "linear"] = "uniform"
    seed: int = 0
    batch_size: int = 16
