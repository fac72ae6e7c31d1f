import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from conftest import micro_config
from mgjax.config import MeshConfig
from mgjax.models.video.text_projection import pack_valid_first
from mgjax.models.video.transformer import MovieGenVideo
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import VIDEO_RULES, use_rules


def build(model_cfg, devices, text_widths=(16,), seed=0):
    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])), use_rules(VIDEO_RULES):
        return MovieGenVideo(model_cfg, list(text_widths), rngs=nnx.Rngs(seed))


def inputs(b=2, t=8, hw=4, c=48, m=6, width=16, key=0):
    ks = jax.random.split(jax.random.key(key), 3)
    x = jax.random.normal(ks[0], (b, t, hw, hw, c))
    text = jax.random.normal(ks[1], (b, m, width))
    mask = jnp.arange(m)[None] < jnp.array([[3], [6]])
    return x, jnp.array([0.2, 0.7]), [(text, mask)]


def randomize(model, key=1):
    """Replace zero-initialised gates/head by random values so every path carries signal."""
    gd, state = nnx.split(model)
    leaves, tree = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(key), len(leaves))
    leaves = [l + 0.05 * jax.random.normal(k, l.shape, l.dtype) for l, k in zip(leaves, keys)]
    return nnx.merge(gd, jax.tree.unflatten(tree, leaves))


@pytest.fixture
def cfg():
    return micro_config().model


def test_output_shape_and_zero_init(cfg, devices):
    model = build(cfg, devices)
    x, t, text = inputs()
    v = model(x, t, text)
    assert v.shape == x.shape and v.dtype == jnp.float32
    assert float(jnp.abs(v).max()) == 0.0  # zero-initialised head: the model starts at velocity 0
    assert float(jnp.abs(model.blocks.modulation[...][:, 2]).max()) == 0.0  # attention gate
    assert float(jnp.abs(model.blocks.modulation[...][:, 5]).max()) == 0.0  # FFN gate
    assert model.blocks.modulation.shape == (cfg.num_layers, 6, cfg.width)  # scanned: stacked per-layer tables


def test_positional_tables_start_as_sincos_of_the_configured_amplitude(cfg, devices):
    for scale in (0.5, 2.0):
        pe = build(dataclasses.replace(cfg, pos_embed_init_scale=scale), devices).pos_embed
        for table in (pe.t, pe.h, pe.w):
            assert abs(float(jnp.abs(table[...]).max()) - scale) < 1e-6  # cos(0) = 1 at position 0


def test_a_clip_beyond_the_positional_tables_is_one_line(cfg, devices):
    model = build(cfg, devices)
    x, t, text = inputs(t=2 * cfg.max_patches[0] * cfg.patch_size[0])
    with pytest.raises(ValueError, match="exceeds the positional tables"):
        model(x, t, text)


def test_no_biases_in_linear_layers(cfg, devices):
    params = nnx.to_pure_dict(nnx.state(build(cfg, devices), nnx.Param))
    paths = ["/".join(map(str, p)) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    linear_biases = [p for p in paths if p.endswith("bias") and "text_proj" not in p]
    assert linear_biases == []  # only the text projections' LayerNorm has a bias


def test_images_and_videos_share_the_model(cfg, devices):
    model = randomize(build(cfg, devices))
    x, t, text = inputs(t=1)
    assert model(x, t, text).shape == (2, 1, 4, 4, 48)


def test_padded_text_tokens_do_not_matter(cfg, devices):
    model = randomize(build(cfg, devices))
    x, t, [(text_tokens, mask)] = inputs()
    out = model(x, t, [(text_tokens, mask)])
    changed = jnp.where(mask[..., None], text_tokens, 123.0)
    np.testing.assert_allclose(model(x, t, [(changed, mask)]), out, atol=1e-5)
    # but a valid token does
    assert not np.allclose(model(x, t, [(text_tokens.at[0, 0].add(1.0), mask)]), out, atol=1e-4)


def test_positional_embedding_is_added_to_every_layers_input(cfg, devices):
    """Each block adds the PE to its own input (paper §3.1.3): block(x, pe) == block(x + pe, 0) for every layer, and
    the model's output depends on the PE."""
    model = randomize(build(dataclasses.replace(cfg, scan_layers=False), devices))
    ks = jax.random.split(jax.random.key(5), 4)
    x = jax.random.normal(ks[0], (2, 32, cfg.width))
    pe = jax.random.normal(ks[1], (32, cfg.width))
    mod = jax.random.normal(ks[2], (2, 6, cfg.width))
    text = jax.random.normal(ks[3], (2, 5, cfg.width))
    lengths = jnp.array([3, 5])
    for block in model.blocks:
        with_pe = block(x, pe, mod, text, lengths)
        np.testing.assert_allclose(with_pe, block(x + pe[None], jnp.zeros_like(pe), mod, text, lengths), atol=1e-5)
        assert not np.allclose(with_pe, block(x, jnp.zeros_like(pe), mod, text, lengths), atol=1e-4)
    xs, t, txt = inputs()
    base = model(xs, t, txt)
    model.pos_embed.t[...] = model.pos_embed.t[...] * 0
    assert not np.allclose(model(xs, t, txt), base, atol=1e-5)


def test_pack_valid_first_keeps_order_and_lengths():
    tokens = jnp.arange(6.0).reshape(1, 6, 1)
    mask = jnp.array([[True, False, True, False, True, True]])
    packed, lengths = pack_valid_first(tokens, mask)
    assert packed[0, :4, 0].tolist() == [0.0, 2.0, 4.0, 5.0] and lengths.tolist() == [4]


def test_scan_and_remat_do_not_change_the_math(cfg, devices):
    """Scanned vs unrolled layers and every remat policy give the same outputs and gradients."""
    x, t, text = inputs()
    scanned = randomize(build(cfg, devices))
    unrolled = build(dataclasses.replace(cfg, scan_layers=False), devices)
    pure = nnx.to_pure_dict(nnx.state(scanned))
    stacked = pure.pop("blocks")
    pure["blocks"] = {i: jax.tree.map(lambda a: a[i], stacked) for i in range(cfg.num_layers)}
    target = nnx.state(unrolled)
    nnx.replace_by_pure_dict(target, pure)
    nnx.update(unrolled, target)
    np.testing.assert_allclose(unrolled(x, t, text), scanned(x, t, text), atol=1e-5)

    def grads(model):
        gd, st = nnx.split(model)
        return jax.jit(jax.grad(lambda s: jnp.sum(nnx.merge(gd, s)(x, t, text) ** 2)))(st)

    ref = jax.tree.leaves(grads(scanned))
    for policy in ("full", "save_dots", "save_attention", "offload_dots"):
        gd, st = nnx.split(scanned)
        remat_model = build(dataclasses.replace(cfg, remat=policy), devices)
        nnx.update(remat_model, st)
        for a, b in zip(jax.tree.leaves(grads(remat_model)), ref):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_one_text_token_steers_where_the_output_goes(cfg, devices):
    """The conditioning path can express a caption x position interaction (what motion direction needs): four prompts
    that differ in one token out of four each ask for a bright patch at their own place per frame; from pure noise at
    t ~ 0 (the regression to E[X_1 | prompt]) the model learns each prompt's layout. It first sits ~150 steps on the
    prompt-blind mean (a plateau; ~100 steps with a zero input, so the input noise lengthens it) and then leaves it:
    seeds 0-2 are all at MSE < 0.001 by step 500."""
    cfg = dataclasses.replace(cfg, in_channels=4, max_patches=(2, 4, 4), qk_norm=True)
    model = build(cfg, devices, text_widths=(16,))
    places = [(0, 0), (0, 3), (3, 0), (3, 3)]  # frame 0's (row, col) in tokens; frame 1 steps one token inwards
    target = np.full((4, 2, 8, 8, 4), -1.0, np.float32)
    for i, (r, c) in enumerate(places):
        for f in range(2):
            rr, cc = r + f * (1 if r == 0 else -1), c + f * (1 if c == 0 else -1)
            target[i, f, 2 * rr:2 * rr + 2, 2 * cc:2 * cc + 2] = 1.0
    target = jnp.asarray(target)
    words = jax.random.normal(jax.random.key(3), (4, 16))
    shared = jax.random.normal(jax.random.key(4), (1, 4, 16))
    text = jnp.concatenate([jnp.repeat(shared[:, :2], 4, 0), words[:, None], jnp.repeat(shared[:, 3:], 4, 0)], 1)
    mask = jnp.ones((4, 4), bool)
    t = jnp.full((4,), 0.02)
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(3e-3)

    def predict(params, key, prompts=text):
        x0 = jax.random.normal(key, target.shape)
        return nnx.merge(graphdef, params)(0.02 * target + 0.98 * x0, t, [(prompts, mask)])

    @jax.jit
    def step(params, opt_state, key):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean(jnp.square(predict(p, key) - target)))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    opt_state = tx.init(params)
    for i in range(500):
        params, opt_state = step(params, opt_state, jax.random.key(100 + i))
    pred = predict(params, jax.random.key(7))
    errors = np.array([[float(jnp.mean(jnp.square(pred[i] - target[j]))) for j in range(4)] for i in range(4)])
    own, other = np.diag(errors), errors[~np.eye(4, dtype=bool)]
    assert own.max() < 0.1 * other.min(), errors  # each prompt's output is its own layout, not the average
    # the prompt decides, not the faint copy of the target in the input: rolled prompts give the rolled layouts
    rolled = predict(params, jax.random.key(8), jnp.roll(text, 1, axis=0))
    assert float(jnp.mean(jnp.square(rolled - jnp.roll(target, 1, axis=0)))) < 0.1 * other.min()
