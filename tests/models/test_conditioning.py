"""Conditioning in the video backbone and weight surgery: a child initialised from a text-to-video parent
(`train.init_from`) reproduces the parent's output bit for bit whatever its conditioning input, every conditioning
input reaches the output through a trainable path, and a shape surgery cannot explain is one line naming the
parameter."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import micro_config
from mgjax.errors import UserError
from mgjax.models.video.transformer import Conditioning
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import task_for

COND = dict(cond_channels=8, context_widths=(12, 20), time_cond_width=6, cond_skip=True, cond_skip_gain=4.0)


def child_config(parent_dir, **model):
    cfg = micro_config()
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **{**COND, **model}),
                               train=dataclasses.replace(cfg.train, init_from=str(parent_dir)))


@pytest.fixture
def parent(t2v_parent):
    return t2v_parent


def child(cfg, devices):
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        task = task_for(cfg, abstract=True)  # nothing read but the parent's checkpoint
        state = task.init_state(fresh=True)
    return task.graphdef, state


def inputs(cfg, seed: int):
    keys = jax.random.split(jax.random.key(seed), 8)
    b, m = 2, cfg.text.encoders[0].max_length
    latents = jax.random.normal(keys[0], (b, 8, 4, 4, cfg.model.in_channels))
    ids = jax.random.randint(keys[1], (b, m), 4, 200)
    tokens = [(ids, jnp.arange(m)[None, :] < jnp.array([[9], [17]]))]
    t = jax.random.uniform(keys[2], (b,))
    second_mask = jnp.arange(7)[None, :] < jnp.array([[5], [2]])  # 5 and 2 valid tokens of 7
    cond = Conditioning(latent=jax.random.normal(keys[3], latents.shape[:-1] + (COND["cond_channels"],)),
                        context=((3.0 * jax.random.normal(keys[4], (b, 4, 12)), jnp.ones((b, 4), bool)),
                                 (jax.random.normal(keys[5], (b, 7, 20)), second_mask)),
                        vector=5.0 * jax.random.normal(keys[6], (b, COND["time_cond_width"])))
    return latents, t, tokens, cond


def test_child_reproduces_its_parent_bit_for_bit_whatever_the_condition(parent, tmp_path, devices):
    parent_model, parent_dir = parent
    cfg = child_config(parent_dir)
    graphdef, state = child(cfg, devices)
    parent_graph, parent_state = nnx.split(parent_model)
    run_parent = jax.jit(lambda s, x, t, tokens: nnx.merge(parent_graph, s)(x, t, tokens))
    run_child = jax.jit(lambda p, r, x, t, tokens, cond: nnx.merge(graphdef, p, r)(x, t, tokens, cond))
    for seed in (0, 1):
        latents, t, tokens, cond = inputs(cfg, seed)
        expected = np.asarray(run_parent(parent_state, latents, t, tokens))
        assert np.abs(expected).mean() > 1e-3  # the parent's head and gates are open: a real output
        for c in (cond, Conditioning()):
            np.testing.assert_array_equal(np.asarray(run_child(state["params"], state["rest"], latents, t, tokens, c)),
                                          expected)
    kernel = state["params"]["backbone"]["patch_embed"]["kernel"]
    assert kernel.shape[-2] == 48 + COND["cond_channels"]
    np.testing.assert_array_equal(kernel[..., :48, :], parent_model.backbone.patch_embed.kernel[...])
    assert not np.any(kernel[..., 48:, :])  # the new input channels start at zero
    assert not np.any(state["params"]["backbone"]["cond_skip"]["kernel"])  # so does the skip to the output
    for a, b in zip(jax.tree.leaves(state["ema"]), jax.tree.leaves(state["params"])):
        np.testing.assert_array_equal(a, b)  # the EMA starts from the transplanted weights


def test_every_conditioning_input_reaches_the_output(parent, devices):
    """At initialisation the gradient reaches the new input rows of patchify, the skip to the output, the timestep
    projection and the context gate; once the gate opens, the context projections get gradient too."""
    _, parent_dir = parent
    cfg = child_config(parent_dir)
    graphdef, state = child(cfg, devices)
    latents, t, tokens, cond = inputs(cfg, 0)

    @jax.jit
    def grads(params):
        loss = lambda p: jnp.mean(nnx.merge(graphdef, p, state["rest"])(latents, t, tokens, cond) ** 2)  # noqa: E731
        return jax.grad(loss)(params)["backbone"]

    g = grads(state["params"])
    assert np.abs(g["patch_embed"]["kernel"][..., 48:, :]).max() > 0
    assert np.abs(g["time_cond"]["kernel"]).max() > 0
    assert np.abs(g["cond_skip"]["kernel"]).max() > 0
    assert np.abs(g["blocks"]["context_gate"]).max() > 0
    opened = jax.tree.map(lambda x: x, state["params"])
    opened["backbone"]["blocks"]["context_gate"] = jnp.full_like(opened["backbone"]["blocks"]["context_gate"], 0.5)
    g = grads(opened)
    for stream in (0, 1):
        assert np.abs(g["context_proj"][stream]["kernel"]).max() > 0


def test_a_part_the_child_freezes_still_carries_over(parent, devices):
    """The parent trained its text encoder; a child that freezes it finds those weights in its frozen `rest`."""
    parent_model, parent_dir = parent
    cfg = child_config(parent_dir)
    frozen = dataclasses.replace(cfg.text.encoders[0], trainable=False)
    _, state = child(dataclasses.replace(cfg, text=dataclasses.replace(cfg.text, encoders=(frozen,))), devices)
    assert "text_encoders" not in state["params"]
    expected = nnx.to_pure_dict(nnx.state(parent_model.text_encoders, nnx.Param))
    for a, b in zip(jax.tree.leaves(state["rest"]["text_encoders"]), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_mismatch_surgery_cannot_explain_is_one_line(parent, devices):
    _, parent_dir = parent
    with pytest.raises(UserError) as e:
        child(child_config(parent_dir, ffn_width=48), devices)
    message = str(e.value)
    assert "backbone.blocks.mlp" in message and "(2, 32, 64)" in message and "\n" not in message
    with pytest.raises(UserError, match="a child may add modules but not drop them"):
        child(child_config(parent_dir, num_layers=1, scan_layers=False), devices)


def test_init_from_a_run_without_checkpoints_is_one_line(tmp_path, devices):
    with pytest.raises(UserError, match="no checkpoint found"):
        child(child_config(tmp_path / "missing"), devices)
