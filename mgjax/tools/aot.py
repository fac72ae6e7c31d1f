"""Ahead-of-time plan for a TPU slice, on any machine (libtpu from the `tpu` extra; no TPU needed): compile the real
text-to-video training step for a TPU topology and report per-chip memory, FLOPs and a roofline step time.

python -m mgjax.tools.aot --config configs/moviegen_video_30b.py --topology v5p-512 [--batch N] [--set key=value ...]

The step is the one `train.py` runs (flow-matching loss, frozen text encoders, AdamW, EMA, the non-finite guard) over
cached latents (the paper caches TAE latents at 768 px), donated state, with the config's mesh, preset and remat.
Nothing is allocated: parameters, optimizer state and the batch are ShapeDtypeStructs with shardings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time

# Per chip: HBM (GiB) and peak dense bf16 TFLOP/s, from Google's published TPU specifications.
CHIPS = {
    "v4": {"hbm_gib": 32, "bf16_tflops": 275, "dims": 3, "cores_per_chip": 2},
    "v5p": {"hbm_gib": 95, "bf16_tflops": 459, "dims": 3, "cores_per_chip": 2},
    "v5e": {"hbm_gib": 16, "bf16_tflops": 197, "dims": 2, "cores_per_chip": 1},
    "v6e": {"hbm_gib": 32, "bf16_tflops": 918, "dims": 2, "cores_per_chip": 1},
}
_SHAPES_3D = {4: "2x2x1", 8: "2x2x2", 16: "2x2x4", 32: "2x4x4", 64: "4x4x4", 128: "4x4x8", 256: "4x8x8",
              512: "8x8x8", 1024: "8x8x16", 2048: "8x16x16", 4096: "16x16x16", 8192: "16x16x32"}
_SHAPES_2D = {1: "1x1", 4: "2x2", 8: "2x4", 16: "4x4", 32: "4x8", 64: "8x8", 128: "8x16", 256: "16x16"}


def parse_topology(text: str) -> tuple[str, str]:
    """'v5p-512' (an accelerator type: v4/v5p count TensorCores, two per chip; v5e/v6e count chips) or 'v5p:8x8x8'
    (a chip grid) -> (generation, grid)."""
    from mgjax.errors import UserError

    m = re.fullmatch(r"(v4|v5p|v5e|v6e)(?:-(\d+)|:(\d+(?:x\d+){1,2}))", text.strip())
    if not m:
        raise UserError(f"bad topology {text!r}; use an accelerator type like v5p-512 or a grid like v5p:8x8x8 "
                        f"(generations: {', '.join(CHIPS)})")
    gen, count, grid = m.groups()
    if grid:
        return gen, grid
    chips = int(count) // CHIPS[gen]["cores_per_chip"]
    table = _SHAPES_3D if CHIPS[gen]["dims"] == 3 else _SHAPES_2D
    if chips not in table:
        cores = CHIPS[gen]["cores_per_chip"]
        sizes = ", ".join(f"{gen}-{c * cores}" for c in table)
        raise UserError(f"no standard {gen} slice with {chips} chips; valid sizes: {sizes}")
    return gen, table[chips]


def topology_mesh(gen: str, grid: str, mesh_cfg):
    """A mesh over the abstract devices of a TPU topology, laid out along the physical torus where possible."""
    import numpy as np
    from jax.experimental import mesh_utils, topologies
    from jax.sharding import AxisType, Mesh

    from mgjax.parallel.mesh import MESH_AXES, resolve_mesh_shape

    devices = topologies.get_topology_desc(platform="tpu", topology_name=f"{gen}:{grid}").devices
    shape = resolve_mesh_shape(mesh_cfg, len(devices))
    try:
        arranged = mesh_utils.create_device_mesh(shape, devices)
    except (ValueError, NotImplementedError, AssertionError):
        arranged = np.asarray(devices).reshape(shape)
    return Mesh(arranged, MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES))


def abstract_train_state(cfg, tx, mesh):
    """(graphdef, state) as ShapeDtypeStructs carrying their shardings."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx
    from jax.sharding import NamedSharding, PartitionSpec as P

    from mgjax.models.t2v import TextToVideo, trainable_filter

    with jax.set_mesh(mesh):
        model = nnx.eval_shape(lambda: TextToVideo(cfg, rngs=nnx.Rngs(0)))
        graphdef, params, rest = nnx.split(model, trainable_filter(cfg), ...)
        params, rest = nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
        concrete = lambda t: jax.tree.map(  # noqa: E731  (abstract-mesh shardings -> this mesh's devices)
            lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=NamedSharding(mesh, a.sharding.spec)), t)
        params, rest = concrete(params), concrete(rest)
    replicated = NamedSharding(mesh, P())
    # Optimizer moments shard like their parameters (as jit(tx.init) places them in training); counters replicate.
    opt_state = optax.tree_map_params(
        tx, lambda a, p: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=p.sharding), jax.eval_shape(tx.init, params),
        params, transform_non_params=lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=replicated))
    step = jax.ShapeDtypeStruct((), jnp.int32, sharding=replicated)
    return graphdef, {"params": params, "rest": rest, "opt_state": opt_state, "ema": params, "step": step}


def abstract_batch(cfg, mesh, batch: int):
    """Cached latents and per-encoder token ids + masks (or, with text.precomputed, encoder outputs)."""
    import jax
    import jax.numpy as jnp

    from mgjax.models.codec.base import latent_grid
    from mgjax.parallel.rules import video_rules
    from mgjax.parallel.sharding import batch_sharding

    rules = video_rules(cfg.mesh.parallelism)
    d = cfg.data

    def struct(shape, dtype):
        return jax.ShapeDtypeStruct(shape, dtype, sharding=batch_sharding(mesh, len(shape), rules, shape[0]))

    text = []
    for e in cfg.text.encoders:
        first = (struct((batch, e.max_length, e.width), jnp.float32) if cfg.text.precomputed
                 else struct((batch, e.max_length), jnp.int32))
        text.append((first, struct((batch, e.max_length), jnp.bool_)))
    return {"latent": struct((batch,) + tuple(latent_grid(cfg.codec, d.num_frames, d.height, d.width)), jnp.float32),
            "text": text}


def null_tokens(cfg):
    """The empty prompt per encoder as constants (an EOS-only prompt; its exact ids do not change the program)."""
    import jax.numpy as jnp

    out = []
    for e in cfg.text.encoders:
        mask = jnp.zeros((1, e.max_length), bool).at[0, 0].set(True)
        first = (jnp.zeros((1, e.max_length, e.width), jnp.float32) if cfg.text.precomputed
                 else jnp.ones((1, e.max_length), jnp.int32))
        out.append((first, mask))
    return out


def plan(cfg, topology: str, batch: int | None = None) -> dict:
    import jax

    from mgjax.parallel.presets import check_parallelism
    from mgjax.tools.inspect import forward_flops, token_counts
    from mgjax.train.optim import make_optimizer
    from mgjax.train.t2v_step import make_train_step

    gen, grid = parse_topology(topology)
    mesh = topology_mesh(gen, grid, cfg.mesh)
    shape = dict(mesh.shape)
    check_parallelism(cfg, shape)
    batch = batch or shape["data"] * shape["fsdp"]  # one clip per data-parallel rank
    tx = make_optimizer(cfg.optim, cfg.train.steps)
    t0 = time.time()
    graphdef, state = abstract_train_state(cfg, tx, mesh)
    shardings = jax.tree.map(lambda a: a.sharding, state)
    inputs = abstract_batch(cfg, mesh, batch)
    step = make_train_step(graphdef, cfg, None, tx, null_tokens(cfg))
    with jax.set_mesh(mesh):
        lowered = jax.jit(step, donate_argnums=(0,), out_shardings=(shardings, None)).lower(state, inputs)
        t_lower = time.time() - t0
        try:
            compiled = lowered.compile()
            mem = compiled.memory_analysis()
            args, out, temp = mem.argument_size_in_bytes, mem.output_size_in_bytes, mem.temp_size_in_bytes
            alias = getattr(mem, "alias_size_in_bytes", 0)
        except jax.errors.JaxRuntimeError as e:  # XLA refuses programs that cannot fit; report what it needed
            needed = re.search(r"HLO temporaries \(([\d.]+)G\)", str(e))
            if "CompileTimeHbmOom" not in str(e) or not needed:
                raise
            args = out = alias = 0
            temp = float(needed.group(1)) * 2.0 ** 30
    t_compile = time.time() - t0 - t_lower
    gib = 2.0 ** 30
    peak = args + temp + out - alias  # donated state is aliased to the new state
    tokens = token_counts(cfg)
    fwd = forward_flops(cfg, tokens["video_tokens"], tokens["text_tokens"])
    # Model FLOPs of a training step: forward + backward (2x forward) of the backbone; remat's recomputation and the
    # frozen encoders' forward are not counted (the MFU convention).
    model_flops = 3 * fwd["total"] * batch
    chips = mesh.size
    spec = CHIPS[gen]
    roofline_s = model_flops / (chips * spec["bf16_tflops"] * 1e12)
    return {
        "config": cfg.name, "topology": f"{gen}-{chips * spec['cores_per_chip']} ({gen}:{grid}, {chips} chips)",
        "mesh": shape, "parallelism": cfg.mesh.parallelism, "remat": cfg.model.remat,
        "context_parallel": cfg.model.context_parallel, "global_batch": batch,
        "video_tokens_per_clip": tokens["video_tokens"], "tokens_per_step": tokens["video_tokens"] * batch,
        "per_chip_gib": {"arguments": args / gib, "outputs": out / gib, "aliased": alias / gib,
                         "temporaries": temp / gib, "peak": peak / gib, "hbm": spec["hbm_gib"]},
        "fits": peak <= spec["hbm_gib"] * gib,
        "model_tflops_per_step": model_flops / 1e12,
        "roofline_step_s": roofline_s,
        "lower_s": t_lower, "compile_s": t_compile,
    }


def format_plan(r: dict) -> str:
    m, g = r["mesh"], r["per_chip_gib"]
    return "\n".join([
        f"{r['config']} on {r['topology']}: mesh data={m['data']} fsdp={m['fsdp']} tensor={m['tensor']} "
        f"context={m['context']} ({r['parallelism']}, remat {r['remat']}, CP {r['context_parallel']})",
        f"global batch {r['global_batch']} clips x {r['video_tokens_per_clip']:,d} tokens = "
        f"{r['tokens_per_step']:,d} tokens per step",
        f"per chip: arguments {g['arguments']:.2f} GiB, temporaries {g['temporaries']:.2f} GiB, outputs "
        f"{g['outputs']:.2f} GiB (aliased {g['aliased']:.2f}) -> peak {g['peak']:.2f} of {g['hbm']} GiB HBM: "
        f"{'fits' if r['fits'] else 'DOES NOT FIT'}",
        f"model FLOPs per step {r['model_tflops_per_step']:.4g} TFLOP; roofline (compute-bound, 100% of bf16 peak) "
        f"{r['roofline_step_s']:.2f} s per step (a lower bound: no communication, no remat recomputation)",
        f"lowered in {r['lower_s']:.1f} s, compiled in {r['compile_s']:.1f} s",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--topology", required=True, help="e.g. v5p-512 (TensorCores) or v5p:8x8x8 (chip grid)")
    parser.add_argument("--batch", type=int, default=None, help="global batch (default: one clip per data x fsdp)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from mgjax.config import load_config
    from mgjax.errors import UserError

    cfg = load_config(args.config, args.set)
    if cfg.task != "t2v":
        raise UserError(f"the AOT planner compiles the text-to-video step; {args.config} has task={cfg.task}")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="latents"))
    r = plan(cfg, args.topology, args.batch)
    print(json.dumps(r, indent=2) if args.json else format_plan(r))
    return 0


def prepare_environment() -> None:
    """Compile for TPU from a CPU-only process: JAX itself runs on CPU, libtpu only compiles. libtpu reads the
    accelerator type at start-up and warns without one; any valid type quiets it (the topology is given per call)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("TPU_ACCELERATOR_TYPE", "v5p-8")
    os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")


if __name__ == "__main__":
    prepare_environment()
    from mgjax.cli import run_main, set_global_flags

    set_global_flags()
    run_main(main, sys.argv[1:])
