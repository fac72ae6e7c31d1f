"""Inference t-schedules, as arrays of S + 1 times from 0 (noise) to 1 (data)."""

from __future__ import annotations

import numpy as np


def linear_schedule(num_steps: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, num_steps + 1)


def linear_quadratic_schedule(num_steps: int = 50, linear_steps: int = 25, reference_steps: int = 250) -> np.ndarray:
    """Movie Gen's schedule (paper §3.4): the first `linear_steps` steps of a `reference_steps`-step linear schedule,
    then a quadratic reaching t = 1 at step `num_steps`, C1-continuous at the join (the closed form of diffusers /
    Mochi, spec §2.8). With the defaults t rises by 0.004 per step to 0.1 at step 25.

    t(i) = i tau / L for i <= L;  t(i) = a i^2 + b i + c for L <= i <= S, with tau = L / N, d = L - tau S,
    a = d / (L Q^2), b = tau / L - 2 d / Q^2, c = a L^2, Q = S - L.
    """
    s, lin = num_steps, linear_steps
    if lin <= 0:  # no linear part to join (one step, or a caller asking for none): the plain linear schedule
        return linear_schedule(s)
    tau = lin / reference_steps
    q = s - lin
    d = lin - tau * s
    a = d / (lin * q * q)
    b = tau / lin - 2.0 * d / (q * q)
    c = a * lin * lin
    i = np.arange(s + 1, dtype=np.float64)
    t = np.where(i <= lin, i * tau / lin, a * i * i + b * i + c)
    t[-1] = 1.0  # exact end point despite rounding
    return t


def make_schedule(kind: str, num_steps: int, linear_steps: int = 25, reference_steps: int = 250) -> np.ndarray:
    if kind == "linear_quadratic":
        return linear_quadratic_schedule(num_steps, linear_steps, reference_steps)
    if kind == "linear":
        return linear_schedule(num_steps)
    raise ValueError(f"unknown schedule {kind!r}; valid: linear_quadratic, linear")
