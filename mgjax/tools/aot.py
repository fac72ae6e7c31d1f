"""Ahead-of-time plan for a TPU slice, on any machine (libtpu from the `tpu` extra; no TPU needed): compile a config's
real training step for a TPU topology and report per-chip memory, FLOPs and a roofline step time.

python -m mgjax aot --config configs/moviegen_video_30b.py --topology v5p-512 [--batch N] [--set key=value ...]

The step is the one training runs, built by the config's task in its abstract mode (text-to-video: flow-matching
loss over cached latents, as the paper caches TAE latents at 768 px, frozen text encoders, AdamW, EMA, the non-finite
guard), with donated state and the config's mesh, preset and remat. Nothing is allocated: parameters, optimizer state
and the batch are ShapeDtypeStructs with shardings.
"""

from __future__ import annotations

import re
import time

import jax
import numpy as np
from jax.experimental import mesh_utils, topologies
from jax.sharding import AxisType, Mesh

from mgjax.config.geometry import video_tokens
from mgjax.config.mesh import MESH_AXES, MeshConfig
from mgjax.config.schema import Config
from mgjax.config.validate import check_preset_mesh
from mgjax.config.video import VideoModelConfig
from mgjax.errors import UserError
from mgjax.parallel.mesh import resolve_mesh_shape
from mgjax.train.tasks import task_for
from mgjax.train.tasks.base import state_shardings

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


def topology_mesh(gen: str, grid: str, mesh_cfg: MeshConfig) -> Mesh:
    """A mesh over the abstract devices of a TPU topology, laid out along the physical torus where possible."""
    devices = topologies.get_topology_desc(platform="tpu", topology_name=f"{gen}:{grid}").devices
    shape = resolve_mesh_shape(mesh_cfg, len(devices))
    try:
        arranged = mesh_utils.create_device_mesh(shape, devices)
    except (ValueError, NotImplementedError, AssertionError):
        arranged = np.asarray(devices).reshape(shape)
    return Mesh(arranged, MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES))


def plan(cfg: Config, topology: str, batch: int | None = None) -> dict:
    """Compile the config's task's training step (its last phase, which has every loss on) for the topology."""
    gen, grid = parse_topology(topology)
    mesh = topology_mesh(gen, grid, cfg.mesh)
    shape = dict(mesh.shape)
    check_preset_mesh(cfg.mesh.parallelism, shape)
    task = task_for(cfg, abstract=True)
    task.check_mesh(shape)
    batch = batch or shape["data"] * shape["fsdp"]  # one clip per data-parallel rank
    t0 = time.time()
    state = task.abstract_state(mesh)
    shardings = state_shardings(state)
    inputs = task.abstract_batch(mesh, batch)
    step = task.make_step(task.phase(cfg.train.steps - 1))
    with jax.set_mesh(mesh):
        lowered = jax.jit(step, donate_argnums=(0,), out_shardings=(shardings, None)).lower(state, inputs)
        t_lower = time.time() - t0
        try:
            compiled = lowered.compile()
            mem = compiled.memory_analysis()
            args, out, temp = mem.argument_size_in_bytes, mem.output_size_in_bytes, mem.temp_size_in_bytes
            alias = getattr(mem, "alias_size_in_bytes", 0)
            xla_flops = (compiled.cost_analysis() or {}).get("flops")
        except jax.errors.JaxRuntimeError as e:  # XLA refuses programs that cannot fit; report what it needed
            needed = re.search(r"HLO temporaries \(([\d.]+)G\)", str(e))
            if "CompileTimeHbmOom" not in str(e) or not needed:
                raise
            args = out = alias = 0
            temp = float(needed.group(1)) * 2.0 ** 30
            xla_flops = None
    t_compile = time.time() - t0 - t_lower
    gib = 2.0 ** 30
    peak = args + temp + out - alias  # donated state is aliased to the new state
    # Model FLOPs of a step, analytic where the task knows them (XLA counts a scanned layer once); else XLA's count.
    model_flops = task.model_flops(batch) or xla_flops or 0.0
    chips = mesh.size
    spec = CHIPS[gen]
    roofline_s = model_flops / (chips * spec["bf16_tflops"] * 1e12)
    result = {
        "config": cfg.name, "task": cfg.task,
        "topology": f"{gen}-{chips * spec['cores_per_chip']} ({gen}:{grid}, {chips} chips)",
        "mesh": shape, "parallelism": cfg.mesh.parallelism, "global_batch": batch,
        "per_chip_gib": {"arguments": args / gib, "outputs": out / gib, "aliased": alias / gib,
                         "temporaries": temp / gib, "peak": peak / gib, "hbm": spec["hbm_gib"]},
        "fits": peak <= spec["hbm_gib"] * gib,
        "model_tflops_per_step": model_flops / 1e12,
        "roofline_step_s": roofline_s,
        "lower_s": t_lower, "compile_s": t_compile,
    }
    if isinstance(cfg.model, VideoModelConfig):
        tokens = video_tokens(cfg)["video_tokens"]
        result.update(remat=cfg.model.remat, context_parallel=cfg.model.context_parallel,
                      video_tokens_per_clip=tokens, tokens_per_step=tokens * batch)
    return result


def format_plan(r: dict) -> str:
    m, g = r["mesh"], r["per_chip_gib"]
    video = "video_tokens_per_clip" in r
    extra = f", remat {r['remat']}, CP {r['context_parallel']}" if video else ""
    return "\n".join([
        f"{r['config']} ({r['task']}) on {r['topology']}: mesh data={m['data']} fsdp={m['fsdp']} "
        f"tensor={m['tensor']} context={m['context']} ({r['parallelism']}{extra})",
        (f"global batch {r['global_batch']} clips x {r['video_tokens_per_clip']:,d} tokens = "
         f"{r['tokens_per_step']:,d} tokens per step" if video else f"global batch {r['global_batch']}"),
        f"per chip: arguments {g['arguments']:.2f} GiB, temporaries {g['temporaries']:.2f} GiB, outputs "
        f"{g['outputs']:.2f} GiB (aliased {g['aliased']:.2f}) -> peak {g['peak']:.2f} of {g['hbm']} GiB HBM: "
        f"{'fits' if r['fits'] else 'DOES NOT FIT'}",
        f"model FLOPs per step {r['model_tflops_per_step']:.4g} TFLOP; roofline (compute-bound, 100% of bf16 peak) "
        f"{r['roofline_step_s']:.2f} s per step (a lower bound: no communication, no remat recomputation)",
        f"lowered in {r['lower_s']:.1f} s, compiled in {r['compile_s']:.1f} s",
    ])

