import statistics

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mgjax.flow.path import interpolate, velocity_target
from mgjax.flow.sampler import cfg_combine, euler_sample
from mgjax.flow.schedules import linear_quadratic_schedule, linear_schedule, make_schedule
from mgjax.flow.timesteps import sample_t


def test_linear_quadratic_schedule_is_the_papers():
    t = linear_quadratic_schedule(50, 25, 250)
    assert t.shape == (51,) and t[0] == 0.0 and t[-1] == 1.0
    steps = np.diff(t)
    np.testing.assert_allclose(steps[:25], 0.004, atol=1e-12)  # the first 25 steps of a 250-step linear schedule
    assert t[25] == pytest.approx(0.1, abs=1e-12)
    second = np.diff(steps)
    assert np.all(np.abs(second[:24]) < 1e-12)  # linear part: constant steps
    np.testing.assert_allclose(second[25:], second[25], rtol=1e-6)  # then a quadratic: constant 2nd difference
    # Continuous step size at the join: the first quadratic step exceeds the last linear one by half the quadratic's
    # own per-step growth (what a C1 join gives), not by a jump.
    assert second[24] == pytest.approx(second[25] / 2, rel=1e-6)
    assert steps[25] == pytest.approx(0.004 + second[25] / 2, rel=1e-6)
    # left and right derivatives of the closed form agree at i = L (C1)
    a = (25 - 0.1 * 50) / (25 * 25 ** 2)
    b = 0.1 / 25 - 2 * (25 - 0.1 * 50) / 25 ** 2
    assert 2 * a * 25 + b == pytest.approx(0.004, abs=1e-12)
    assert steps.max() == pytest.approx(0.0666, abs=1e-3)  # spec §2.8: steps grow up to ~0.067
    assert np.all(steps > 0)


def test_one_step_schedule_goes_from_noise_to_data():
    """`sample --num-steps 1` (the model's one-step estimate): no linear part to join, no division by zero."""
    np.testing.assert_array_equal(linear_quadratic_schedule(1, 0, 250), [0.0, 1.0])


def test_make_schedule_kinds():
    np.testing.assert_allclose(make_schedule("linear", 4), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(linear_schedule(2), [0, 0.5, 1])
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("cosine", 10)


def test_path_endpoints_and_velocity():
    k0, k1 = jax.random.split(jax.random.key(0))
    x0, x1 = jax.random.normal(k0, (3, 4)), jax.random.normal(k1, (3, 4))
    sigma = 1e-5
    np.testing.assert_allclose(interpolate(x0, x1, jnp.zeros(3), sigma), x0)
    np.testing.assert_allclose(interpolate(x0, x1, jnp.ones(3), sigma), x1 + sigma * x0, rtol=1e-6)
    # V_t is the time derivative of X_t
    t, eps = jnp.full((3,), 0.3), 1e-3
    fd = (interpolate(x0, x1, t + eps, sigma) - interpolate(x0, x1, t - eps, sigma)) / (2 * eps)
    np.testing.assert_allclose(fd, velocity_target(x0, x1, sigma), atol=1e-3)


def test_logit_normal_t():
    t = np.asarray(sample_t(jax.random.key(0), 200_000, "logit_normal", 0.0, 1.0))
    assert t.min() > 0 and t.max() < 1
    logit = np.log(t / (1 - t))
    assert abs(logit.mean()) < 0.01 and abs(logit.std() - 1.0) < 0.01
    assert abs(np.median(t) - 0.5) < 0.01
    u = np.asarray(sample_t(jax.random.key(1), 100_000, "uniform"))
    assert abs(u.mean() - 0.5) < 0.01


def test_near_noise_mixture_t():
    """A `near_noise_prob` share of t comes from logit-normal(-4, 0.5) (t ~ 0.02); the rest keeps the main law."""
    t = np.asarray(sample_t(jax.random.key(2), 200_000, "logit_normal", -0.8, 1.0, near_noise_prob=0.3))
    logit = np.log(t / (1 - t))
    near = logit < -2.5  # the near component lies below -2.5 (3 of its stds), the main one mostly above
    main = statistics.NormalDist(-0.8, 1.0)
    below = main.cdf(-2.5)
    assert abs(near.mean() - (0.3 + 0.7 * below)) < 0.005
    assert abs(np.median(logit[logit < -3]) - (-4.0)) < 0.05
    assert abs(np.median(logit[~near]) - main.inv_cdf(below + (1 - below) / 2)) < 0.02  # main law, cut at -2.5


def test_euler_integrates_the_straight_path_exactly():
    """With the true velocity of a straight path, Euler lands on the data from any schedule."""
    x0 = jax.random.normal(jax.random.key(0), (2, 5))
    x1 = jnp.arange(10.0).reshape(2, 5)
    v = lambda params, x, t, cond: cond - x0 * params  # dX/dt = X1 - X0 (sigma_min = 0)
    out = euler_sample(v, 1.0, x0, linear_quadratic_schedule(50), cond=x1, progress=False)
    np.testing.assert_allclose(out, x1, atol=1e-5)


def test_cfg_combine_and_guided_sampling():
    vc, vu = jnp.array([2.0]), jnp.array([1.0])
    assert float(cfg_combine(vc, vu, 1.0)[0]) == 2.0 and float(cfg_combine(vc, vu, 7.5)[0]) == 8.5
    # velocity = cond: guided result is u + s (c - u) integrated over [0, 1]
    v = lambda params, x, t, cond: jnp.broadcast_to(cond, x.shape)
    out = euler_sample(v, None, jnp.zeros((1, 1)), linear_schedule(10), cond=jnp.array([[2.0]]),
                       uncond=jnp.array([[1.0]]), cfg_scale=3.0, progress=False)
    np.testing.assert_allclose(out, [[4.0]], atol=1e-6)


def test_data_prediction_implies_the_true_velocity():
    """Predicting X_1 exactly gives exactly the target velocity (away from the t -> 1 floor)."""
    from mgjax.flow.path import model_velocity

    k0, k1 = jax.random.split(jax.random.key(0))
    x0, x1 = jax.random.normal(k0, (4, 3, 2)), jax.random.normal(k1, (4, 3, 2))
    t = jnp.array([0.0, 0.3, 0.6, 0.9])
    xt = interpolate(x0, x1, t, 1e-5)
    np.testing.assert_allclose(model_velocity(x1, xt, t, "data", 1e-5), velocity_target(x0, x1, 1e-5), atol=1e-4)
    v = jnp.ones_like(x1)
    assert model_velocity(v, xt, t, "velocity", 1e-5) is v
    near_one = model_velocity(x1, interpolate(x0, x1, jnp.full((4,), 0.999), 1e-5), jnp.full((4,), 0.999), "data", 1e-5)
    assert bool(jnp.all(jnp.isfinite(near_one)))



def test_repeated_sampling_compiles_the_guided_step_once():
    """A second clip (or batch) with the same model reuses the compiled step: jit caches by function object, so the
    sampler must not build a new step per call (it did: every clip paid a full compile)."""
    traces = []

    def velocity(params, x, t, cond):
        traces.append(1)  # runs only when jit traces
        return jnp.broadcast_to(cond, x.shape) * params

    for seed in range(3):
        noise = jax.random.normal(jax.random.key(seed), (2, 3))
        euler_sample(velocity, 1.0, noise, linear_schedule(4), cond=jnp.ones((2, 3)), uncond=jnp.zeros((2, 3)),
                     cfg_scale=2.0, progress=False)
    assert len(traces) == 1
