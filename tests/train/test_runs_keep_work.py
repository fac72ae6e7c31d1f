"""Runs never lose or corrupt work: a config that does not fit the checkpoint is one line and writes nothing, a
damaged latest checkpoint falls back to the one before (named), Ctrl-C saves like SIGTERM, a run that fails its checks
leaves no workdir, and a run's config.json reproduces its config."""

import dataclasses
import os
import pathlib
import shutil
import signal

import pytest

from conftest import micro_config
from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir
from mgjax.errors import UserError
from mgjax.pipelines.t2v import T2VSampler
from mgjax.train import loop
from mgjax.train.tasks import load_config


def copy_run(run: pathlib.Path, to: pathlib.Path) -> pathlib.Path:
    shutil.copytree(run, to)
    return to


def latest(workdir) -> int:
    ckpt = Checkpointer(checkpoint_dir(workdir), async_save=False)
    step = ckpt.latest_step()
    ckpt.close()
    return step


def truncate_largest_file(step_dir: pathlib.Path) -> pathlib.Path:
    """Cut the largest array file of a saved step in half, as a partial copy or a full disk leaves it."""
    path = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_run_s_config_json_is_its_config(micro_run):
    cfg, run = micro_run
    assert load_config(run / "config.json") == cfg
    assert load_config(run / "config.json", ["train.steps=9"]).train.steps == 9


def test_resuming_with_a_config_that_does_not_fit_is_one_line_and_changes_nothing(micro_run, tmp_path, devices):
    cfg, run = micro_run
    run = copy_run(run, tmp_path / "run")
    saved = (run / "config.json").read_bytes()
    wider = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, width=64))
    with pytest.raises(UserError) as e:
        loop.train(wider, run, devices=devices[:1], verbose=False)
    message = str(e.value)
    assert "\n" not in message and "does not fit this model" in message
    assert "model.width (run: 32, now: 64)" in message
    assert (run / "config.json").read_bytes() == saved and latest(run) == 4
    with pytest.raises(UserError, match="does not fit this model"):  # sampling says the same
        T2VSampler(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_layers=1)), run,
                   devices=devices[:1])


def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(micro_run, tmp_path, devices, capsys):
    cfg, run = micro_run
    run = copy_run(run, tmp_path / "run")
    truncate_largest_file(run / "checkpoints" / "4" / "ema")  # what sampling reads
    sampler = T2VSampler(cfg, run, devices=devices[:1])
    assert sampler.step == 2
    out = capsys.readouterr().out
    assert "checkpoint step 4 in" in out and "cannot be restored" in out and "using step 2" in out
    # Training resumes from step 2, keeps the damaged step aside (never deleted) and trains steps 3-4 again.
    loop.train(cfg, run, devices=devices[:1], verbose=True)
    out = capsys.readouterr().out
    assert "resumed from step 2" in out and (run / "damaged_checkpoints" / "4").is_dir() and latest(run) == 4
    assert "compiled the training step" in out and "traceback" not in out.lower()
    # Both steps damaged: one line, nothing skipped silently.
    for step in ("2", "4"):
        truncate_largest_file(run / "checkpoints" / step / "ema")
    with pytest.raises(UserError, match="both cannot be restored"):
        T2VSampler(cfg, run, devices=devices[:1])


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_saves_like_sigterm_and_a_second_one_stops_at_once(tmp_path, devices, monkeypatch, presses, request):
    # Ctrl-C as in a terminal, even where the suite itself runs with SIGINT ignored (started with nohup or &)
    outside = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, outside))
    cfg = micro_config(steps=6, log_every=1, checkpoint_every=100)  # no scheduled checkpoint before the end
    calls = []
    real_put = loop.put_batch

    def put_and_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # Ctrl-C during step 3 (twice: the user insists)
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)
        return real_put(*args, **kwargs)

    monkeypatch.setattr(loop, "put_batch", put_and_interrupt)
    if presses == 1:
        loop.train(cfg, tmp_path, devices=devices[:1], verbose=False)  # saves after step 3 and returns
        assert latest(tmp_path) == 3
    else:
        with pytest.raises(KeyboardInterrupt):
            loop.train(cfg, tmp_path, devices=devices[:1], verbose=False)
        assert not list(checkpoint_dir(tmp_path).glob("[0-9]*"))  # nothing saved, nothing half-written
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is removed again


def test_a_run_that_fails_its_checks_leaves_no_workdir(tmp_path, devices):
    """A batch the data axes do not divide (it would be copied whole to every device) is one line, before the
    workdir is written."""
    cfg = micro_config()
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, batch_size=12))
    with pytest.raises(UserError, match=r"data.batch_size \(12\) does not split over the batch axes data x fsdp = 8 "
                                        r"devices; set data.batch_size to a multiple of 8 \(e.g. 16\)"):
        loop.train(cfg, tmp_path / "run", devices=devices, verbose=False)
    assert not (tmp_path / "run").exists()


def test_progress_leaves_compilation_out_of_the_step_rate_and_gives_an_eta(monkeypatch):
    clock = iter([100.0, 110.0, 110.0])  # compiling ended at 100 s; then 20 steps in 10 s
    monkeypatch.setattr(loop.time, "time", lambda: next(clock))
    progress = loop.Progress(start=0, total=1000, enabled=False)
    progress.compiled(None, (8, 4, 32, 32, 3), 100.0)
    for _ in range(20):
        progress.timed_step()
    assert progress.rates() == {"steps_per_s": 2.0}
    assert progress.eta(21) == "21/1000, eta 8m10s"
