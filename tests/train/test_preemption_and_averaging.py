"""SIGTERM saves and exits cleanly, and the run resumes; `python -m mgjax average` averages runs' weights."""

import dataclasses
import os
import signal

import jax
import numpy as np
import pytest

from conftest import micro_config
from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir
from mgjax.errors import UserError
from mgjax.models.t2v import build_model, split_model
from mgjax.pipelines.t2v import T2VSampler
from mgjax.tools.average import average_runs
from mgjax.train import loop


def test_sigterm_saves_after_the_step_in_flight_and_the_run_resumes(tmp_path, devices, monkeypatch):
    cfg = micro_config(steps=6, log_every=1, checkpoint_every=100)  # no scheduled checkpoint before the end
    calls = []
    real_put = loop.put_batch

    def put_and_preempt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the scheduler's notice arrives during step 3
            os.kill(os.getpid(), signal.SIGTERM)
        return real_put(*args, **kwargs)

    monkeypatch.setattr(loop, "put_batch", put_and_preempt)
    loop.train(cfg, tmp_path, devices=devices[:1], verbose=False)  # returns instead of dying
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is removed again
    ckpt = Checkpointer(checkpoint_dir(tmp_path), async_save=False)
    assert ckpt.latest_step() == 3
    ckpt.close()
    monkeypatch.setattr(loop, "put_batch", real_put)
    loop.train(cfg, tmp_path, devices=devices[:1], verbose=False)
    ckpt = Checkpointer(checkpoint_dir(tmp_path), async_save=False)
    assert ckpt.latest_step() == 6
    ckpt.close()


def _params(cfg, run, item):
    with jax.set_mesh(loop.make_mesh(cfg.mesh, jax.devices()[:1])):
        _, params, rest = split_model(cfg, build_model(cfg))
        ckpt = Checkpointer(checkpoint_dir(run), async_save=False)
        out = ckpt.restore({item: params}, items=(item,))[item]
        ckpt.close()
    return jax.tree.map(np.asarray, out)


def test_average_of_two_runs_is_their_mean_and_samples(tmp_path, devices):
    cfg = micro_config(steps=2, log_every=1, checkpoint_every=2)
    runs = []
    for seed in (0, 1):
        run_cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))
        loop.train(run_cfg, tmp_path / f"run{seed}", devices=devices[:1], verbose=False)
        runs.append(tmp_path / f"run{seed}")
    step = average_runs(cfg, [str(runs[0]), f"{runs[1]}:2"], tmp_path / "avg", weights=[0.25, 0.75],
                        devices=devices[:1])
    assert step == 2 and (tmp_path / "avg" / "tokenizer_ul2.model").is_file()
    for item in ("params", "ema"):
        a, b, avg = (_params(cfg, r, item) for r in (*runs, tmp_path / "avg"))
        diff = jax.tree.map(lambda x, y, m: float(np.abs(0.25 * x + 0.75 * y - m).max()), a, b, avg)
        assert max(jax.tree.leaves(diff)) < 1e-6
        spread = jax.tree.map(lambda x, y: float(np.abs(x - y).max()), a, b)
        assert max(jax.tree.leaves(spread)) > 1e-3  # the runs really differ
    videos = T2VSampler(cfg, tmp_path / "avg", devices=devices[:1]).sample(["a red circle"], num_steps=2,
                                                                             progress=False)
    assert videos.shape == (1, 8, 16, 16, 3)
    with pytest.raises(UserError, match="summing to 1"):
        average_runs(cfg, [str(runs[0]), str(runs[1])], tmp_path / "bad", weights=[0.5, 0.6], devices=devices[:1])
