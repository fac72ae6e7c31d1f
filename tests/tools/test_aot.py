"""The AOT planner: TPU topology names, and (tpu_aot, needs libtpu) splash attention and the full 30B training step
compiled for a v5p slice from this CPU machine."""

import os

import pytest

from conftest import CONFIGS
from mgjax.errors import UserError
from mgjax.tools.aot import parse_topology


def test_topology_names():
    assert parse_topology("v5p-512") == ("v5p", "4x8x8")  # v5p counts TensorCores: 256 chips
    assert parse_topology("v5p-1024") == ("v5p", "8x8x8")
    assert parse_topology("v6e-256") == ("v6e", "16x16")
    assert parse_topology("v5p:8x8x16") == ("v5p", "8x8x16")
    with pytest.raises(UserError, match="valid sizes: v5p-8, v5p-16"):
        parse_topology("v5p-24")
    with pytest.raises(UserError, match="bad topology"):
        parse_topology("h100-8")


def _tpu():
    pytest.importorskip("libtpu", reason="the tpu extra (libtpu) compiles for TPU; `make test` installs it")
    os.environ.setdefault("TPU_ACCELERATOR_TYPE", "v5p-8")  # quiets libtpu's start-up warnings on a CPU machine
    os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")


@pytest.mark.tpu_aot
@pytest.mark.parametrize("mode", ["all_gather", "ring"])
def test_context_parallel_splash_attention_compiles_for_tpu(mode):
    _tpu()
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P

    from mgjax.attention.sharded import sharded_attend
    from mgjax.config import MeshConfig
    from mgjax.parallel.rules import video_rules
    from mgjax.tools.aot import topology_mesh

    mesh = topology_mesh("v5p", "2x2x2", MeshConfig(data=1, fsdp=2, tensor=2, context=2))
    spec = NamedSharding(mesh, P(("data", "fsdp"), "context", "tensor", None))
    q = jax.ShapeDtypeStruct((2, 4096, 8, 128), jnp.bfloat16, sharding=spec)
    fn = lambda q, k, v: sharded_attend(q, k, v, rules=video_rules("fsdp_tp_sp_cp"),  # noqa: E731
                                        self_attention=True, context_mode=mode)
    with jax.set_mesh(mesh):
        grad = jax.jit(jax.grad(lambda q, k, v: fn(q, k, v).astype(jnp.float32).sum(), argnums=(0, 1, 2)))
        lowered = grad.lower(q, q, q)
        compiled = lowered.compile()
    text = lowered.as_text()
    if mode == "all_gather":
        assert "tpu_custom_call" in text  # the Pallas splash kernel, forward and backward
    assert ("all_gather" if mode == "all_gather" else "collective_permute") in text
    assert compiled.memory_analysis().temp_size_in_bytes < 2 ** 30


@pytest.mark.tpu_aot
@pytest.mark.slow
def test_30b_768px_training_step_fits_a_v5p_512_slice():
    """The real train step of configs/moviegen_video_30b.py (48 x 6144 backbone, UL2 + ByT5 + MetaCLIP, 73,728
    tokens per clip, FSDP x TP 4 x CP 2, full remat) compiles for 256 v5p chips and fits in 95 GiB per chip."""
    _tpu()
    from mgjax.tools.aot import plan
    from mgjax.train.tasks import load_config

    r = plan(load_config(CONFIGS / "moviegen_video_30b.py"), "v5p-512")
    assert r["video_tokens_per_clip"] == 73_728 and r["global_batch"] == 32
    assert r["mesh"] == {"data": 1, "fsdp": 32, "tensor": 4, "context": 2}
    assert r["fits"] and 5 < r["per_chip_gib"]["peak"] < 95, r["per_chip_gib"]
    # 3 x forward FLOPs: (58 dense + 87 attention) GFLOP per token forward (shared/spec/moviegen.md §11)
    assert 0.9e6 < r["model_tflops_per_step"] < 1.1e6
