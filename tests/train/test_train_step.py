"""The jitted train step: same loss on 1 device and on 8 fake devices, and it learns."""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec as P

from conftest import micro_config
from mgjax.config import MeshConfig
from mgjax.data.moving_shapes import COLORS
from mgjax.data.t2v_loader import shapes_source
from mgjax.models.text.stack import encode_prompts
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import put_batch
from mgjax.train.tasks import task_for
from mgjax.train.tasks.base import state_shardings


def run_steps(cfg, devices, num_steps):
    """-> (losses, final state, task): the text-to-video task's own state, step and batches on `devices`."""
    mesh = make_mesh(cfg.mesh, devices)
    losses = []
    with jax.set_mesh(mesh):
        task = task_for(cfg)
        state = task.init_state(fresh=True)
        step = jax.jit(task.make_step(None), out_shardings=(state_shardings(state), None))
        for batch in itertools.islice(task.batches(0), num_steps):
            state, metrics = step(state, put_batch(batch, mesh, VIDEO_RULES))
            losses.append(float(metrics["loss"]))
    return losses, state, task


_ONE_DEVICE: dict = {}


def one_device_run(cfg, devices, num_steps):
    if num_steps not in _ONE_DEVICE:
        _ONE_DEVICE[num_steps] = run_steps(dataclasses.replace(cfg, mesh=MeshConfig(data=1)), devices[:1], num_steps)
    return _ONE_DEVICE[num_steps]


PRESET_MESHES = [  # (preset, mesh axes, context-parallel mode, the SwiGLU w1 kernel's expected sharding)
    ("data", dict(data=8), "all_gather", P(None, None, None)),
    ("fsdp", dict(data=2, fsdp=4), "all_gather", P(None, "fsdp", None)),
    ("fsdp_tp", dict(data=2, fsdp=2, tensor=2), "all_gather", P(None, "fsdp", "tensor")),
    ("fsdp_tp_sp", dict(data=2, fsdp=2, tensor=2), "all_gather", P(None, "fsdp", "tensor")),
    ("fsdp_tp_sp_cp", dict(data=1, fsdp=2, tensor=2, context=2), "all_gather", P(None, "fsdp", "tensor")),
    ("fsdp_tp_sp_cp", dict(data=1, fsdp=2, tensor=2, context=2), "ring", P(None, "fsdp", "tensor")),
    ("fsdp_tp_sp_cp", dict(data=2, fsdp=1, tensor=1, context=4), "ring", P(None, None, None)),
]


@pytest.mark.parametrize("preset,axes,cp_mode,w1_spec", PRESET_MESHES,
                         ids=[f"{p}-{'x'.join(map(str, a.values()))}-{m}" for p, a, m, _ in PRESET_MESHES])
def test_every_parallelism_preset_matches_one_device(devices, preset, axes, cp_mode, w1_spec, capfd):
    """Each preset on 8 fake CPU devices vs a single device: same losses and same parameters after two steps, so the
    forward and backward passes agree (the parameters are the gradients' sum through AdamW). XLA partitions the step
    without falling back to replicating a tensor (its "Involuntary full rematerialization" warning)."""
    cfg = micro_config()
    one, state1, _ = one_device_run(cfg, devices, 2)
    cfg8 = dataclasses.replace(cfg, mesh=MeshConfig(parallelism=preset, **axes),
                               model=dataclasses.replace(cfg.model, context_parallel=cp_mode))
    eight, state8, _ = run_steps(cfg8, devices, 2)
    np.testing.assert_allclose(eight, one, rtol=1e-5)
    kernel = state8["params"]["backbone"]["blocks"]["mlp"]["w1"]["kernel"]
    spec = tuple(kernel.sharding.spec) + (None,) * (kernel.ndim - len(kernel.sharding.spec))
    assert spec == tuple(w1_spec)  # really sharded as the preset says: layers x embed x mlp
    for a, b in zip(jax.tree.leaves(state8["params"]), jax.tree.leaves(state1["params"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5)
    assert "Involuntary full rematerialization" not in capfd.readouterr().err


def test_muon_step_on_a_sharded_mesh_matches_one_device(devices):
    """Muon orthogonalises each (layer of a) sharded kernel as one matrix: fsdp x tensor on 8 fake devices gives the
    one-device losses and parameters after two steps."""
    base = micro_config()
    cfg = dataclasses.replace(base, optim=dataclasses.replace(base.optim, optimizer="muon"))
    one, state1, _ = run_steps(dataclasses.replace(cfg, mesh=MeshConfig(data=1)), devices[:1], 2)
    eight, state8, _ = run_steps(dataclasses.replace(cfg, mesh=MeshConfig(parallelism="fsdp_tp", data=2, fsdp=2,
                                                                       tensor=2)), devices, 2)
    np.testing.assert_allclose(eight, one, rtol=1e-5)
    # Parameters barely move in two warm-up steps; the momenta Muon orthogonalises carry the gradients themselves.
    for part in ("params", "opt_state"):
        for a, b in zip(jax.tree.leaves(state8[part]), jax.tree.leaves(state1[part])):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5)
    assert "MuonState" in str(jax.tree.structure(state8["opt_state"]))  # Muon really ran (routing: test_optim.py)


def swap_colours(caption: str) -> str:
    """Every colour word replaced by the next colour in the palette."""
    names = list(COLORS)
    return " ".join(names[(names.index(w) + 1) % len(names)] if w in COLORS else w for w in caption.split())


@pytest.mark.slow
def test_tiny_model_learns_colour_from_text(devices):
    """After 250 steps the loss has halved and the model paints the colour its caption names: from pure noise
    (t = 0.02) its predicted clip shifts towards the named colour when only the colour word changes."""
    base = micro_config(steps=250)
    cfg = dataclasses.replace(
        base, mesh=MeshConfig(data=1),
        model=dataclasses.replace(base.model, width=64, ffn_width=128, num_heads=2),
        data=dataclasses.replace(base.data, num_frames=4, batch_size=16,
                                 shapes=dataclasses.replace(base.data.shapes, two_object_prob=0.0)),
        flow=dataclasses.replace(base.flow, prediction="data"),
        text=dataclasses.replace(base.text, drop_prob=0.0),
        optim=dataclasses.replace(base.optim, learning_rate=2e-3, warmup_steps=20))
    losses, state, task = run_steps(cfg, devices[:1], 250)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5])

    toks, codec = task.tokenizers, task.codec
    source = shapes_source(cfg.data, split="heldout")  # combinations never seen in training
    captions = [source[i]["caption"] for i in range(48)]
    swapped = [swap_colours(c) for c in captions]
    model = nnx.merge(task.graphdef, state["params"], state["rest"])
    lt, lh, lw, lc = codec.geometry.latent_shape(cfg.data.num_frames, cfg.data.height, cfg.data.width)
    xt = jax.random.normal(jax.random.key(0), (len(captions), lt, lh, lw, lc))
    t = jnp.full((len(captions),), 0.02)

    def mean_rgb(texts):  # the model predicts the data: its output at t ~ 0 is its expected clip for the caption
        tokens = [(jnp.asarray(b.ids), jnp.asarray(b.mask)) for b in encode_prompts(texts, cfg.text.encoders, toks)]
        return np.asarray(jnp.mean(codec.decode(model(xt, t, tokens)), axis=(1, 2, 3)))

    shift = mean_rgb(captions) - mean_rgb(swapped)
    named = lambda c: np.array([COLORS[w] for w in c.split() if w in COLORS][0], float)
    expected = np.stack([named(a) - named(b) for a, b in zip(captions, swapped)])
    cosine = np.sum(shift * expected, 1) / (np.linalg.norm(shift, axis=1) * np.linalg.norm(expected, axis=1))
    assert np.mean(cosine) > 0.5, np.round(cosine, 2)


def test_non_finite_batch_skips_the_update_and_counts_it(devices):
    """A NaN in the batch gives a NaN loss: weights, optimizer state and EMA stay as they were, the step advances,
    the skip is reported; the next finite batch trains normally."""
    cfg = dataclasses.replace(micro_config(), mesh=MeshConfig(data=1))
    mesh = make_mesh(cfg.mesh, devices[:1])
    with jax.set_mesh(mesh):
        task = task_for(cfg)
        state = task.init_state(fresh=True)
        step = jax.jit(task.make_step(None))
        batch = next(task.batches(0))
        before = jax.tree.map(np.asarray, state)
        bad = dict(batch, video=batch["video"].astype(np.float32) * np.nan)
        state, metrics = step(state, put_batch(bad, mesh, VIDEO_RULES))
        assert not np.isfinite(float(metrics["loss"])) and float(metrics["skipped"]) == 1.0
        for key in ("params", "opt_state", "ema"):
            for a, b in zip(jax.tree.leaves(state[key]), jax.tree.leaves(before[key])):
                np.testing.assert_array_equal(np.asarray(a), b)
        assert int(state["step"]) == 1
        for _ in range(2):  # the skipped update did not advance the optimizer's count: its first step has lr 0
            state, metrics = step(state, put_batch(batch, mesh, VIDEO_RULES))
            assert float(metrics["skipped"]) == 0.0 and np.isfinite(float(metrics["loss"]))
        moved = [np.abs(np.asarray(a) - b).max() for a, b in zip(jax.tree.leaves(state["params"]),
                                                               jax.tree.leaves(before["params"]))]
        assert max(moved) > 0


def test_gradient_accumulation_equals_the_full_batch(devices):
    """Two micro-batches of 4 give the full batch of 8's loss and update (the randomness is drawn for the whole
    batch, so only summation order differs), on an FSDP x TP mesh."""
    cfg = dataclasses.replace(micro_config(), mesh=MeshConfig(data=2, fsdp=2, tensor=2, parallelism="fsdp_tp"))
    full, state_full, _ = run_steps(cfg, devices, 2)
    accum = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, grad_accum_steps=2))
    micro, state_micro, _ = run_steps(accum, devices, 2)
    np.testing.assert_allclose(micro, full, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(state_micro["params"]), jax.tree.leaves(state_full["params"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5)
