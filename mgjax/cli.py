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
    # mgjax's own messages (kernel choice, truncated prompts) at INFO; libraries stay at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mgjax").setLevel(logging.INFO)
    # Grain's worker processes read absl flags; mark them parsed (Grain 0.2.18 bug, see shared/stack.md).
    from absl import flags as absl_flags

    if not absl_flags.FLAGS.is_parsed():
        absl_flags.FLAGS.mark_as_parsed()


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run `main`, turning a UserError into `error: ...` on stderr and exit status 2."""
    from mgjax.errors import UserError

    try:
        code = main(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
