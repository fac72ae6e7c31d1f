"""The spatial upsampler's model and task: initialised from a text-to-image parent it gives the parent's output
whatever the low-resolution input, the input reaches the output, and its configs are checked in one line each."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import CONFIGS, upsample_config
from mgjax.config import CodecConfig
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import load_config, task_for, validate


@pytest.fixture(scope="module")
def child(t2v_parent, devices):
    parent_model, parent_dir = t2v_parent
    cfg = upsample_config(init_from=str(parent_dir))
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        task = task_for(cfg, abstract=True)  # nothing read but the parent's checkpoint
        state = task.init_state(fresh=True)
    return cfg, task.graphdef, state, parent_model


def inputs(cfg, seed: int, frames: int = 8):
    keys = jax.random.split(jax.random.key(seed), 4)
    b, m = 2, cfg.text.encoders[0].max_length
    latents = jax.random.normal(keys[0], (b, frames, 4, 4, 48))
    tokens = [(jax.random.randint(keys[1], (b, m), 4, 200), jnp.arange(m)[None, :] < jnp.array([[9], [1]]))]
    return latents, jax.random.uniform(keys[2], (b,)), tokens, 2.0 * jax.random.normal(keys[3], latents.shape)


def test_the_child_gives_its_parents_output_at_init(child):
    cfg, graphdef, state, parent_model = child
    parent_graph, parent_state = nnx.split(parent_model)
    run_parent = jax.jit(lambda s, x, t, tokens: nnx.merge(parent_graph, s)(x, t, tokens))
    run_child = jax.jit(lambda p, r, *a: nnx.merge(graphdef, p, r)(*a))
    for seed, frames in ((0, 8), (1, 3)):
        latents, t, tokens, low = inputs(cfg, seed, frames)
        expected = np.asarray(run_parent(parent_state, latents, t, tokens))
        assert np.abs(expected).mean() > 1e-3
        got = run_child(state["params"], state["rest"], latents, t, tokens, low)
        np.testing.assert_array_equal(np.asarray(got), expected)
    kernel = state["params"]["backbone"]["patch_embed"]["kernel"]
    assert kernel.shape[-2] == 96 and not np.any(kernel[..., 48:, :])  # 48 -> 96 input channels, the new ones zero
    assert state["params"]["backbone"]["cond_skip"]["kernel"].shape == (4 * 48, 4 * 48)  # patch to patch, zero


def test_the_low_resolution_video_reaches_the_output(child):
    cfg, graphdef, state, _ = child
    latents, t, tokens, low = inputs(cfg, 2)

    def loss(params, low):
        return jnp.mean(nnx.merge(graphdef, params, state["rest"])(latents, t, tokens, low) ** 2)

    g = jax.jit(jax.grad(loss))(state["params"], low)
    assert np.abs(g["backbone"]["patch_embed"]["kernel"][..., 48:, :]).max() > 0
    assert np.abs(g["backbone"]["cond_skip"]["kernel"]).max() > 0  # the skip learns from the first step too
    opened = jax.tree.map(lambda x: x, state["params"])
    kernel = opened["backbone"]["patch_embed"]["kernel"]
    opened["backbone"]["patch_embed"]["kernel"] = kernel.at[..., 48:, :].set(0.05)
    grad_low = jax.jit(jax.grad(loss, argnums=1))(opened, low)
    assert float(jnp.abs(grad_low).mean()) > 0  # once open, the output depends on every low-resolution latent
    assert np.all(np.abs(np.asarray(grad_low)).max(axis=(0, 2, 3, 4)) > 0)  # every frame


def test_configs_are_checked_in_one_line():
    cfg = upsample_config()
    validate(cfg)
    bad = [
        (dataclasses.replace(cfg, codec=CodecConfig(kind="space_to_depth", factors=(2, 4, 4)),
                             model=dataclasses.replace(cfg.model, in_channels=96, cond_channels=96)), "frame-wise"),
        (dataclasses.replace(cfg, sample=dataclasses.replace(cfg.sample, window_frames=14)), "window_frames"),
        (dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="moving_shapes")), "natural_clips"),
        (dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, cond_channels=0)), "upsampler_model"),
        (dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, scale=3)), "divisible by model.scale"),
    ]
    for c, words in bad:
        with pytest.raises(UserError, match=words):
            validate(c)


def test_the_paper_config_is_7b_in_abstract():
    cfg = load_config(CONFIGS / "moviegen_upsampler_7b.py")
    r = task_for(cfg, abstract=True).report()
    assert abs(r["parameters"]["backbone"] / 7e9 - 1) < 0.03
    assert r["upsample"]["patchify_in_channels"] == 32 and r["upsample"]["window"] == (14, 4)
    assert r["tokens"]["latent"] == (14, 136, 240, 16)  # frame-wise: latent frames = pixel frames
