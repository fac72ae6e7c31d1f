import pytest
from jax.sharding import AxisType, PartitionSpec as P

from mgjax.config import MeshConfig
from mgjax.errors import UserError
from mgjax.parallel.mesh import MESH_AXES, make_mesh, resolve_mesh_shape
from mgjax.parallel.rules import VIDEO_RULES, logical_to_spec, resolve, use_rules


def test_minus_one_fills_the_remaining_devices(devices):
    assert resolve_mesh_shape(MeshConfig(data=-1, fsdp=2, tensor=2), 8) == (2, 2, 2, 1)
    assert resolve_mesh_shape(MeshConfig(data=1, fsdp=-1, tensor=4, context=2), 512) == (1, 64, 4, 2)
    mesh = make_mesh(MeshConfig(data=2, fsdp=2, tensor=-1), devices)
    assert mesh.axis_names == MESH_AXES and tuple(mesh.shape.values()) == (2, 2, 2, 1)
    assert all(t == AxisType.Auto for t in mesh.axis_types)
    assert make_mesh(MeshConfig(), devices[:1]).size == 1


@pytest.mark.parametrize("cfg, fragment", [
    (MeshConfig(data=-1, tensor=3), "does not divide 8 devices"),
    (MeshConfig(data=2, fsdp=2, tensor=1), "needs 4 devices but 8 are available"),
])
def test_a_mesh_that_does_not_divide_the_devices_is_one_line(cfg, fragment, devices):
    with pytest.raises(UserError) as e:
        make_mesh(cfg, devices)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_logical_rules_map_names_to_mesh_axes():
    assert logical_to_spec(("batch", "seq", "act_embed"), VIDEO_RULES) == P(("data", "fsdp"), "context", None)
    assert logical_to_spec(("embed", "mlp"), VIDEO_RULES) == P("fsdp", "tensor")
    # a mesh axis shards one dimension only
    assert logical_to_spec(("embed", "embed"), VIDEO_RULES) == P("fsdp", None)
    with use_rules(VIDEO_RULES):
        assert resolve(("layers", "embed", "heads")) == (None, "fsdp", "tensor")
    with pytest.raises(RuntimeError, match="use_rules"):
        resolve(("embed",))


def test_presets_shard_what_they_say():
    from mgjax.parallel.rules import video_rules

    spec = lambda preset, names: logical_to_spec(names, video_rules(preset))  # noqa: E731
    assert spec("data", ("embed", "mlp")) == P(None, None)
    assert spec("fsdp", ("embed", "mlp")) == P("fsdp", None)
    assert spec("fsdp_tp", ("embed", "mlp")) == P("fsdp", "tensor")
    assert spec("fsdp_tp", ("batch", "res_seq", "act_embed")) == P(("data", "fsdp"), None, None)
    assert spec("fsdp_tp_sp", ("batch", "res_seq", "act_embed")) == P(("data", "fsdp"), "tensor", None)
    assert spec("fsdp_tp_sp_cp", ("batch", "res_seq", "act_embed")) == P(("data", "fsdp"), ("context", "tensor"), None)
    assert spec("fsdp_tp_sp_cp", ("batch", "seq", "act_heads")) == P(("data", "fsdp"), "context", "tensor")


@pytest.mark.parametrize("overrides, fragment", [
    (["mesh.parallelism=fsdp", "mesh.tensor=2"], "shards over data, fsdp only, but the mesh has tensor=2"),
    (["mesh.parallelism=data", "mesh.fsdp=-1", "mesh.data=1"], "but the mesh has fsdp=-1"),
    (["mesh.tensor=5"], "num_heads (48) and model.ffn_width (16384) must be divisible by mesh.tensor (5)"),
    (["mesh.context=5", "mesh.tensor=1"], "73728 tokens must be divisible by mesh.context (5) x mesh.tensor (1)"),
    (["mesh.parallelism=fsdp_tp_cp"], "valid options: data, fsdp, fsdp_tp, fsdp_tp_sp, fsdp_tp_sp_cp"),
    (["mesh.parallelism=fsdp_tp_sp", "mesh.context=1", "data.num_frames=1", "data.height=784", "data.width=784"],
     "2401 tokens must be divisible by mesh.context (1) x mesh.tensor (4)"),
    (["mesh.context=4096", "mesh.tensor=4"], "divisible by mesh.context (4096) x mesh.tensor (4)"),
])
def test_presets_heads_and_sequence_are_checked_when_the_config_is_built(overrides, fragment):
    from conftest import CONFIGS
    from mgjax.train.tasks import load_config

    with pytest.raises(UserError) as e:
        load_config(CONFIGS / "moviegen_video_30b.py", overrides)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_sharding_check_catches_replicated_weights(devices):
    """Building under the data preset's rules (everything replicated) on an fsdp x tensor mesh leaves every device
    with the whole model: the check names the overhead. The fsdp_tp build is within the margin."""
    import dataclasses

    import jax

    from conftest import micro_config
    from mgjax.models.t2v import build_model, split_model
    from mgjax.parallel.report import check_sharded_enough, sharding_report

    shape = dict(data=1, fsdp=4, tensor=2, context=1)
    reports = {}
    for preset in ("data", "fsdp_tp"):
        cfg = dataclasses.replace(micro_config(), mesh=MeshConfig(parallelism=preset, **shape))
        with jax.set_mesh(make_mesh(dataclasses.replace(cfg.mesh, parallelism="fsdp_tp"), devices)):
            _, params, _ = split_model(cfg, build_model(cfg))
        reports[preset] = sharding_report(params["backbone"], shape, "fsdp_tp")
    assert reports["data"]["replicated_fraction"] == 1.0
    with pytest.raises(UserError, match="not sharded enough"):
        check_sharded_enough(reports["data"], slack_bytes=0)
    assert reports["fsdp_tp"]["per_device_bytes"] < 0.2 * reports["data"]["per_device_bytes"]
