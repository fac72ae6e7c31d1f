"""MultiDiffusion over time (paper §3.1.7; Bar-Tal et al. 2023): sample a clip of any length with a model that sees
`window` frames at a time, by running it on overlapping windows and, at every ODE step, averaging each frame's update
across the windows that hold it.

Windows have one fixed length (one compiled model call serves every clip), step by `window - overlap`, and the last is
moved back to end at the clip's last frame (ComfyUI's "static" schedule; MultiDiffusion's own `get_views` can miss the
end). With a shared state x, averaging the windows' next states x + dt v_i with weights summing to 1 is averaging
their velocities, so the blend acts on v. Weights: "uniform" is MultiDiffusion's plain average; "linear" ramps each
window in and out across its overlaps (what tiled diffusion users move to when uniform averaging leaves seams). Every
frame's weights are positive and sum to 1 (tests/flow/test_multidiffusion.py).

Memory: the windows run one after another inside the step (`lax.scan`), so activations are one window's whatever the
clip's length; only the latent state and its accumulator grow with the clip.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Literal

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

Ramp = Literal["uniform", "linear"]


def window_starts(num_frames: int, window: int, overlap: int) -> np.ndarray:
    """First frame of each window: 0, s, 2s, ... (s = window - overlap), the last moved back to end at the clip's end.
    A clip no longer than the window is one window (of the clip's length: `window_length`)."""
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"need window >= 1 and 0 <= overlap < window, got window={window}, overlap={overlap}")
    if num_frames <= window:
        return np.zeros(1, np.int32)
    stride = window - overlap
    starts = list(range(0, num_frames - window, stride)) + [num_frames - window]
    return np.asarray(sorted(set(starts)), np.int32)


def window_length(num_frames: int, window: int) -> int:
    return min(num_frames, window)


def window_weights(num_frames: int, window: int, overlap: int, ramp: Ramp = "uniform") -> np.ndarray:
    """(windows, length) float32 weights, positive, whose sum over the windows holding a frame is 1 for every frame."""
    starts, length = window_starts(num_frames, window, overlap), window_length(num_frames, window)
    raw = np.ones((len(starts), length), np.float64)
    if ramp == "linear":
        for i, start in enumerate(starts):
            if i > 0:  # ramp in across the frames shared with the previous window
                shared = int(starts[i - 1] + length - start)
                raw[i, :shared] = np.arange(1, shared + 1) / (shared + 1)
            if i < len(starts) - 1:  # ramp out across the frames shared with the next one
                shared = int(start + length - starts[i + 1])
                raw[i, length - shared:] = np.minimum(raw[i, length - shared:], np.arange(shared, 0, -1) / (shared + 1))
    elif ramp != "uniform":
        raise ValueError(f"unknown window ramp {ramp!r}; valid: uniform, linear")
    total = np.zeros(num_frames)
    for start, w in zip(starts, raw):
        total[start:start + length] += w
    return np.stack([w / total[start:start + length] for start, w in zip(starts, raw)]).astype(np.float32)


def blend(per_window: jax.Array, starts: np.ndarray, weights: np.ndarray, num_frames: int) -> jax.Array:
    """(windows, b, length, ...) outputs -> (b, num_frames, ...): each frame the weighted sum of its windows'."""
    out = jnp.zeros((per_window.shape[1], num_frames) + per_window.shape[3:], per_window.dtype)
    for w_out, start, w in zip(per_window, starts, weights):
        shape = (1, len(w)) + (1,) * (per_window.ndim - 3)
        out = out.at[:, start:start + len(w)].add(w_out * jnp.asarray(w).reshape(shape))
    return out


@functools.lru_cache(maxsize=16)
def make_window_step(velocity_fn: Callable[[Any, jax.Array, jax.Array, Any, Any], jax.Array], num_frames: int,
                     window: int, overlap: int, ramp: Ramp):
    """A jitted Euler step over the whole clip: v of each window (`velocity_fn(params, x_w, t (b,), frame_cond_w,
    clip_cond)`, x_w and the leaves of frame_cond_w sliced to the window along axis 1), blended by the windows'
    weights, then x <- x + (t1 - t0) v. Cached per (velocity_fn, clip length, windows): one compile per clip length."""
    starts, length = window_starts(num_frames, window, overlap), window_length(num_frames, window)
    weights = window_weights(num_frames, window, overlap, ramp)

    def frames(x, start):
        return jax.lax.dynamic_slice_in_dim(x, start, length, axis=1)

    @jax.jit
    def step(params, x, t0, t1, frame_cond, clip_cond):
        t = jnp.full((x.shape[0],), t0, jnp.float32)

        def one_window(v, inputs):
            start, w = inputs
            cond = jax.tree.map(lambda c: frames(c, start), frame_cond)
            vw = velocity_fn(params, frames(x, start), t, cond, clip_cond).astype(jnp.float32)
            vw = vw * w.reshape((1, length) + (1,) * (x.ndim - 2))
            return jax.lax.dynamic_update_slice_in_dim(v, frames(v, start) + vw, start, axis=1), None

        v, _ = jax.lax.scan(one_window, jnp.zeros(x.shape, jnp.float32), (jnp.asarray(starts), jnp.asarray(weights)))
        return (x.astype(jnp.float32) + (t1 - t0) * v).astype(x.dtype)

    return step


def multidiffusion_sample(velocity_fn: Callable, params: Any, noise: jax.Array, schedule: np.ndarray, frame_cond: Any,
                          clip_cond: Any, window: int, overlap: int, ramp: Ramp = "uniform",
                          progress: bool = True) -> jax.Array:
    """Integrate dX/dt = v from schedule[0] (noise) to schedule[-1] (data) over a clip of any length (noise (b, T,
    ...)), `window` frames at a time with `overlap` shared frames (`make_window_step`). The state stays fp32."""
    step = make_window_step(velocity_fn, noise.shape[1], window, overlap, ramp)
    x = noise.astype(jnp.float32)
    for t0, t1 in tqdm(list(zip(schedule[:-1], schedule[1:])), desc="upsampling", disable=not progress, leave=False):
        x = step(params, x, jnp.float32(t0), jnp.float32(t1), frame_cond, clip_cond)
    return x
