"""Movie Gen Edit's model: initialised from a text-to-video parent it gives the parent's output whatever the input
video, task and frame position; the input video's channels and the task embedding reach the output; image edits can
sit at any temporal position."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import micro_config
from mgjax.config.edit import edit_model
from mgjax.data.shape_edits import TASKS
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import task_for, validate


def edit_config(parent_dir, **model):
    cfg = micro_config()
    return dataclasses.replace(cfg, task="edit", model=edit_model(cfg.model, task_width=12, **model),
                               train=dataclasses.replace(cfg.train, init_from=str(parent_dir)))


@pytest.fixture(scope="module")
def child(t2v_parent, devices):
    parent_model, parent_dir = t2v_parent
    cfg = edit_config(parent_dir)
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        task = task_for(cfg, abstract=True)  # nothing read but the parent's checkpoint
        state = task.init_state(fresh=True)
    return cfg, task.graphdef, state, parent_model


def inputs(cfg, seed: int, frames: int = 8):
    keys = jax.random.split(jax.random.key(seed), 5)
    b, m = 3, cfg.text.encoders[0].max_length
    latents = jax.random.normal(keys[0], (b, frames, 4, 4, 48))
    tokens = [(jax.random.randint(keys[1], (b, m), 4, 200), jnp.arange(m)[None, :] < jnp.array([[9], [17], [3]]))]
    source = jax.random.normal(keys[2], latents.shape)
    task = jax.random.randint(keys[3], (b,), 0, len(TASKS))
    return latents, jax.random.uniform(keys[4], (b,)), tokens, source, task


def test_the_child_gives_its_parents_output_at_init(child):
    cfg, graphdef, state, parent_model = child
    parent_graph, parent_state = nnx.split(parent_model)
    run_parent = jax.jit(lambda s, x, t, tokens: nnx.merge(parent_graph, s)(x, t, tokens))
    run_child = jax.jit(lambda p, r, *a: nnx.merge(graphdef, p, r)(*a))
    for seed, frames in ((0, 8), (1, 1)):
        latents, t, tokens, source, task = inputs(cfg, seed, frames)
        expected = np.asarray(run_parent(parent_state, latents, t, tokens))
        assert np.abs(expected).mean() > 1e-3  # a real output: the parent's head and gates are open
        got = run_child(state["params"], state["rest"], latents, t, tokens, source, task, None)
        np.testing.assert_array_equal(np.asarray(got), expected)
    kernel = state["params"]["backbone"]["patch_embed"]["kernel"]
    assert kernel.shape[-2] == 96 and not np.any(kernel[..., 48:, :])  # 48 -> 96 input channels, the new ones zero


def test_the_input_video_and_the_task_reach_the_output(child):
    """At init the gradient reaches patchify's input-video rows, the timestep map of the task vector and the
    context gate; once those open, the task embedding and its token map get gradient too."""
    cfg, graphdef, state, _ = child
    latents, t, tokens, source, task = inputs(cfg, 2)

    @jax.jit
    def grads(params):
        loss = lambda p: jnp.mean(nnx.merge(graphdef, p, state["rest"])(latents, t, tokens, source, task) ** 2)  # noqa
        return jax.grad(loss)(params)

    g = grads(state["params"])
    assert np.abs(g["backbone"]["patch_embed"]["kernel"][..., 48:, :]).max() > 0
    assert np.abs(g["backbone"]["time_cond"]["kernel"]).max() > 0
    assert np.abs(g["backbone"]["blocks"]["context_gate"]).max() > 0
    opened = jax.tree.map(lambda x: x, state["params"])
    bb = opened["backbone"]
    bb["blocks"]["context_gate"] = jnp.full_like(bb["blocks"]["context_gate"], 0.5)
    bb["time_cond"]["kernel"] = jnp.full_like(bb["time_cond"]["kernel"], 0.01)
    bb["context_proj"][0]["kernel"] = jnp.full_like(bb["context_proj"][0]["kernel"], 0.01)
    g = grads(opened)
    used = np.unique(np.asarray(task))
    rows = np.abs(np.asarray(g["task_embed"]["embedding"])).max(-1)
    assert (rows[used] > 0).all() and not rows[np.setdiff1d(np.arange(len(TASKS)), used)].any()
    assert np.abs(g["task_tokens"]["kernel"]).max() > 0


def test_image_edits_take_any_temporal_position(child):
    cfg, graphdef, state, _ = child
    model = nnx.merge(graphdef, state["params"], state["rest"])
    pe = model.backbone.pos_embed
    table = np.asarray(pe.t[...])
    np.testing.assert_array_equal(np.asarray(pe((1, 2, 2), jnp.zeros((2,), jnp.int32))[0]), np.asarray(pe((1, 2, 2))))
    shifted = np.asarray(pe((1, 2, 2), jnp.array([0, 5])))
    np.testing.assert_allclose(shifted[1] - shifted[0], np.broadcast_to(table[5] - table[0], shifted[0].shape),
                               atol=1e-6)
    latents, t, tokens, source, task = inputs(cfg, 3, frames=1)
    out = [np.asarray(model(latents, t, tokens, source, task, jnp.full((3,), k, jnp.int32))) for k in (0, 6)]
    assert np.abs(out[0] - out[1]).max() > 1e-4


def test_edit_configs_that_cannot_work_are_one_line(t2v_parent):
    _, parent_dir = t2v_parent
    cfg = edit_config(parent_dir)
    bad = [dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, cond_channels=0)),
           dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_tasks=3)),
           dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, edit=dataclasses.replace(cfg.data.edit,
                                                                                                stage=4)))]
    for c in bad:
        with pytest.raises(UserError) as e:
            validate(c)
        assert "\n" not in str(e.value)
