"""3D rotary embeddings (`model.rope`, mgjax/nn/rope.py): relative, norm-preserving, and wired into the backbone."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import micro_config, randomized_model

from mgjax.nn.rope import apply_rope, rope_axis_dims, rope_tables
from mgjax.eval.diagnose_t2v import _layers

GRID = (3, 4, 5)


def test_axis_split_covers_the_head():
    assert rope_axis_dims(32) == (12, 10, 10)
    assert rope_axis_dims(128) == (44, 42, 42)  # Wan 2.1's split for head dim 128
    with pytest.raises(ValueError, match="even"):
        rope_axis_dims(33)


def test_rotation_keeps_norms_and_the_first_position():
    cos, sin = rope_tables(GRID, 32)
    assert cos.shape == sin.shape == (60, 16)
    x = jax.random.normal(jax.random.key(0), (2, 60, 3, 32))
    y = apply_rope(x, cos, sin)
    np.testing.assert_allclose(jnp.linalg.norm(y, axis=-1), jnp.linalg.norm(x, axis=-1), rtol=1e-5)
    np.testing.assert_allclose(y[:, 0], x[:, 0], atol=1e-6)  # patch (0, 0, 0) is not rotated
    assert not np.allclose(y[:, 1:], x[:, 1:], atol=1e-3)


def test_logits_of_identical_tokens_depend_only_on_the_offset():
    """The point of RoPE here: with the same q and k at every position (content common to all tokens, as in the
    tiny demo's residual stream), the logits still vary with, and only with, the (dt, dh, dw) offset."""
    cos, sin = rope_tables(GRID, 32)
    q = jnp.broadcast_to(jax.random.normal(jax.random.key(1), (32,)), (1, 60, 1, 32))
    k = jnp.broadcast_to(jax.random.normal(jax.random.key(2), (32,)), (1, 60, 1, 32))
    logits = jnp.einsum("bnhd,bmhd->nm", apply_rope(q, cos, sin), apply_rope(k, cos, sin)).reshape(GRID + GRID)
    # Shift both query and key by one step along each axis: same logits.
    np.testing.assert_allclose(logits[1:, :, :, 1:], logits[:-1, :, :, :-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits[:, 1:, :, :, 1:], logits[:, :-1, :, :, :-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits[:, :, 1:, :, :, 1:], logits[:, :, :-1, :, :, :-1], rtol=1e-4, atol=1e-4)
    # Different offsets along every axis give different logits.
    row = logits[0, 0, 0]
    assert np.std(np.asarray(row[:, 0, 0])) > 1e-2 and np.std(np.asarray(row[0, :, 0])) > 1e-2
    assert np.std(np.asarray(row[0, 0, :])) > 1e-2


def test_backbone_rotates_every_layer_and_scan_equals_loop(devices):
    base = micro_config()
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, rope=True))
    bb = randomized_model(devices, key=3, cfg=cfg).backbone
    latents = jax.random.normal(jax.random.key(4), (2, 8, 4, 4, 48))
    text = [(jax.random.normal(jax.random.key(5), (2, 6, 16)), jnp.ones((2, 6), bool))]
    e = bb.embed(latents, jnp.array([0.3, 0.6]), text)
    assert e.rope is not None and e.rope[0].shape == (8 * 2 * 2, 8)  # head dim 16
    y = e.x
    for block in _layers(bb.blocks):
        y = block(y, e.pos, e.shared_mod, e.text, e.text_lengths, rope=e.rope)
    out = bb._run_blocks(e)
    scale = float(jnp.abs(out).max())
    np.testing.assert_allclose(y, out, rtol=1e-4, atol=1e-5 * scale)
    assert not np.allclose(out, bb._run_blocks(e._replace(rope=None)), atol=1e-2 * scale)
