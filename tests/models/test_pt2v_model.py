"""Personalized video's model: initialised from a text-to-video parent it gives the parent's output whatever the
reference (kept or masked out); its vision tower is the trained CLIP's, frozen until stage III; the reference reaches
the output once the context projection opens, and a masked reference does not."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import clip_config, micro_config
from mgjax.checkpoint.restore import load_clip
from mgjax.config.pt2v import pt2v_model
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import task_for, validate


def pt2v_config(parent_dir, clip_dir, **model):
    cfg = micro_config()
    return dataclasses.replace(
        cfg, task="pt2v", model=pt2v_model(cfg.model, clip_config().model.vision, vision_from=str(clip_dir), **model),
        train=dataclasses.replace(cfg.train, init_from=str(parent_dir)))


def built(cfg, devices):
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        task = task_for(cfg, abstract=True)  # reads the parent's checkpoint and the CLIP, nothing else
        state = task.init_state(fresh=True)
    return task.graphdef, state


@pytest.fixture(scope="module")
def child(t2v_parent, clip_run, devices):
    parent_model, parent_dir = t2v_parent
    cfg = pt2v_config(parent_dir, clip_run[1])
    return (cfg, *built(cfg, devices), parent_model)


def inputs(cfg, seed: int):
    keys = jax.random.split(jax.random.key(seed), 4)
    b, m = 3, cfg.text.encoders[0].max_length
    latents = jax.random.normal(keys[0], (b, 8, 4, 4, 48))
    tokens = [(jax.random.randint(keys[1], (b, m), 4, 200), jnp.arange(m)[None, :] < jnp.array([[9], [17], [3]]))]
    reference = jax.random.randint(keys[2], (b, 16, 16, 3), 0, 256).astype(jnp.uint8)
    return latents, jax.random.uniform(keys[3], (b,)), tokens, reference


def test_the_child_gives_its_parents_output_at_init_reference_kept_or_masked(child):
    cfg, graphdef, state, parent_model = child
    parent_graph, parent_state = nnx.split(parent_model)
    latents, t, tokens, reference = inputs(cfg, 0)
    expected = np.asarray(jax.jit(lambda s: nnx.merge(parent_graph, s)(latents, t, tokens))(parent_state))
    assert np.abs(expected).mean() > 1e-3  # a real output: the parent's head and gates are open
    run = jax.jit(lambda p, r, keep: nnx.merge(graphdef, p, r)(latents, t, tokens, reference, keep))
    for keep in (jnp.ones(3, bool), jnp.array([True, False, True])):
        np.testing.assert_array_equal(np.asarray(run(state["params"], state["rest"], keep)), expected)


def test_the_vision_tower_is_the_clip_s_and_frozen_until_stage_iii(child, clip_run, devices):
    cfg, _, state, _ = child
    clip = nnx.to_pure_dict(load_clip(clip_run[1]).params)["vision"]
    assert "vision" not in state["params"] and "vision" not in state["ema"]  # frozen: no gradient, no moments
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), state["rest"]["vision"],
                 clip)
    _, trained = built(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, vision_trainable=True)), devices)
    assert "vision" in trained["params"] and "vision" not in trained["rest"]


def test_the_reference_reaches_the_output_and_a_masked_one_does_not(child):
    cfg, graphdef, state, _ = child
    latents, t, tokens, reference = inputs(cfg, 1)
    keep = jnp.array([True, True, False])
    gate = jax.grad(lambda p: jnp.mean(nnx.merge(graphdef, p, state["rest"])(latents, t, tokens, reference, keep)
                                       ** 2))(state["params"])["backbone"]["blocks"]["context_gate"]
    assert np.abs(gate).max() > 0  # at init the gate is where learning starts
    opened = jax.tree.map(lambda x: x, state["params"])
    bb = opened["backbone"]
    bb["blocks"]["context_gate"] = jnp.full_like(bb["blocks"]["context_gate"], 0.5)
    bb["context_proj"][0]["kernel"] = 0.05 * jax.random.normal(jax.random.key(0), bb["context_proj"][0]["kernel"].shape)
    run = jax.jit(lambda r: nnx.merge(graphdef, opened, state["rest"])(latents, t, tokens, r, keep))
    other = 255 - reference
    a, b = np.asarray(run(reference)), np.asarray(run(other))
    assert np.abs(a[:2] - b[:2]).max() > 1e-3  # a kept reference steers the output
    np.testing.assert_array_equal(a[2], b[2])  # a masked one cannot


def test_pt2v_configs_that_cannot_work_are_one_line(t2v_parent, clip_run):
    cfg = pt2v_config(t2v_parent[1], clip_run[1])
    bad = [dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, context_widths=(8,))),
           dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="natural_clips")),
           dataclasses.replace(cfg, data=dataclasses.replace(
               cfg.data, pt2v=dataclasses.replace(cfg.data.pt2v, cross_pair_prob=1.5)))]
    for c in bad:
        with pytest.raises(UserError) as e:
            validate(c)
        assert "\n" not in str(e.value)


def test_a_vision_tower_unlike_the_clip_s_is_refused_in_one_line(t2v_parent, clip_run, devices):
    cfg = pt2v_config(t2v_parent[1], clip_run[1])
    vision = dataclasses.replace(cfg.model.vision, num_layers=3)
    wrong = dataclasses.replace(cfg, model=pt2v_model(micro_config().model, vision, vision_from=str(clip_run[1])))
    with pytest.raises(UserError, match=r"num_layers 3 \(the CLIP's 2\)") as e:
        built(wrong, devices)
    assert "\n" not in str(e.value)
