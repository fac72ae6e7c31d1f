"""Key-map loading without torch: exact copies, and one-line errors for missing, unexpected and misshapen keys."""

import jax
import numpy as np
import pytest
from flax import nnx

from conftest import micro_config
from mgjax.config import MeshConfig
from mgjax.convert.clip import interpolate_positions
from mgjax.convert.mapping import module_params
from mgjax.convert.safetensors import Checkpoint, save_file
from mgjax.convert.t5 import load_t5_encoder, t5_key_map
from mgjax.errors import UserError
from mgjax.models.text.stack import build_encoder, load_pretrained_encoders
from mgjax.parallel.mesh import make_mesh


def _encoder(devices):
    cfg = micro_config().text.encoders[0]
    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
        return cfg, build_encoder(cfg, rngs=nnx.Rngs(0))


def _hf_state(encoder, seed=1) -> dict[str, np.ndarray]:
    """A Hugging Face-layout state dict with the encoder's shapes (torch Linear weights are (out, in))."""
    rng = np.random.default_rng(seed)
    params = module_params(encoder)
    out = {}
    for path, source in t5_key_map(len(encoder.layers), {"shared.weight": None}).items():
        shape = tuple(params[path].shape)
        out[source.key] = rng.normal(size=shape[::-1] if source.transform else shape).astype(np.float32)
    return out


def test_t5_weights_land_where_the_key_map_says(devices, tmp_path):
    _, enc = _encoder(devices)
    state = _hf_state(enc)
    state["decoder.block.0.layer.0.SelfAttention.q.weight"] = np.zeros((4, 4), np.float32)  # ignored: decoder
    save_file(state, tmp_path / "model.safetensors")
    n = load_t5_encoder(enc, Checkpoint(tmp_path))
    assert n == sum(v.size for k, v in state.items() if not k.startswith("decoder"))
    np.testing.assert_array_equal(enc.embed.embedding[...], state["shared.weight"])
    q = state["encoder.block.0.layer.0.SelfAttention.q.weight"]
    np.testing.assert_array_equal(enc.layers[0].q.kernel[...], q.T)
    np.testing.assert_array_equal(enc.layers[0].wo.kernel[...],
                                  state["encoder.block.0.layer.1.DenseReluDense.wo.weight"].T)
    np.testing.assert_array_equal(enc.final_norm.scale[...], state["encoder.final_layer_norm.weight"])


@pytest.mark.parametrize("edit,match", [
    (lambda s: s.pop("encoder.block.0.layer.1.DenseReluDense.wi_1.weight"), "lacks 1 expected key.*wi_1"),
    (lambda s: s.update({"encoder.block.9.layer.0.layer_norm.weight": np.ones(3, np.float32)}),
     "1 unexpected key.*block.9"),
    (lambda s: s.update({"encoder.final_layer_norm.weight": np.ones(5, np.float32)}),
     "final_layer_norm.weight' has shape \\(5,\\).*final_norm.scale needs"),
    (lambda s: s.update({"encoder.block.0.layer.1.DenseReluDense.wi.weight": np.ones(3, np.float32)}), "ungated"),
])
def test_bad_checkpoints_fail_before_anything_is_written(devices, tmp_path, edit, match):
    _, enc = _encoder(devices)
    before = {p: np.array(v[...]) for p, v in module_params(enc).items()}
    state = _hf_state(enc)
    edit(state)
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(UserError, match=match):
        load_t5_encoder(enc, Checkpoint(tmp_path))
    for path, var in module_params(enc).items():  # every parameter untouched
        np.testing.assert_array_equal(var[...], before[path])


def test_an_encoder_s_configured_checkpoint_loads(devices, tmp_path):
    import dataclasses

    cfg, enc = _encoder(devices)
    state = _hf_state(enc, seed=3)
    save_file(state, tmp_path / "model.safetensors")
    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
        loaded = build_encoder(cfg, rngs=nnx.Rngs(0))
        load_pretrained_encoders([loaded], [dataclasses.replace(cfg, checkpoint=str(tmp_path))])
    np.testing.assert_array_equal(loaded.relative_bias[...],
                                  state["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"])


def test_position_interpolation_keeps_endpoints_and_is_linear():
    table = np.arange(77 * 2, dtype=np.float32).reshape(77, 2)  # linear in the position
    out = interpolate_positions(table, 256)
    assert out.shape == (256, 2)
    np.testing.assert_allclose(out[[0, -1]], table[[0, -1]])
    np.testing.assert_allclose(np.diff(out[:, 0]), 76 * 2 / 255, rtol=1e-4)  # float32 table


def test_abstract_builds_and_restores_never_read_encoder_checkpoints(tmp_path, devices):
    """Building the model (inspect, the AOT planner, a sampler or a resumed run about to restore) only constructs
    it: a configured checkpoint is read by the task's init_state for a fresh run, not by the constructor."""
    import dataclasses

    from mgjax.tools.inspect import report
    from mgjax.train.tasks import task_for

    cfg = micro_config()
    missing = str(tmp_path / "nowhere")
    cfg = dataclasses.replace(cfg, text=dataclasses.replace(cfg.text, encoders=tuple(
        dataclasses.replace(e, checkpoint=missing) for e in cfg.text.encoders)))
    assert report(cfg)["parameters"]["text/ul2"] > 0
    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
        task = task_for(cfg)
        task.init_state(fresh=False)
        with pytest.raises(Exception, match="nowhere"):
            task.init_state(fresh=True)
