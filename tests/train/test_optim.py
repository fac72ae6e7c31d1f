"""The optimizer choice: which parameters Muon orthogonalises, and that its updates are orthogonalised."""

import jax
import jax.numpy as jnp
import numpy as np

from mgjax.config import OptimConfig
from mgjax.train.optim import make_optimizer, muon_dimensions


def _dims(*names, shape):
    return muon_dimensions(tuple(jax.tree_util.DictKey(n) for n in names), jnp.zeros(shape))


def test_muon_takes_kernels_and_leaves_tables_vectors_and_rgb_layers_to_adamw():
    conv = _dims("encoder", "conv_in", "spatial", "conv", "kernel", shape=(3, 3, 16, 32))
    assert conv.reduction_axis == (0, 1, 2) and conv.output_axis == (3,)
    temporal = _dims("temporal", "kernel", shape=(3, 32, 32))
    assert temporal.reduction_axis == (0, 1) and temporal.output_axis == (2,)
    assert _dims("q", "kernel", shape=(64, 128)).output_axis == (1,)
    # A scanned stack's leading layer axis is a batch of matrices; an nnx.List's entries are single layers.
    stacked = _dims("backbone", "blocks", "mlp", "w1", "kernel", shape=(4, 128, 384))
    assert stacked.reduction_axis == (1,) and stacked.output_axis == (2,)
    listed = muon_dimensions((jax.tree_util.DictKey("blocks"), jax.tree_util.SequenceKey(0),
                              jax.tree_util.DictKey("kernel")), jnp.zeros((3, 16, 32)))
    assert listed.reduction_axis == (0, 1)
    assert _dims("conv", "bias", shape=(32,)) is None
    assert _dims("pos_embed", "t", shape=(8, 128)) is None
    assert _dims("embed", "embedding", shape=(256, 64)) is None
    assert _dims("backbone", "blocks", "modulation", shape=(4, 6, 128)) is None
    assert _dims("backbone", "head", "kernel", shape=(128, 192)) is None
    assert _dims("conv_in", "spatial", "conv", "kernel", shape=(3, 3, 3, 16)) is None  # RGB stem
    assert _dims("conv_out", "spatial", "conv", "kernel", shape=(3, 3, 16, 3)) is None  # RGB head


def _updates(optimizer: str, params: dict, steps: int = 3) -> dict:
    tx = make_optimizer(OptimConfig(optimizer=optimizer, learning_rate=1e-3, warmup_steps=0, weight_decay=0.0), 100)
    state = tx.init(params)
    for i in range(steps):
        grads = jax.tree.map(lambda p: jax.random.normal(jax.random.key(i), p.shape), params)
        updates, state = tx.update(grads, state, params)
    return updates


def test_muon_orthogonalises_a_conv_kernels_update_and_adamw_does_not():
    params = {"conv": {"kernel": jnp.zeros((3, 3, 4, 32)), "bias": jnp.zeros((32,))}}

    def singular_spread(update):
        s = np.linalg.svd(np.asarray(update).reshape(-1, update.shape[-1]), compute_uv=False)
        return s.max() / s.min()

    muon, adamw = _updates("muon", params)["conv"], _updates("adamw", params)["conv"]
    # Five Newton-Schulz steps bring every singular value of the (36, 32) momentum into ~[0.7, 1.2].
    assert singular_spread(muon["kernel"]) < 2.0
    assert singular_spread(adamw["kernel"]) > 4.0  # a near-square noise matrix: widely spread
    assert np.all(np.isfinite(np.asarray(muon["bias"]))) and float(jnp.abs(muon["bias"]).max()) > 0
