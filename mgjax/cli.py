"""Entry-point plumbing (imports no JAX and nothing of mgjax but errors): process-wide flags set once, before JAX
starts its backend, and user errors printed as one line. The commands themselves are in mgjax/commands.py."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from mgjax.errors import UserError


# XLA:CPU hands each convolution to YNNPACK by default; the backward passes of those convs then transpose activations
# to a batch-minor layout, which made the TAE train step 1.5-1.65x slower on 2 cores than XLA's own convolutions
# (bench/xla_cpu_flags.py, BENCHMARKS.md). Dot and reduce fusions stay on YNNPACK. Elementwise fusions do not: with
# `eltwise` in the list, SPMD-partitioned programs (8 fake devices, fsdp x tensor) fail to compile ("Instruction with
# unsupported layout in YNN fusion", a transposed {0,1} parameter) and can abort the process. The flag is experimental:
# the pinned jaxlib knows it, and XLA aborts on a flag it does not know, so a jaxlib bump must re-check it.
# MGJAX_CPU_FUSION=xla keeps XLA's own choice (the benchmark's comparison run).
CPU_FUSION_FLAG = "--xla_cpu_experimental_ynn_fusion_type=dot,reduce"


def add_xla_flags(num_cpu_devices: int | None = None) -> None:
    """mgjax's XLA_FLAGS (fake CPU devices when asked, CPU fusion choice), leaving any flag the user set alone. Must run
    before JAX starts its backend."""
    flags = os.environ.get("XLA_FLAGS", "")
    if num_cpu_devices and "xla_force_host_platform_device_count" not in flags:
        flags += f" --xla_force_host_platform_device_count={num_cpu_devices}"
    if "xla_cpu_experimental_ynn_fusion_type" not in flags and os.environ.get("MGJAX_CPU_FUSION") != "xla":
        flags += f" {CPU_FUSION_FLAG}"
    os.environ["XLA_FLAGS"] = flags.strip()


def prepare_tpu_compilation() -> None:
    """Compile for TPU from a CPU-only process (`python -m mgjax aot`): JAX itself runs on CPU, libtpu only compiles.
    libtpu reads the accelerator type at start-up and warns without one; any valid type quiets it (the topology is
    given per compilation)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("TPU_ACCELERATOR_TYPE", "v5p-8")
    os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")


def set_global_flags(num_cpu_devices: int | None = None) -> None:
    """Set process-wide flags once, before JAX starts its backend (never at import time)."""
    add_xla_flags(num_cpu_devices)
    _skip_absent_tpu()
    _compilation_cache()
    # mgjax's own messages (kernel choice, truncated prompts) at INFO; libraries stay at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mgjax").setLevel(logging.INFO)
    # Grain's worker processes read absl flags; mark them parsed (Grain 0.2.18 bug, see shared/stack.md).
    from absl import flags as absl_flags

    if not absl_flags.FLAGS.is_parsed():
        absl_flags.FLAGS.mark_as_parsed()


def _compilation_cache() -> None:
    """JAX's persistent compilation cache, so a restarted or repeated run (resume after preemption, sampling after
    training, the next benchmark case) loads its compiled programs instead of compiling them again. Directory:
    MGJAX_COMPILATION_CACHE_DIR, default ~/.cache/mgjax/jax; "off" disables it. Only programs that took over a second
    to compile are stored."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "mgjax", "jax")
    path = os.environ.get("MGJAX_COMPILATION_CACHE_DIR", default)
    if path.lower() in ("", "off", "0", "false"):
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def _skip_absent_tpu() -> None:
    """libtpu (the `tpu` extra, which `python -m mgjax aot` compiles with) prints an initialisation error when
    JAX probes it on a machine without TPU chips. When no chip exists and no other accelerator plugin is installed,
    CPU is the only platform JAX could pick anyway, so say so and skip the probe."""
    import importlib.metadata
    import importlib.util

    if "JAX_PLATFORMS" in os.environ or importlib.util.find_spec("libtpu") is None:
        return
    if list(importlib.metadata.entry_points(group="jax_plugins")):  # CUDA / ROCm plugins: let JAX choose
        return
    from jax._src import hardware_utils  # no backend starts here

    if hardware_utils.num_available_tpu_chips_and_device_id()[0] == 0:
        os.environ["JAX_PLATFORMS"] = "cpu"  # for child processes
        import jax  # already imported by the probe, which read JAX_PLATFORMS before it was set

        jax.config.update("jax_platforms", "cpu")


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run `main`, turning a UserError into `error: ...` on stderr and exit status 2."""
    try:
        code = main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
