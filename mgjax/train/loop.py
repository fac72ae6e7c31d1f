"""The shared training loop: build the task on a mesh, resume from the workdir's latest checkpoint, train, log,
checkpoint. What is trained (text-to-video, TAE, ...) is the task's business (`mgjax/train/tasks/`)."""

from __future__ import annotations

import contextlib
import pathlib
import signal
import threading
import time

import jax
from jax.experimental import multihost_utils

from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir
from mgjax.config.load import format_config, save_config
from mgjax.config.schema import Config
from mgjax.config.validate import check_preset_mesh
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.sharding import put_batch
from mgjax.train.metrics import MetricsWriter
from mgjax.train.optim import learning_rate_schedule
from mgjax.train.tasks import task_for
from mgjax.train.tasks.base import state_shardings


@contextlib.contextmanager
def preemption_notice():
    """Yields `stop(step) -> bool`: True once a scheduler's preemption notice (SIGTERM) has arrived; the loop then
    saves a checkpoint after that step and returns.

    One process: a SIGTERM handler sets a flag (only the main thread can install one; elsewhere it never fires).
    Several processes: every host must stop after the same step, or the one that stops first leaves the others
    hanging in a collective, and SIGTERM may reach the hosts at different times. jax.distributed's preemption sync
    manager catches SIGTERM on any host and agrees on the step (`reached_preemption_sync_point`, to be called with
    every step on every host), so no Python handler is installed there (it would replace JAX's)."""
    if jax.process_count() > 1:
        yield multihost_utils.reached_preemption_sync_point
        return
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield lambda step: flag["stop"]
        return

    def on_sigterm(signum, frame):
        flag["stop"] = True

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield lambda step: flag["stop"]
    finally:
        signal.signal(signal.SIGTERM, previous)


def train(cfg: Config, workdir: str | pathlib.Path, devices=None, verbose: bool = True,
          stop_after: int | None = None) -> dict[str, float]:
    """Train `cfg` in `workdir` (resuming from its latest checkpoint) and return the last logged metrics.

    `stop_after` ends this invocation after that many steps (with a checkpoint), as a preemption would; running again
    in the same workdir continues exactly where it stopped. SIGTERM does the same after the step in flight.
    """
    if "://" in str(workdir):  # pathlib would quietly turn gs://bucket/run into a local directory gs:/bucket/run
        raise UserError(f"workdir {str(workdir)!r} is a URL; mgjax writes through the file system: mount the bucket "
                        f"(e.g. with gcsfuse) or use a shared file system path")
    workdir = pathlib.Path(workdir)
    primary = jax.process_index() == 0  # several processes share the workdir: one writes its files
    if primary:
        save_config(cfg, workdir)
    if verbose and primary:
        print(f"config {cfg.name}:\n{format_config(cfg)}", flush=True)
    mesh = make_mesh(cfg.mesh, devices)
    lr = learning_rate_schedule(cfg.optim, cfg.train.steps)
    writer = MetricsWriter(workdir, tensorboard=True, enabled=primary)
    ckpt = Checkpointer(checkpoint_dir(workdir), keep=cfg.train.keep_checkpoints)
    last: dict[str, float] = {}
    with jax.set_mesh(mesh):
        start = ckpt.latest_step() or 0
        check_preset_mesh(cfg.mesh.parallelism, dict(mesh.shape))
        task = task_for(cfg, workdir)
        task.check_mesh(dict(mesh.shape))
        state = task.init_state(fresh=not start)
        task.check_state(state, dict(mesh.shape), verbose)
        data_state = None
        if start:
            state = dict(state, **ckpt.restore(state))
            data_state = ckpt.restore_meta(start).get("data")
            print(f"resumed from step {start} in {ckpt.directory}", flush=True)
        shardings = state_shardings(state)
        compiled: dict = {}  # one jitted step per training phase
        batches = task.batches(start, data_state)
        stack = contextlib.ExitStack()
        try:  # on any error (e.g. the bad-data budget) pending async saves still complete
            preemption = stack.enter_context(preemption_notice())
            t0, sums, count, skipped = time.time(), {}, 0, 0
            end = cfg.train.steps if stop_after is None else min(cfg.train.steps, start + stop_after)
            for step in range(start, end):
                phase = task.phase(step)
                if phase not in compiled:
                    compiled[phase] = jax.jit(task.make_step(phase), donate_argnums=(0,),
                                              out_shardings=(shardings, None))
                batch = put_batch(next(batches), mesh, task.rules, getattr(batches, "process_local", False))
                state, metrics = compiled[phase](state, batch)
                for k, v in metrics.items():  # stays on device until logged
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                done = step + 1
                if done % cfg.train.log_every == 0 or done == cfg.train.steps:
                    elapsed = time.time() - t0
                    last = {k: float(v) / count for k, v in sums.items() if k != "skipped"}  # waits for the device
                    if "skipped" in sums:  # updates skipped for a non-finite loss or gradient, since this run started
                        skipped += int(round(float(sums["skipped"])))
                        last["skipped_updates"] = skipped
                    last.update(lr=float(lr(step)), steps_per_s=count / max(elapsed, 1e-9))
                    writer.write(done, last)
                    t0, sums, count = time.time(), {}, 0
                preempted = preemption(done)
                if done % cfg.train.checkpoint_every == 0 or done == end or preempted:
                    meta = {"config": cfg.name, "task": cfg.task, "step": done}
                    pipeline_state = task.data_state()
                    if pipeline_state is not None:
                        meta["data"] = pipeline_state
                    ckpt.save(done, state, meta=meta, force=preempted)
                if preempted:
                    print(f"SIGTERM: saved step {done} in {ckpt.directory}; exiting (run again to resume)", flush=True)
                    break
        finally:
            stack.close()
            ckpt.close()
            writer.close()
            close = getattr(batches, "close", None)
            if close:
                close()
    return last
