"""The jitted train step: same loss on 1 device and on 8 fake devices, and it learns."""

import dataclasses

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from conftest import micro_config
from mgjax.config import MeshConfig
from mgjax.data.t2v_loader import caption_corpus_for, t2v_batches
from mgjax.models.codec.base import build_codec
from mgjax.models.text.stack import load_or_train_tokenizers
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import put_batch
from mgjax.train.loop import null_prompt_tokens
from mgjax.train.optim import make_optimizer
from mgjax.train.state import create_train_state, state_shardings
from mgjax.train.t2v_step import make_train_step


def run_steps(cfg, devices, num_steps):
    mesh = make_mesh(cfg.mesh, devices)
    toks = load_or_train_tokenizers(cfg.text.encoders, None, corpus=caption_corpus_for(cfg, num=500))
    tx = make_optimizer(cfg.optim, cfg.train.steps)
    losses = []
    with jax.set_mesh(mesh):
        graphdef, state = create_train_state(cfg, tx)
        step = jax.jit(make_train_step(graphdef, cfg, build_codec(cfg.codec), tx, null_prompt_tokens(cfg, toks)),
                       out_shardings=(state_shardings(state), None))
        for batch in t2v_batches(cfg, toks, num_steps=num_steps):
            state, metrics = step(state, put_batch(batch, mesh, VIDEO_RULES))
            losses.append(float(metrics["loss"]))
    return losses, state


def test_eight_device_step_equals_one_device_step(devices):
    """data x fsdp x tensor = 2 x 2 x 2 on fake CPU devices vs a single device: same losses, same parameters."""
    cfg = micro_config()
    one, state1 = run_steps(dataclasses.replace(cfg, mesh=MeshConfig(data=1)), devices[:1], 3)
    eight, state8 = run_steps(dataclasses.replace(cfg, mesh=MeshConfig(data=2, fsdp=2, tensor=2)), devices, 3)
    np.testing.assert_allclose(eight, one, rtol=1e-5)
    kernel = state8["params"]["backbone"]["blocks"]["mlp"]["w1"]["kernel"]
    assert kernel.sharding.spec == P(None, "fsdp", "tensor")  # really sharded: layers x embed x mlp
    for a, b in zip(jax.tree.leaves(state8["params"]), jax.tree.leaves(state1["params"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5)


@pytest.mark.slow
def test_tiny_model_learns_the_flow(devices):
    """The flow-matching loss on Moving Shapes falls well below its starting value within 120 steps."""
    cfg = micro_config(steps=120)
    losses, _ = run_steps(dataclasses.replace(cfg, mesh=MeshConfig(data=1)), devices[:1], 120)
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:5])
