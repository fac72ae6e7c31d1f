"""One of two JAX processes on localhost (run by test_fault_tolerance.py): joins the group through
`initialize_from_env` (the MGJAX_* variables, as `train.py` does), then trains `ft_config()` in a workdir both
processes share, on a data=2 x fsdp=4 mesh over the 4 + 4 CPU devices of the two processes. Each step is slowed
down so that the test can send SIGTERM to one process while training runs.

    MGJAX_COORDINATOR_ADDRESS=127.0.0.1:PORT MGJAX_NUM_PROCESSES=2 MGJAX_PROCESS_ID=I \
        python two_process_train.py WORKDIR STEP_SECONDS
"""

import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]  # test_fault_tolerance, conftest, mgjax
from mgjax.cli import set_global_flags  # noqa: E402

set_global_flags(num_cpu_devices=4)
from mgjax.parallel.distributed import initialize_from_env  # noqa: E402

assert initialize_from_env()
import jax  # noqa: E402

assert jax.process_count() == 2 and jax.local_device_count() == 4 and jax.device_count() == 8
# Only now (the backend has started with 4 devices): the test module's conftest asks for 8 devices at import.
from mgjax.parallel.mesh import make_mesh  # noqa: E402
from mgjax.train import loop  # noqa: E402
from test_fault_tolerance import ft_config  # noqa: E402

# The leading mesh axis (data) spans the processes; fsdp stays on each process's own 4 devices.
mesh = make_mesh(ft_config().mesh)
assert [{d.process_index for d in mesh.devices[i].flat} for i in range(2)] == [{0}, {1}], mesh.devices

workdir, step_seconds = sys.argv[1], float(sys.argv[2])
real_put = loop.put_batch


def slow_put(*args, **kwargs):
    time.sleep(step_seconds)
    return real_put(*args, **kwargs)


loop.put_batch = slow_put
loop.train(ft_config(), workdir, verbose=False)
print(f"process {jax.process_index()} done", flush=True)
