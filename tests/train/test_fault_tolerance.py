"""Fault tolerance and multi-host training: SIGKILL in the middle of an async checkpoint save, restoring a checkpoint
onto other meshes and device counts, and two JAX processes training one model (SIGTERM to one of them stops both
after the same step), each resumed and checked against a single-process run of the same steps."""

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import warnings

import jax
import numpy as np
import pytest

from conftest import micro_config
from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir
from mgjax.config import Config, MeshConfig
from mgjax.errors import UserError
from mgjax.parallel.distributed import detected_cluster, explicit_args, initialize_from_env
from mgjax.parallel.mesh import make_mesh
from mgjax.train.loop import train
from mgjax.train.tasks import task_for

HERE = pathlib.Path(__file__).resolve().parent
EIGHT_DEVICES = MeshConfig(data=2, fsdp=4)  # parameters sharded 4 ways, the batch 8 ways
ONE_DEVICE = MeshConfig()


def ft_config(mesh: MeshConfig = EIGHT_DEVICES, **train_overrides) -> Config:
    """micro_config over 6 steps. Every run here (and in the child scripts) uses it, so runs on the same mesh compile
    the same step and share it through the test session's compilation cache (tests/conftest.py)."""
    cfg = micro_config(**{"steps": 6, "log_every": 1, "checkpoint_every": 2, **train_overrides})
    return dataclasses.replace(cfg, mesh=mesh)


def losses(workdir: pathlib.Path) -> list[tuple[int, float]]:
    """(step, loss) per logged row, in the order written (a resumed run appends)."""
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train/loss"]) for r in rows]


def restore(cfg: Config, workdir: pathlib.Path, devices, step: int | None = None) -> dict:
    """A checkpoint's whole train state, restored onto the shapes and shardings of the task's state on `cfg.mesh`
    over `devices` (what train() restores onto)."""
    mesh = make_mesh(cfg.mesh, devices)
    target = task_for(cfg, abstract=True).abstract_state(mesh)
    with jax.set_mesh(mesh):
        ckpt = Checkpointer(checkpoint_dir(workdir), async_save=False)
        state = ckpt.restore(target, step=step)
        ckpt.close()
    return state


def assert_trees_equal(a, b) -> None:
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def latest_step(workdir: pathlib.Path) -> int | None:
    ckpt = Checkpointer(checkpoint_dir(workdir), async_save=False)
    try:
        return ckpt.latest_step()
    finally:
        ckpt.close()


def wait_for(condition, procs, timeout: float, what: str):
    """Poll `condition()` until it is truthy; fail with the children's output if they exit or time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if found := condition():
            return found
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    for p in procs:
        p.kill()
    logs = "".join(p.communicate()[0][-3000:] for p in procs)
    pytest.fail(f"never saw {what}:\n{logs}")


@pytest.fixture(scope="module")
def run8(tmp_path_factory, devices):
    """The reference: 6 steps on one process's 8 devices (data=2 x fsdp=4), checkpoints at 2, 4 and 6."""
    workdir = tmp_path_factory.mktemp("run8")
    train(ft_config(), workdir, devices=devices, verbose=False)
    return workdir


def test_initialize_from_env_reads_mgjax_variables_and_detects_clusters():
    assert not initialize_from_env({})  # nothing set: one process, nothing happens
    env = {"MGJAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "MGJAX_NUM_PROCESSES": "4", "MGJAX_PROCESS_ID": "2"}
    assert explicit_args(env) == {"coordinator_address": "10.0.0.1:1234", "num_processes": 4, "process_id": 2,
                                  "cluster_detection_method": "deactivate"}
    with pytest.raises(UserError, match="MGJAX_NUM_PROCESSES"):
        explicit_args({"MGJAX_COORDINATOR_ADDRESS": "h:1", "MGJAX_PROCESS_ID": "0"})
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "n[1-2]", "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}
    assert detected_cluster(dict(slurm, SLURM_NTASKS="2")) == "slurm"
    assert detected_cluster(dict(slurm, SLURM_NTASKS="1")) is None  # a single task needs no coordinator
    assert detected_cluster({"TPU_WORKER_HOSTNAMES": "t0,t1,t2,t3"}) == "tpu"
    assert detected_cluster({"TPU_WORKER_HOSTNAMES": "localhost"}) is None
    assert detected_cluster({"MEGASCALE_COORDINATOR_ADDRESS": "t0:8080"}) == "tpu"
    assert detected_cluster({"OMPI_MCA_orte_hnp_uri": "1.0;tcp://10.0.0.1:1"}) == "openmpi"
    assert not initialize_from_env(dict(env, MGJAX_DISTRIBUTED="0"))  # forced off


def test_a_url_workdir_is_refused_in_one_line():
    with pytest.raises(UserError, match="mount the bucket"):  # not a local directory named gs:
        train(ft_config(), "gs://bucket/run", verbose=False)


def test_sigkill_during_an_async_save_resumes_from_the_last_complete_checkpoint(tmp_path, devices,
                                                                                capsys):
    """kill -9 while Orbax writes step 4 (kill_during_save.py holds that save before its commit): the partial
    directory is not a checkpoint, and training in the same workdir restarts at step 3 and continues exactly."""
    env = dict(os.environ, XLA_FLAGS="")  # the child's conftest import sets the same XLA_FLAGS as ours
    child = subprocess.Popen([sys.executable, str(HERE / "kill_during_save.py"), str(tmp_path), "4"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    directory = checkpoint_dir(tmp_path)
    hooked = wait_for(lambda: (tmp_path / "hook.txt").is_file() and (tmp_path / "hook.txt").read_text(), [child],
                      120, "the child start") == "installed"

    def in_flight():
        tmp = sorted(directory.glob("4.orbax-checkpoint-tmp*" if hooked else "*.orbax-checkpoint-tmp*"))
        if tmp or hooked:
            return tmp
        # Fallback (Orbax moved the hooked method): kill right after a later step instead.
        logged = (tmp_path / "metrics.jsonl").is_file() and losses(tmp_path)
        return bool(logged) and logged[-1][0] >= 5 and ["after step 5"]

    seen = wait_for(in_flight, [child], 240, "a save in flight")
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    ckpt = Checkpointer(directory, async_save=False)
    last, committed = ckpt.latest_step(), ckpt.manager.all_steps()
    ckpt.close()
    partial = sorted(directory.glob("*.orbax-checkpoint-tmp*"))
    if hooked:  # killed mid-save: step 4 exists only as Orbax's temporary directory
        assert seen and [p.name.split(".")[0] for p in partial] == ["4"]
        assert last == 3 and 4 not in committed and not (directory / "4").exists()
    else:  # the fallback promises no partial directory, only a last checkpoint that restores
        warnings.warn("Orbax's AtomicRenameTemporaryPath.finalize is gone: killed after step 5, maybe not mid-save")
        assert last is not None and all(int(p.name.split(".")[0]) > last for p in partial)
    before = losses(tmp_path)

    train(ft_config(ONE_DEVICE, checkpoint_every=1), tmp_path, devices=devices[:1], verbose=False)
    assert f"resumed from step {last} " in capsys.readouterr().out
    assert latest_step(tmp_path) == 6
    after = losses(tmp_path)[len(before):]
    assert [s for s, _ in after] == list(range(last + 1, 7))
    killed_run = dict(before)
    for step, loss in after:  # the steps the killed run had already logged come out the same again
        if step in killed_run:
            np.testing.assert_allclose(loss, killed_run[step], rtol=1e-6)


def test_a_checkpoint_restores_onto_other_meshes_and_device_counts(run8, tmp_path, devices):
    """Saved from 8 devices (data=2 x fsdp=4), restored onto 1 device, onto 2 (fsdp=2) and onto 4 other devices
    (fsdp=2 x tensor=2): every array equal; training then continues on one device as it did on eight."""
    cfg = ft_config()
    original = restore(cfg, run8, devices, step=4)
    kernel = original["params"]["backbone"]["blocks"]["mlp"]["w1"]["kernel"]
    assert "fsdp" in jax.tree.leaves(tuple(kernel.sharding.spec))  # really sharded when saved and restored
    for mesh, subset in ((ONE_DEVICE, devices[:1]), (MeshConfig(data=1, fsdp=2), devices[6:]),
                         (MeshConfig(data=1, fsdp=2, tensor=2), devices[4:])):
        state = restore(dataclasses.replace(cfg, mesh=mesh), run8, subset, step=4)
        assert {d for leaf in jax.tree.leaves(state) for d in leaf.sharding.device_set} == set(subset)
        assert_trees_equal(state, original)

    workdir = tmp_path / "continued"
    shutil.copytree(run8, workdir)
    shutil.rmtree(checkpoint_dir(workdir) / "6")  # resume from step 4, now on one device
    (workdir / "metrics.jsonl").write_text("")
    train(ft_config(ONE_DEVICE), workdir, devices=devices[:1], verbose=False)
    reference = dict(losses(run8))
    assert [s for s, _ in losses(workdir)] == [5, 6]
    for step, loss in losses(workdir):
        np.testing.assert_allclose(loss, reference[step], rtol=1e-5)


@pytest.mark.multiprocess
def test_two_processes_train_one_model_and_sigterm_stops_both_at_one_step(run8, tmp_path, devices):
    """Two JAX processes (4 CPU devices each, joined through the MGJAX_* variables) train on one data=2 x fsdp=4 mesh
    in one workdir. SIGTERM to process 1 alone stops both after the same step with one checkpoint; the losses equal
    the single-process run's; the checkpoint restores identically onto 8 devices and onto 1, and one process
    finishes the run."""
    import portpicker

    port = portpicker.pick_unused_port()
    procs = []
    for i in range(2):
        env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu", MGJAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                   MGJAX_NUM_PROCESSES="2", MGJAX_PROCESS_ID=str(i))
        procs.append(subprocess.Popen([sys.executable, str(HERE / "two_process_train.py"), str(tmp_path), "0.5"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    metrics = tmp_path / "metrics.jsonl"
    wait_for(lambda: metrics.is_file() and metrics.read_text().strip(), procs, 240, "the first step")
    procs[1].send_signal(signal.SIGTERM)  # the preemption notice reaches one host only
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs[0][-3000:] + logs[1][-3000:]
    stopped = latest_step(tmp_path)
    assert stopped is not None and 1 <= stopped < 6
    for log in logs:  # both processes took the same step as their last
        assert f"SIGTERM: saved step {stopped} " in log
    assert not list(tmp_path.glob("*.tmp")) and (tmp_path / "config.json").is_file()

    reference = dict(losses(run8))
    logged = losses(tmp_path)
    assert [s for s, _ in logged] == list(range(1, stopped + 1))  # process 0 alone wrote the metrics
    for step, loss in logged:
        np.testing.assert_allclose(loss, reference[step], rtol=1e-5)

    eight = restore(ft_config(), tmp_path, devices)
    one = restore(ft_config(ONE_DEVICE), tmp_path, devices[:1])
    assert_trees_equal(eight, one)
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(eight["params"]))

    train(ft_config(), tmp_path, devices=devices, verbose=False)  # one process, the same 8-device mesh
    assert latest_step(tmp_path) == 6
    for step, loss in losses(tmp_path)[stopped:]:
        np.testing.assert_allclose(loss, reference[step], rtol=1e-5)
