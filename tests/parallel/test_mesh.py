import pytest
from jax.sharding import AxisType, PartitionSpec as P

from mgjax.config import MeshConfig
from mgjax.errors import UserError
from mgjax.parallel.mesh import MESH_AXES, make_mesh, resolve_mesh_shape
from mgjax.parallel.rules import VIDEO_RULES, resolve, use_rules
from mgjax.parallel.sharding import logical_to_spec


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
