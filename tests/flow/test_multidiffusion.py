"""MultiDiffusion windows (mgjax/flow/multidiffusion.py): coverage, weights, and agreement with plain sampling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mgjax.flow.multidiffusion import multidiffusion_sample, window_starts, window_weights
from mgjax.flow.sampler import euler_sample
from mgjax.flow.schedules import linear_quadratic_schedule


@pytest.mark.parametrize("window,overlap", [(14, 4), (8, 2), (5, 0), (3, 2)])
@pytest.mark.parametrize("ramp", ["uniform", "linear"])
def test_windows_cover_every_frame_with_weights_summing_to_one(window, overlap, ramp):
    for frames in range(1, 70):
        starts = window_starts(frames, window, overlap)
        weights = window_weights(frames, window, overlap, ramp)
        length = min(frames, window)
        assert starts[0] == 0 and starts[-1] + length == frames  # the first and last frame are covered
        assert np.all(np.diff(starts) > 0) and np.all(np.diff(starts) <= window - overlap)  # no gaps, in order
        total = np.zeros(frames)
        for start, w in zip(starts, weights):
            total[start:start + length] += w
        assert np.all(weights > 0)
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_paper_windows_on_64_frames():
    assert window_starts(64, 14, 4).tolist() == [0, 10, 20, 30, 40, 50]
    assert window_starts(14, 14, 4).tolist() == [0]


def _mixing_velocity(params, x, t, frame_cond, clip_cond):
    """A velocity that mixes frames (through their mean) and reads per-frame and per-clip conditions."""
    return params * (frame_cond - x) + x.mean(axis=1, keepdims=True) * clip_cond[:, None, None] + t[:, None, None]


def _frame_local_velocity(params, x, t, frame_cond, clip_cond):
    return params * (frame_cond - x) * clip_cond[:, None, None] + jnp.sin(x) * t[:, None, None]


def test_one_window_equals_plain_sampling():
    key = jax.random.key(0)
    noise, cond = jax.random.normal(key, (2, 9, 3)), jax.random.normal(jax.random.key(1), (2, 9, 3))
    clip = jnp.array([0.5, -1.0])
    schedule = linear_quadratic_schedule(20, 10, 100)
    windowed = multidiffusion_sample(_mixing_velocity, 1.5, noise, schedule, cond, clip, window=14, overlap=4,
                                     progress=False)
    plain = euler_sample(lambda p, x, t, c: _mixing_velocity(p, x, t, c[0], c[1]), 1.5, noise, schedule, (cond, clip),
                         progress=False)
    np.testing.assert_allclose(windowed, plain, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ramp", ["uniform", "linear"])
def test_overlapping_windows_of_a_frame_local_model_equal_plain_sampling(ramp):
    """Each frame's velocity is the same in every window that holds it, so any blend whose weights sum to 1 must give
    plain sampling back exactly: what a lost, doubled or misplaced window would break."""
    noise, cond = jax.random.normal(jax.random.key(2), (2, 37, 3)), jax.random.normal(jax.random.key(3), (2, 37, 3))
    clip = jnp.array([1.0, 0.3])
    schedule = linear_quadratic_schedule(12, 6, 60)
    windowed = multidiffusion_sample(_frame_local_velocity, 2.0, noise, schedule, cond, clip, window=14, overlap=4,
                                     ramp=ramp, progress=False)
    plain = euler_sample(lambda p, x, t, c: _frame_local_velocity(p, x, t, c[0], c[1]), 2.0, noise, schedule,
                         (cond, clip), progress=False)
    np.testing.assert_allclose(windowed, plain, rtol=1e-5, atol=1e-5)


def test_windows_that_mix_frames_differ_from_one_pass_over_the_clip():
    """With a model that mixes frames, windows see less of the clip than one pass does: the blend is not a no-op."""
    noise, cond = jax.random.normal(jax.random.key(4), (1, 30, 2)), jax.random.normal(jax.random.key(5), (1, 30, 2))
    clip = jnp.array([1.0])
    schedule = linear_quadratic_schedule(8, 4, 40)
    windowed = multidiffusion_sample(_mixing_velocity, 1.0, noise, schedule, cond, clip, 14, 4, progress=False)
    whole = multidiffusion_sample(_mixing_velocity, 1.0, noise, schedule, cond, clip, 30, 4, progress=False)
    assert float(jnp.abs(windowed - whole).max()) > 1e-3


def test_bad_windows_are_refused():
    with pytest.raises(ValueError, match="overlap < window"):
        window_starts(20, 4, 4)
