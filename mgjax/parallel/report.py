"""How well a model's parameters are sharded on a mesh: per-device bytes against the ideal split, and a check that
fails when a rule leaves a large matrix replicated."""

from __future__ import annotations

import math
from typing import Any

import jax

from mgjax.config.mesh import PRESET_AXES
from mgjax.errors import UserError


def sharding_report(params: Any, mesh_shape: dict[str, int], preset: str) -> dict[str, float]:
    """Per-device parameter bytes against the ideal (total / devices of the axes that shard parameters), and the
    fraction of bytes left replicated over those axes."""
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
