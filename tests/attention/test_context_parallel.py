"""Context-parallel attention on 8 fake CPU devices equals the unsharded kernel, forward and backward, with padding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from mgjax.attention.sharded import sharded_attend
from mgjax.attention.xla import attend_xla
from mgjax.config import MeshConfig
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import video_rules


@pytest.mark.parametrize("mode", ["all_gather", "ring"])
@pytest.mark.parametrize("axes", [dict(data=2, context=4), dict(data=1, fsdp=2, tensor=2, context=2)])
def test_context_parallel_attention_matches_unsharded(devices, mode, axes):
    b, n, h, d = 2, 32, 4, 16
    q, k, v = (jax.random.normal(key, (b, n, h, d)) for key in jax.random.split(jax.random.key(0), 3))
    lengths = jnp.array([32, 13])  # the second sample's last 19 keys are padding: whole ring blocks are empty
    rules = video_rules("fsdp_tp_sp_cp")

    def loss(fn):
        return lambda q, k, v: jnp.sum(jnp.sin(fn(q, k, v)))  # a non-trivial cotangent per output element

    ref = attend_xla(q, k, v, kv_lengths=lengths)
    ref_grads = jax.grad(loss(lambda q, k, v: attend_xla(q, k, v, kv_lengths=lengths)), argnums=(0, 1, 2))(q, k, v)
    mesh = make_mesh(MeshConfig(**axes), devices)
    with jax.set_mesh(mesh):
        spec = NamedSharding(mesh, P(("data", "fsdp"), "context", "tensor", None))
        q, k, v = (jax.device_put(x, spec) for x in (q, k, v))
        fn = lambda q, k, v: sharded_attend(q, k, v, rules=rules, self_attention=True,  # noqa: E731
                                            kv_lengths=lengths, context_mode=mode)
        out = jax.jit(fn)(q, k, v)
        grads = jax.jit(jax.grad(loss(fn), argnums=(0, 1, 2)))(q, k, v)
        text = jax.jit(fn).lower(q, k, v).as_text()
    np.testing.assert_allclose(out, ref, atol=1e-5)
    for g, g_ref in zip(grads, ref_grads):
        np.testing.assert_allclose(g, g_ref, atol=1e-5)
    assert ("all_gather" if mode == "all_gather" else "collective_permute") in text  # the scheme really ran
    assert float(jnp.abs(grads[1][1, 13:]).max()) == 0.0  # padding keys get no gradient


def test_unknown_context_mode_is_refused(devices):
    q = jnp.zeros((2, 8, 2, 4))
    with jax.set_mesh(make_mesh(MeshConfig(data=2, context=4), devices)):
        with pytest.raises(ValueError, match="valid: all_gather, ring"):
            sharded_attend(q, q, q, rules=video_rules("fsdp_tp_sp_cp"), self_attention=True, context_mode="ulysses")
