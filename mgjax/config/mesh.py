"""The device mesh (data, fsdp, tensor, context) and the parallelism presets that say what each axis shards.

Presets (paper §3.1.6):
- data: plain data parallelism, every parameter replicated.
- fsdp: parameters, gradients and optimizer state sharded over `fsdp` (ZeRO-3), batch over data x fsdp.
- fsdp_tp: + Megatron tensor parallelism over `tensor` (Q/K/V and the SwiGLU in-projections column-parallel, O and
  the out-projection row-parallel).
- fsdp_tp_sp: + sequence parallelism: the residual stream (norms, adaLN, residual adds) is sharded along the sequence
  over `tensor` instead of replicated across the tensor group.
- fsdp_tp_sp_cp: + context parallelism: the sequence is sharded over `context` everywhere; self-attention gathers
  K/V over it. The paper's 768 px setup, and the default (axes of size 1 cost nothing).
The logical-axis rules each preset implies live in `mgjax/parallel/rules.py`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

MESH_AXES = ("data", "fsdp", "tensor", "context")

Parallelism = Literal["data", "fsdp", "fsdp_tp", "fsdp_tp_sp", "fsdp_tp_sp_cp"]

# The mesh axes each preset shards over; the others must be 1.
PRESET_AXES: dict[str, tuple[str, ...]] = {
    "data": ("data",),
    "fsdp": ("data", "fsdp"),
    "fsdp_tp": ("data", "fsdp", "tensor"),
    "fsdp_tp_sp": ("data", "fsdp", "tensor"),
    "fsdp_tp_sp_cp": ("data", "fsdp", "tensor", "context"),
}
PRESETS = tuple(PRESET_AXES)


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    """Device mesh axes; -1 takes the devices left over (at most one axis may be -1)."""

    data: int = -1
    fsdp: int = 1
    tensor: int = 1
    context: int = 1
    # What the axes shard (above). The paper's 768 px stage is fsdp_tp_sp_cp with TP 4 and CP 2.
    parallelism: Parallelism = "fsdp_tp_sp_cp"

    def axes(self) -> dict[str, int]:
        return {"data": self.data, "fsdp": self.fsdp, "tensor": self.tensor, "context": self.context}
