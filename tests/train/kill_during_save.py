"""Trains `ft_config` on one device in WORKDIR with a checkpoint after every step (run by test_fault_tolerance.py,
which sends SIGKILL while the save of step HELD_STEP is in flight).

    python kill_during_save.py WORKDIR HELD_STEP

Orbax writes a step into `<step>.orbax-checkpoint-tmp-<timestamp>/` and renames it to `<step>/` once complete. The
hook holds the save of HELD_STEP just before that commit (`AtomicRenameTemporaryPath.finalize`, Orbax's rename on
local file systems), so the partial directory stays on disk until the test kills this process. `hook.txt` in WORKDIR
says whether the hook could be installed; if Orbax moves that method, the test falls back to killing after a later
step. Every step also sleeps a little so that the test can act while training runs.
"""

import asyncio
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]  # test_fault_tolerance, conftest, mgjax
import conftest  # noqa: E402,F401  (8 fake CPU devices as in the test process: the XLA cache keys then match)
import jax  # noqa: E402
import orbax.checkpoint as ocp  # noqa: E402

from mgjax.train import loop  # noqa: E402
from test_fault_tolerance import ONE_DEVICE, ft_config  # noqa: E402

workdir, held = pathlib.Path(sys.argv[1]), sys.argv[2]
workdir.mkdir(parents=True, exist_ok=True)
rename = getattr(getattr(ocp.path.atomicity, "AtomicRenameTemporaryPath", None), "finalize", None)
if rename is not None:
    async def held_finalize(self):
        if self.get_final().name == held:
            await asyncio.sleep(600)  # killed long before this ends
        return await rename(self)

    ocp.path.atomicity.AtomicRenameTemporaryPath.finalize = held_finalize
(workdir / "hook.txt").write_text("installed" if rename is not None else "missing")

real_put = loop.put_batch


def slow_put(*args, **kwargs):
    time.sleep(0.2)
    return real_put(*args, **kwargs)


loop.put_batch = slow_put
loop.train(ft_config(ONE_DEVICE, checkpoint_every=1), workdir, devices=jax.devices()[:1], verbose=False)
