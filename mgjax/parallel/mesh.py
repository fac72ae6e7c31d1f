"""Device meshes over the four axes every mgjax model shards on: data, fsdp, tensor, context."""

from __future__ import annotations

import math
from typing import Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh

from mgjax.config.mesh import MESH_AXES, MeshConfig
from mgjax.errors import UserError


def resolve_mesh_shape(cfg: MeshConfig, num_devices: int) -> tuple[int, ...]:
    """Replace a -1 axis by the devices left over; fail with one line when the axes do not divide the devices."""
    shape = [cfg.data, cfg.fsdp, cfg.tensor, cfg.context]
    given = f"data={cfg.data} fsdp={cfg.fsdp} tensor={cfg.tensor} context={cfg.context}"
    fixed = math.prod(a for a in shape if a != -1)
    if -1 in shape:
        if num_devices % fixed:
            raise UserError(f"mesh {given} does not divide {num_devices} devices: the fixed axes multiply to {fixed}; "
                            f"set mesh axes whose product divides {num_devices}")
        shape[shape.index(-1)] = num_devices // fixed
    elif fixed != num_devices:
        raise UserError(f"mesh {given} needs {fixed} devices but {num_devices} are available; "
                        f"make the axes multiply to {num_devices} or set one axis to -1")
    return tuple(shape)


def make_mesh(cfg: MeshConfig, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A mesh with Auto axis types (jax.make_mesh defaults to Explicit, which breaks constraint-based sharding)."""
    devices = list(jax.devices() if devices is None else devices)
    shape = resolve_mesh_shape(cfg, len(devices))
    if devices == list(jax.devices()):
        return jax.make_mesh(shape, MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES))
    return Mesh(np.asarray(devices).reshape(shape), MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES))
