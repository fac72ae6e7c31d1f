"""Shared entry-point plumbing: global flags set once, user errors printed as one line."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable


def set_global_flags(num_cpu_devices: int | None = None) -> None:
    """Set process-wide flags once, before JAX starts its backend (never at import time)."""
    if num_cpu_devices:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={num_cpu_devices}".strip()
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
    """libtpu (the `tpu` extra, which `python -m mgjax.tools.aot` compiles with) prints an initialisation error when
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
    from mgjax.errors import UserError

    try:
        code = main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
