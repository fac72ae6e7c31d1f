"""TAE losses against their formulas, and the perceptual network's weight loading from a file made here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mgjax.config import MeshConfig
from mgjax.errors import UserError
from mgjax.models.tae.discriminator import PatchDiscriminator
from mgjax.models.tae.losses import (adaptive_weight, hinge_discriminator_loss, hinge_generator_loss, kl_loss,
                                     outlier_penalty, outlier_ratio)
from mgjax.models.tae.perceptual import VGG16_CONVS, load_lpips
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import TAE_RULES, use_rules


def test_outlier_penalty_matches_the_paper_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5, 6)).astype(np.float32)
    x[0, 1, 2, 3] += 40.0  # one latent dot
    expected = []
    for frame in x.reshape(6, 20, 6):
        mean, std = frame.mean(0), frame.std(0)
        excess = np.linalg.norm(frame - mean, axis=-1) - 3.0 * np.linalg.norm(std)
        expected.append(np.maximum(excess, 0).mean())
    np.testing.assert_allclose(outlier_penalty(jnp.asarray(x), 3.0), np.mean(expected), rtol=1e-5)
    assert float(outlier_penalty(jnp.asarray(x), 3.0)) > 0
    x[0, 1, 2, 3] -= 40.0
    assert float(outlier_ratio(jnp.asarray(x))) < 4.0


def test_outlier_penalty_is_zero_without_outliers():
    x = jnp.tile(jnp.array([1.0, -1.0]), (1, 1, 4, 4, 1))  # every position at the mean
    assert float(outlier_penalty(x, 3.0)) == 0.0


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = jnp.zeros((2, 1, 4, 4, 3))
    assert float(kl_loss(zeros, zeros, 100)) == 0.0
    kl = kl_loss(jnp.ones_like(zeros), zeros, 100)
    np.testing.assert_allclose(kl, 0.5 * 48 / 100, rtol=1e-6)  # 0.5 * mean^2 per element, per sample, per pixel


def test_hinge_losses_and_adaptive_weight():
    assert float(hinge_discriminator_loss(jnp.full(4, 2.0), jnp.full(4, -2.0))) == 0.0  # confident and right
    assert float(hinge_discriminator_loss(jnp.zeros(4), jnp.zeros(4))) == 1.0
    assert float(hinge_generator_loss(jnp.full(4, 3.0))) == -3.0
    np.testing.assert_allclose(adaptive_weight(jnp.full(4, 2.0), jnp.full(4, 1.0)), 2.0, rtol=1e-3)
    assert float(adaptive_weight(jnp.ones(4), jnp.zeros(4))) == 1e4  # clipped


def test_patch_discriminator_judges_each_frame():
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])), use_rules(TAE_RULES):
        disc = PatchDiscriminator(8, 3, rngs=nnx.Rngs(0))
    logits = jax.eval_shape(disc, jnp.zeros((2, 3, 32, 32, 3)))
    assert logits.shape == (6, 2, 2, 1)


def _tiny_lpips_file(path, widths=(4, 6, 8, 8, 8)):
    rng = np.random.default_rng(0)
    weights, cin = {}, 3
    for stage, width in zip(VGG16_CONVS, widths):
        for index in stage:
            weights[f"features.{index}.weight"] = rng.normal(0, 0.3, (width, cin, 3, 3)).astype(np.float32)
            weights[f"features.{index}.bias"] = rng.normal(0, 0.1, (width,)).astype(np.float32)
            cin = width
    for k, width in enumerate(widths):
        weights[f"lin{k}.model.1.weight"] = np.abs(rng.normal(size=(1, width, 1, 1))).astype(np.float32)
    np.savez(path, **weights)
    return weights


def test_lpips_loads_torch_layout_weights_from_a_file(tmp_path):
    weights = _tiny_lpips_file(tmp_path / "lpips.npz")
    lpips = load_lpips(tmp_path / "lpips.npz")
    x = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1, maxval=1)
    y = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1, maxval=1)
    np.testing.assert_allclose(lpips(x, x), 0.0, atol=1e-6)
    assert bool(jnp.all(lpips(x, y) > 0))
    # The first conv is torch's OIHW kernel applied to the normalised input (cross-correlation, zero padding).
    norm = (np.asarray(x[0]) - np.array([-0.030, -0.088, -0.188])) / np.array([0.458, 0.448, 0.450])
    padded = np.pad(norm, ((1, 1), (1, 1), (0, 0)))
    w, b = weights["features.0.weight"], weights["features.0.bias"]
    pixel = sum(padded[5 + i, 7 + j] @ w[:, :, i, j].T for i in range(3) for j in range(3)) + b
    first = jax.nn.relu(jax.lax.conv_general_dilated(jnp.asarray(norm[None], jnp.float32), lpips.stages[0][0][0],
                                                     (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
                        + lpips.stages[0][0][1])
    np.testing.assert_allclose(first[0, 5, 7], np.maximum(pixel, 0), rtol=1e-4, atol=1e-4)


def test_lpips_missing_file_or_arrays_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_lpips(tmp_path / "missing.npz")
    np.savez(tmp_path / "partial.npz", **{"features.0.weight": np.zeros((4, 3, 3, 3), np.float32)})
    with pytest.raises(UserError, match="lack"):
        load_lpips(tmp_path / "partial.npz")
