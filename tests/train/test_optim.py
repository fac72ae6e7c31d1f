"""The optimizer choice: which parameters Muon orthogonalises, and that its updates are orthogonalised."""

import jax
import jax.numpy as jnp
import numpy as np

from mgjax.config.schema import OptimConfig
from mgjax.train.optim import make_optimizer, muon_dimensions


def test_muon_takes_kernels_and_leaves_vectors_and_rgb_layers_to_adamw():
    conv = muon_dimensions(jnp.zeros((3, 3, 16, 32)))
    assert conv.reduction_axis == (0, 1, 2) and conv.output_axis == (3,)
    temporal = muon_dimensions(jnp.zeros((3, 32, 32)))
    assert temporal.reduction_axis == (0, 1) and temporal.output_axis == (2,)
    assert muon_dimensions(jnp.zeros((64, 128))).output_axis == (1,)
    assert muon_dimensions(jnp.zeros((32,))) is None  # biases, norm gains
    assert muon_dimensions(jnp.zeros((3, 3, 3, 16))) is None  # RGB stem
    assert muon_dimensions(jnp.zeros((3, 3, 16, 3))) is None  # RGB head


def _updates(optimizer: str, params: dict, steps: int = 3) -> dict:
    tx = make_optimizer(OptimConfig(optimizer=optimizer, learning_rate=1e-3, warmup_steps=0, weight_decay=0.0), 100)
    state = tx.init(params)
    for i in range(steps):
        grads = jax.tree.map(lambda p: jax.random.normal(jax.random.key(i), p.shape), params)
        updates, state = tx.update(grads, state, params)
    return updates


def test_muon_orthogonalises_a_conv_kernels_update_and_adamw_does_not():
    params = {"conv": jnp.zeros((3, 3, 4, 32)), "bias": jnp.zeros((32,))}

    def singular_spread(update):
        s = np.linalg.svd(np.asarray(update).reshape(-1, update.shape[-1]), compute_uv=False)
        return s.max() / s.min()

    muon, adamw = _updates("muon", params), _updates("adamw", params)
    # Five Newton-Schulz steps bring every singular value of the (36, 32) momentum into ~[0.7, 1.2].
    assert singular_spread(muon["conv"]) < 2.0
    assert singular_spread(adamw["conv"]) > 4.0  # a near-square noise matrix: widely spread
    assert np.all(np.isfinite(np.asarray(muon["bias"]))) and float(jnp.abs(muon["bias"]).max()) > 0
