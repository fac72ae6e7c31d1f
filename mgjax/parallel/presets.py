"""Parallelism presets (paper §3.1.6): which mesh axes a preset may use, and the video backbone's logical-axis rules
under it. The mesh sizes stay in `MeshConfig`; the preset decides what each axis shards.

- data: plain data parallelism, every parameter replicated.
- fsdp: parameters, gradients and optimizer state sharded over `fsdp` (ZeRO-3), batch over data x fsdp.
- fsdp_tp: + Megatron tensor parallelism over `tensor` (Q/K/V and the SwiGLU in-projections column-parallel,
  O and the out-projection row-parallel).
- fsdp_tp_sp: + sequence parallelism: the residual stream (norms, adaLN, residual adds) is sharded along the sequence
  over `tensor` instead of replicated across the tensor group; XLA turns the all-reduce after a row-parallel layer
  into a reduce-scatter and gathers before the next column-parallel one.
- fsdp_tp_sp_cp: + context parallelism: the sequence is sharded over `context` everywhere; self-attention gathers
  K/V over it (attention/sharded.py). The paper's 768 px setup, and the default (axes of size 1 cost nothing).
"""

from __future__ import annotations

import math
from typing import Any

from mgjax.errors import UserError
from mgjax.parallel.rules import PRESET_AXES, PRESETS, video_rules

__all__ = ["PRESETS", "video_rules", "check_preset_mesh", "check_divisibility", "sharding_report",
           "check_sharded_enough"]

def check_preset_mesh(preset: str, mesh_shape: dict[str, int]) -> None:
    """An axis the preset does not shard over must have size 1 (it would silently replicate work)."""
    allowed = PRESET_AXES[preset]
    extra = {a: s for a, s in mesh_shape.items() if a not in allowed and s != 1}
    if extra:
        got = " ".join(f"{a}={s}" for a, s in extra.items())
        raise UserError(f"parallelism preset {preset!r} shards over {', '.join(allowed)} only, but the mesh has {got}; "
                        f"set those axes to 1 or pick a preset from: {', '.join(PRESETS)}")


def check_divisibility(*, num_heads: int, ffn_width: int, tokens: int, mesh_shape: dict[str, int],
                       preset: str) -> None:
    """Heads and the FFN split over `tensor`; the token sequence over `context` (and `tensor` under SP)."""
    tensor, context = mesh_shape.get("tensor", 1), mesh_shape.get("context", 1)
    if num_heads % tensor or ffn_width % tensor:
        raise UserError(f"model.num_heads ({num_heads}) and model.ffn_width ({ffn_width}) must be divisible by "
                        f"mesh.tensor ({tensor})")
    sp = preset.startswith("fsdp_tp_sp")
    seq_split = context * (tensor if sp else 1)
    if tokens % seq_split:
        split = f"mesh.context ({context}) x mesh.tensor ({tensor})" if sp else f"mesh.context ({context})"
        raise UserError(f"the clip's {tokens} tokens must be divisible by {split} under preset {preset!r}")


def sharding_report(params: Any, mesh_shape: dict[str, int], preset: str) -> dict[str, float]:
    """Per-device parameter bytes against the ideal (total / devices of the axes that shard parameters), and the
    fraction of bytes left replicated over those axes."""
    import jax

    model_axes = [a for a in ("fsdp", "tensor") if a in PRESET_AXES[preset]]
    ideal_split = math.prod(mesh_shape.get(a, 1) for a in model_axes)
    total = per_device = replicated = 0
    for leaf in jax.tree.leaves(params):
        nbytes = math.prod(leaf.shape) * leaf.dtype.itemsize
        spec = getattr(leaf.sharding, "spec", ())
        axes = [a for entry in spec if entry for a in ((entry,) if isinstance(entry, str) else entry)]
        split = math.prod(mesh_shape.get(a, 1) for a in axes if a in model_axes)
        total += nbytes
        per_device += nbytes / split
        if split < ideal_split:
            replicated += nbytes
    return {"total_bytes": total, "per_device_bytes": per_device, "ideal_per_device_bytes": total / ideal_split,
            "replicated_fraction": replicated / max(total, 1)}


def check_sharded_enough(report: dict[str, float], max_overhead: float = 0.05, slack_bytes: float = 64 * 2**20) -> None:
    """Fail when parameters take more than (1 + max_overhead) x the ideal per-device share and more than `slack_bytes`
    over it (a rule that leaves a big matrix replicated); small replicated tensors (norms, tables) fit the margin."""
    extra = report["per_device_bytes"] - report["ideal_per_device_bytes"]
    if extra > max_overhead * report["ideal_per_device_bytes"] and extra > slack_bytes:
        raise UserError(f"parameters are not sharded enough: {report['per_device_bytes'] / 2**30:.2f} GiB per device "
                        f"vs {report['ideal_per_device_bytes'] / 2**30:.2f} GiB ideal "
                        f"({report['replicated_fraction']:.1%} of the bytes are not fully sharded)")


def clip_tokens(cfg) -> int:
    """Backbone tokens of the configured clip (data.num_frames x height x width after the codec and patchify)."""
    from mgjax.models.tae.model import latent_frames

    c, d, p = cfg.codec, cfg.data, cfg.model.patch_size
    frames = latent_frames(c.tae, d.num_frames) if c.kind == "tae" else max(d.num_frames // c.factors[0], 1)
    return max(frames // p[0], 1) * (d.height // c.factors[1] // p[1]) * (d.width // c.factors[2] // p[2])


def check_parallelism(cfg, mesh_shape: dict[str, int]) -> None:
    """The preset against the mesh, and the model and clip against the axes that split them. Axes still at -1 (sized
    when the devices are known) are checked again by the training loop once the mesh exists."""
    preset = cfg.mesh.parallelism
    check_preset_mesh(preset, {a: s for a, s in mesh_shape.items() if s != 1})
    known = {a: s for a, s in mesh_shape.items() if s > 0}
    if cfg.task == "t2v":
        check_divisibility(num_heads=cfg.model.num_heads, ffn_width=cfg.model.ffn_width, tokens=clip_tokens(cfg),
                           mesh_shape=known, preset=preset)
