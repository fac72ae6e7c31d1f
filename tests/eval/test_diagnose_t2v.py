import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import randomized_model
from einops import einsum, rearrange

from mgjax.models.video.transformer import Embedded
from mgjax.eval.diagnose_t2v import _layers, diagnose, format_report, layer_probes

LATENT_SHAPE = (8, 4, 4, 48)  # micro config: 8 frames of 16x16 through space-to-depth 4x4 -> 8 x 2 x 2 = 32 tokens


def tokenize(captions):
    """Word-hash token ids for the micro model's trainable encoder (vocab 256, 32 positions)."""
    ids = np.zeros((len(captions), 32), np.int32)
    for row, caption in enumerate(captions):
        words = caption.split()
        ids[row, :len(words)] = [2 + sum(map(ord, w)) % 250 for w in words]
    return [(jnp.asarray(ids), jnp.asarray(ids > 0))]


def test_attention_weights_are_the_ones_the_layer_uses(devices):
    attn = _layers(randomized_model(devices).backbone.blocks)[0].self_attn
    x = jax.random.normal(jax.random.key(2), (2, 32, 32))
    weights = attn.attention_weights(x)
    assert weights.shape == (2, 2, 32, 32)
    _, _, v = attn._heads(x, x)
    mixed = rearrange(einsum(weights, v, "b h n m, b m h d -> b n h d"), "b n h d -> b n (h d)")
    np.testing.assert_allclose(attn.o(mixed), attn(x), rtol=1e-5, atol=1e-5)


def test_layers_of_a_scanned_stack_run_like_the_scan(devices):
    bb = randomized_model(devices).backbone
    x = jax.random.normal(jax.random.key(3), (2, 32, 32))
    pos = bb.pos_embed((8, 2, 2))
    shared_mod = bb.shared_mod(bb.t_embed(jnp.array([0.2, 0.7])))
    text = jax.random.normal(jax.random.key(4), (2, 5, 32))
    lengths = jnp.array([3, 5])
    y = x
    for block in _layers(bb.blocks):
        y = block(y, pos, shared_mod, text, lengths)
    e = Embedded(x, (8, 2, 2), pos, None, None, shared_mod, text, lengths)
    np.testing.assert_allclose(y, bb._run_blocks(e), rtol=1e-5, atol=1e-5)


def test_entropy_is_uniform_for_blind_queries_and_lower_for_sharp_ones(devices):
    model = randomized_model(devices)
    latents = jax.random.normal(jax.random.key(5), (2,) + LATENT_SHAPE)
    t, tokens = jnp.array([0.1, 0.1]), tokenize(["a red circle"] * 2)
    kernel = model.backbone.blocks.self_attn.q.kernel
    original = kernel[...]
    kernel[...] = jnp.zeros_like(original)  # every query the same: attention averages all 32 tokens
    blind = layer_probes(model, latents, t, tokens)
    kernel[...] = 50.0 * original
    sharp = layer_probes(model, latents, t, tokens)
    for layer in blind:
        np.testing.assert_allclose(layer["entropy"], math.log(32), rtol=1e-5)
    assert max(max(layer["entropy"]) for layer in sharp) < 0.8 * math.log(32)


def test_report_measures_the_residual_split_and_caption_sensitivity(devices):
    model = randomized_model(devices)
    pairs = (("same", "a red circle", "a red circle"), ("colour", "a red circle", "a blue circle"))
    report = diagnose(model, LATENT_SHAPE, tokenize, times=(0.05, 0.5), pairs=pairs, batch=2)
    assert report["uniform_entropy"] == pytest.approx(math.log(32))
    for entry in report["times"].values():
        assert entry["sensitivity"]["same"] == 0.0 and entry["sensitivity"]["colour"] > 1e-4
        assert len(entry["layers"]) == 2
        for layer in entry["layers"]:
            assert all(0.0 < e <= report["uniform_entropy"] + 1e-5 for e in layer["entropy"])
            assert layer["common"] > 0.0 and layer["per_token"] > 0.0
    # Layer 0's input is the patch embedding of X_t plus the PE: check the common/per-token split by hand.
    bb = model.backbone
    noise = jax.random.normal(jax.random.key(0), (2,) + LATENT_SHAPE)
    x = rearrange(bb.patch_embed(0.5 * noise), "b t h w d -> b (t h w) d") + bb.pos_embed((8, 2, 2))[None]
    common = x.mean(1, keepdims=True)
    first = report["times"]["0.5"]["layers"][0]
    assert first["common"] == pytest.approx(float(jnp.linalg.norm(common, axis=-1).mean()), rel=1e-5)
    assert first["per_token"] == pytest.approx(float(jnp.linalg.norm(x - common, axis=-1).mean()), rel=1e-5)
    text = format_report(report)
    assert "layer 1" in text and "colour" in text and "t = 0.05" in text
