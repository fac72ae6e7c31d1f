"""Multi-process (multi-host) start-up: `jax.distributed.initialize` when the environment asks for it.

One Python process runs per host (or per GPU); all of them run the same command. What asks for it:

- explicit: MGJAX_COORDINATOR_ADDRESS (host:port of process 0), MGJAX_NUM_PROCESSES and MGJAX_PROCESS_ID; cluster
  auto-detection is then switched off so these values win;
- a cluster JAX configures itself in (`jax._src.clusters`), detected here the same way but only when it really runs
  more than one process: SLURM (`srun` sets SLURM_JOB_ID, SLURM_STEP_NODELIST, SLURM_NTASKS > 1, SLURM_PROCID,
  SLURM_LOCALID), Open MPI (`mpirun` sets OMPI_MCA_orte_hnp_uri), a TPU slice on GKE (TPU_WORKER_HOSTNAMES or
  TPU_PROCESS_ADDRESSES listing several hosts), multislice TPU (MEGASCALE_COORDINATOR_ADDRESS), or a Cloud TPU VM
  (JAX found TPU chips and libtpu at import; the worker list comes from the GCE metadata server);
- MGJAX_DISTRIBUTED=1 forces `jax.distributed.initialize()` with JAX's auto-detection (e.g. Kubernetes), and
  MGJAX_DISTRIBUTED=0 keeps a single process whatever else is set.

MGJAX_LOCAL_DEVICE_IDS ("0,1,2,3") picks the accelerators this process drives, in either case (under SLURM and Open
MPI on GPUs JAX otherwise gives each process the one GPU numbered by its local rank).

Nothing set: a single process, and nothing happens. Must run before anything starts JAX's backend.
"""

from __future__ import annotations

import logging
import os
from typing import Mapping

import jax

from mgjax.errors import UserError

log = logging.getLogger(__name__)

EXPLICIT = ("MGJAX_COORDINATOR_ADDRESS", "MGJAX_NUM_PROCESSES", "MGJAX_PROCESS_ID")
SLURM = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID")


def _int(env: Mapping[str, str], key: str) -> int:
    try:
        return int(env[key])
    except ValueError:
        raise UserError(f"{key} must be an integer, got {env[key]!r}") from None


def explicit_args(env: Mapping[str, str]) -> dict | None:
    """jax.distributed.initialize keyword arguments from the MGJAX_* variables (None when none is set)."""
    given = [k for k in EXPLICIT if env.get(k)]
    if not given:
        return None
    if len(given) < len(EXPLICIT):
        missing = ", ".join(k for k in EXPLICIT if k not in given)
        raise UserError(f"multi-process start needs {', '.join(EXPLICIT)} together; missing {missing}")
    return {"coordinator_address": env["MGJAX_COORDINATOR_ADDRESS"], "num_processes": _int(env, "MGJAX_NUM_PROCESSES"),
            "process_id": _int(env, "MGJAX_PROCESS_ID"), "cluster_detection_method": "deactivate"}


def _several(value: str | None) -> bool:
    return bool(value) and len([h for h in value.split(",") if h.strip()]) > 1


def _cloud_tpu_vm() -> bool:
    try:  # set by `import jax` when libtpu and TPU chips are present (private, hence the guard)
        from jax._src import cloud_tpu_init

        return bool(cloud_tpu_init.running_in_cloud_tpu_vm) and "TPU_SKIP_MDS_QUERY" not in os.environ
    except (ImportError, AttributeError):
        return False


def detected_cluster(env: Mapping[str, str]) -> str | None:
    """The multi-process cluster JAX can configure itself in (None: none, or a single process)."""
    if all(k in env for k in SLURM) and _int(env, "SLURM_NTASKS") > 1:
        return "slurm"
    if "OMPI_MCA_orte_hnp_uri" in env and int(env.get("OMPI_COMM_WORLD_SIZE", "2")) > 1:
        return "openmpi"
    if env.get("MEGASCALE_COORDINATOR_ADDRESS") or _several(env.get("TPU_PROCESS_ADDRESSES")) \
            or _several(env.get("TPU_WORKER_HOSTNAMES")):
        return "tpu"
    if env is os.environ and _cloud_tpu_vm():  # only the real environment describes this machine
        return "tpu"
    return None


def initialize_from_env(env: Mapping[str, str] | None = None) -> bool:
    """Join the process group the environment describes; True once jax.distributed is initialized (now or by an
    earlier call: idempotent), False for a single process."""
    env = os.environ if env is None else env
    if jax.distributed.is_initialized():
        return True
    if env.get("MGJAX_DISTRIBUTED") == "0":
        return False
    args = explicit_args(env)
    how = "MGJAX_* variables" if args else detected_cluster(env)
    if how is None and env.get("MGJAX_DISTRIBUTED") == "1":
        how = "JAX auto-detection"
    if how is None:
        return False
    args = args or {}  # empty: JAX reads the cluster's own variables
    if env.get("MGJAX_LOCAL_DEVICE_IDS"):
        args["local_device_ids"] = [int(i) for i in env["MGJAX_LOCAL_DEVICE_IDS"].split(",")]
    jax.distributed.initialize(**args)
    log.info("jax.distributed (%s): process %d of %d, %d local of %d devices", how, jax.process_index(),
             jax.process_count(), jax.local_device_count(), jax.device_count())
    return True
