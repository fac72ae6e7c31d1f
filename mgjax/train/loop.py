"""The shared training loop: build the task on a mesh, resume from the workdir's latest checkpoint, train, log,
checkpoint. What is trained (text-to-video, TAE, ...) is the task's business (`mgjax/train/tasks/`)."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import shutil
import signal
import sys
import threading
import time

import jax
import tqdm
from jax.experimental import multihost_utils

from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir, run_config_diff
from mgjax.config.load import format_config, save_config
from mgjax.config.schema import Config
from mgjax.config.validate import check_batch_divides, check_preset_mesh
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.sharding import put_batch
from mgjax.train.metrics import MetricsWriter
from mgjax.train.optim import learning_rate_schedule
from mgjax.train.tasks import get_task, task_for
from mgjax.train.tasks.base import Task, state_shardings


@contextlib.contextmanager
def preemption_notice():
    """Yields `stop(step) -> str | None`: the signal's name once a scheduler's preemption notice (SIGTERM) or a Ctrl-C
    (SIGINT) has arrived; the loop then saves a checkpoint after that step and returns. A second Ctrl-C aborts at
    once (KeyboardInterrupt; the previous checkpoint stays the latest).

    One process: handlers set a flag (only the main thread can install them; elsewhere they never fire).
    Several processes: every host must stop after the same step, or the one that stops first leaves the others
    hanging in a collective, and SIGTERM may reach the hosts at different times. jax.distributed's preemption sync
    manager catches SIGTERM on any host and agrees on the step (`reached_preemption_sync_point`, to be called with
    every step on every host), so no Python handler is installed there (it would replace JAX's), and Ctrl-C keeps its
    default (stop now) there."""
    if jax.process_count() > 1:
        yield lambda step: "SIGTERM" if multihost_utils.reached_preemption_sync_point(step) else None
        return
    flag: dict[str, str | None] = {"stop": None}
    if threading.current_thread() is not threading.main_thread():
        yield lambda step: flag["stop"]
        return

    def on_sigterm(signum, frame):
        flag["stop"] = flag["stop"] or "SIGTERM"

    def on_sigint(signum, frame):
        if flag["stop"] == "Ctrl-C":
            raise KeyboardInterrupt
        flag["stop"] = "Ctrl-C"
        print("\nCtrl-C: saving a checkpoint after this step (Ctrl-C again stops without saving)", file=sys.stderr,
              flush=True)

    previous = signal.signal(signal.SIGTERM, on_sigterm), signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda step: flag["stop"]
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def train(cfg: Config, workdir: str | pathlib.Path, devices=None, verbose: bool = True,
          stop_after: int | None = None) -> dict[str, float]:
    """Train `cfg` in `workdir` (resuming from its latest checkpoint) and return the last logged metrics.

    `stop_after` ends this invocation after that many steps (with a checkpoint), as a preemption would; running again
    in the same workdir continues exactly where it stopped. SIGTERM and Ctrl-C do the same after the step in flight.

    Nothing is written before the run is known good: the mesh and batch checks, the model's build and the restore of
    the latest checkpoint (whose shapes must fit this config) come first; `config.json` is written after them, and a
    new workdir that fails them is removed again.
    """
    workdir = local_workdir(workdir)
    created = not workdir.exists()
    primary = jax.process_index() == 0  # several processes share the workdir: one writes its files
    try:
        run = _prepare(cfg, workdir, devices, verbose, primary)
    except BaseException:
        if created and primary:  # a run that failed its checks leaves nothing behind
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    try:
        return _train_steps(cfg, workdir, run, primary, verbose, stop_after)
    finally:
        run.ckpt.close()
        close = getattr(run.batches, "close", None)
        if close:
            close()


@dataclasses.dataclass
class _Run:
    mesh: jax.sharding.Mesh
    task: Task
    state: dict
    start: int
    ckpt: Checkpointer
    batches: object


def _prepare(cfg: Config, workdir: pathlib.Path, devices, verbose: bool, primary: bool) -> _Run:
    mesh = make_mesh(cfg.mesh, devices)
    check_preset_mesh(cfg.mesh.parallelism, dict(mesh.shape))
    task_class = get_task(cfg.task)
    check_batch_divides(cfg.data.batch_size, cfg.train.grad_accum_steps, dict(mesh.shape), task_class.rules)
    with jax.set_mesh(mesh):
        task = task_for(cfg, workdir)
        task.check_mesh(dict(mesh.shape))
        ckpt = Checkpointer(checkpoint_dir(workdir), keep=cfg.train.keep_checkpoints)
        try:
            has_checkpoint = ckpt.latest_step() is not None
            state = task.init_state(fresh=not has_checkpoint)
            task.check_state(state, dict(mesh.shape), verbose)
            start, data_state = 0, None
            if has_checkpoint:
                state = dict(state, **ckpt.restore(state, config=cfg))
                start = ckpt.restored_step
                if ckpt.damaged_step is not None:  # kept for the user, out of Orbax's way (every host saw it)
                    moved = ckpt.set_aside(ckpt.damaged_step) if primary else None
                    if jax.process_count() > 1:
                        multihost_utils.sync_global_devices("mgjax: damaged checkpoint set aside")
                        ckpt.manager.reload()
                    if moved:
                        print(f"moved the damaged step {ckpt.damaged_step} to {moved}", flush=True)
                data_state = ckpt.restore_meta(start).get("data")
                changed = run_config_diff(workdir, cfg)
                print(f"resumed from step {start} in {ckpt.directory}" +
                      (f"; settings changed since: {changed}" if changed else ""), flush=True)
            batches = task.batches(start, data_state)
        except BaseException:
            ckpt.close()
            raise
    if primary:
        save_config(cfg, workdir)  # the run is known good: its config is what it trains with
        if verbose:
            print(f"config {cfg.name} (task {cfg.task}; all of it in {workdir / 'config.json'}):\n"
                  f"{format_config(cfg, task_class.config_sections)}", flush=True)
    return _Run(mesh, task, state, start, ckpt, batches)


def _train_steps(cfg: Config, workdir: pathlib.Path, run: _Run, primary: bool, verbose: bool,
                 stop_after: int | None) -> dict[str, float]:
    mesh, task, state, start, ckpt, batches = run.mesh, run.task, run.state, run.start, run.ckpt, run.batches
    lr = learning_rate_schedule(cfg.optim, cfg.train.steps)
    end = cfg.train.steps if stop_after is None else min(cfg.train.steps, start + stop_after)
    progress = Progress(start, cfg.train.steps, enabled=primary and verbose)
    writer = MetricsWriter(workdir, tensorboard=True, enabled=primary, echo=progress.write)
    shardings = state_shardings(state)
    compiled: dict = {}  # one jitted step per training phase
    seen: set = set()  # (phase, batch shapes) compiled so far
    last: dict[str, float] = {}
    with jax.set_mesh(mesh), contextlib.ExitStack() as stack:
        try:  # on any error (e.g. the bad-data budget) pending async saves still complete
            stop = stack.enter_context(preemption_notice())
            sums, count, skipped = {}, 0, 0
            for step in range(start, end):
                phase = task.phase(step)
                batch = put_batch(next(batches), mesh, task.rules, getattr(batches, "process_local", False))
                if phase not in compiled:
                    compiled[phase] = jax.jit(task.make_step(phase), donate_argnums=(0,),
                                              out_shardings=(shardings, None))
                shapes = (phase, tuple(x.shape for x in jax.tree.leaves(batch)))
                if shapes not in seen:  # compiles (a new phase or bucket shape): the step rate leaves it out
                    seen.add(shapes)
                    t = time.time()
                    state, metrics = jax.block_until_ready(compiled[phase](state, batch))
                    largest = max((x.shape for x in jax.tree.leaves(batch)), key=len)
                    progress.compiled(phase, largest, time.time() - t)
                else:
                    state, metrics = compiled[phase](state, batch)
                    progress.timed_step()
                for k, v in metrics.items():  # stays on device until logged
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                done = step + 1
                if done % cfg.train.log_every == 0 or done == cfg.train.steps:
                    last = {k: float(v) / count for k, v in sums.items() if k != "skipped"}  # waits for the device
                    if "skipped" in sums:  # updates skipped for a non-finite loss or gradient, since this run started
                        skipped += int(round(float(sums["skipped"])))
                        last["skipped_updates"] = skipped
                    last.update(lr=float(lr(step)), **progress.rates())
                    writer.write(done, last, suffix=progress.eta(done))
                    sums, count = {}, 0
                progress.update(done, last)
                stopped = stop(done)
                if done % cfg.train.checkpoint_every == 0 or done == end or stopped:
                    meta = {"config": cfg.name, "task": cfg.task, "step": done}
                    pipeline_state = task.data_state()
                    if pipeline_state is not None:
                        meta["data"] = pipeline_state
                    ckpt.save(done, state, meta=meta, force=bool(stopped))
                if stopped:
                    ckpt.wait()
                    progress.close()
                    print(f"{stopped}: saved step {done} in {ckpt.directory}; exiting (run again to resume)",
                          flush=True)
                    break
        finally:
            progress.close()
            writer.close()
    return last


class Progress:
    """Where a run is: a tqdm bar with ETA on an interactive terminal, and the ETA on the logged lines either way.
    Step rates count only steps that did not compile (a phase's first step compiles; its time is reported once)."""

    def __init__(self, start: int, total: int, enabled: bool):
        self.total, self.t0, self.steps, self.rate = total, None, 0, None
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = tqdm.tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr)

    def write(self, line: str) -> None:
        (self.bar.write if self.bar is not None else print)(line)
        sys.stdout.flush()

    def compiled(self, phase, shape, seconds: float) -> None:
        what = "" if phase is None else f" {phase}"
        self.write(f"compiled the training step{what} for batches of {tuple(shape)} in {seconds:.1f}s")
        self.t0, self.steps = time.time(), 0

    def timed_step(self) -> None:
        self.steps += 1

    def rates(self) -> dict[str, float]:
        if self.t0 is None or not self.steps:
            return {}
        rate = self.steps / max(time.time() - self.t0, 1e-9)
        self.t0, self.steps, self.rate = time.time(), 0, rate
        return {"steps_per_s": rate}

    def eta(self, done: int) -> str:
        left = self.total - done
        eta = f", eta {format_duration(left / self.rate)}" if left and self.rate else ""
        return f"{done}/{self.total}{eta}"

    def update(self, done: int, metrics: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.n = done
            if "loss" in metrics:
                self.bar.set_postfix(loss=f"{metrics['loss']:.4g}", refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def local_workdir(workdir: str | pathlib.Path) -> pathlib.Path:
    if "://" in str(workdir):  # pathlib would quietly turn gs://bucket/run into a local directory gs:/bucket/run
        raise UserError(f"workdir {str(workdir)!r} is a URL; mgjax writes through the file system: mount the bucket "
                        f"with gcsfuse (docs/install.md) or use a shared file system path")
    return pathlib.Path(workdir)
