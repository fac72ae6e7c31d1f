"""train() and sampling end to end on a micro config: checkpoints, exact resume, deterministic samples."""

import json

import numpy as np
import pytest

from conftest import micro_config
from mgjax.checkpoint.orbax import checkpoint_dir, open_existing
from mgjax.errors import UserError
from mgjax.pipelines.t2v import T2VSampler
from mgjax.tools.export import export_params
from mgjax.train.loop import train


def losses(workdir):
    rows = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["train/loss"] for r in rows}


@pytest.fixture
def trained(micro_run):
    return micro_run


def test_run_writes_config_tokenizer_metrics_and_checkpoints(trained):
    cfg, workdir = trained
    assert json.loads((workdir / "config.json").read_text())["name"] == "micro"
    assert (workdir / "tokenizer_ul2.model").is_file()
    assert sorted(losses(workdir)) == [1, 2, 3, 4]
    assert sorted(int(p.name) for p in checkpoint_dir(workdir).iterdir() if p.name.isdigit()) == [2, 4]
    assert list((workdir / "tensorboard").iterdir())


def test_resume_continues_exactly(trained, tmp_path, devices):
    cfg, workdir = trained
    train(cfg, tmp_path, devices=devices[:1], verbose=False, stop_after=2)  # "preempted" after 2 steps
    assert sorted(losses(tmp_path)) == [1, 2]
    train(cfg, tmp_path, devices=devices[:1], verbose=False)  # restarts in the same workdir, resumes at 2
    assert losses(tmp_path) == losses(workdir)  # bit-identical to the uninterrupted run


def test_same_seed_same_samples(trained, devices):
    cfg, workdir = trained
    sampler = T2VSampler(cfg, workdir, devices=devices[:1])
    prompts = ["a red circle moving left", "a blue square moves up"]
    a = sampler.sample(prompts, seed=3, progress=False)
    b = sampler.sample(prompts, seed=3, progress=False)
    c = sampler.sample(prompts, seed=4, progress=False)
    assert a.shape == (2, 8, 16, 16, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # a prompt's video does not depend on its batch: chunked sampling gives the same first video
    chunked = sampler.sample_batched(prompts, batch_size=1, seed=3, progress=False)
    assert np.array_equal(chunked, a)


def test_guidance_s_unconditional_input_is_training_s_empty_prompt(trained, devices):
    """Sampling's unconditional branch must be what text dropout trained: the bare empty prompt, even when prompts
    carry an FPS prefix."""
    import dataclasses

    from mgjax.train.tasks.t2v import null_prompt_tokens

    cfg, workdir = trained
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, fps_prefix=True))
    sampler = T2VSampler(cfg, workdir, devices=devices[:1])
    (ids, mask), = sampler.unconditional(1)
    (null_ids, null_mask), = null_prompt_tokens(cfg, sampler.tokenizers)
    np.testing.assert_array_equal(ids, null_ids)
    np.testing.assert_array_equal(mask, null_mask)
    assert not np.array_equal(sampler.tokens([""])[0][1], mask)  # the prefixed empty prompt is another input


def test_sampling_a_run_without_checkpoints_is_one_line(tmp_path, devices):
    with pytest.raises(UserError) as e:
        T2VSampler(micro_config(), tmp_path, devices=devices[:1])
    assert "no checkpoint found" in str(e.value) and "\n" not in str(e.value)


def test_export_keeps_the_inference_weights_and_samples_the_same(trained, tmp_path, devices):
    """`export` writes the task's inference items (params, ema, rest) and no optimizer state, with the tokenizer and
    config beside them: sampling the export gives the run's videos bit for bit."""
    cfg, workdir = trained
    assert export_params(cfg, workdir, tmp_path / "exported") == 4
    ckpt = open_existing(tmp_path / "exported")
    items = sorted(p.name for p in (ckpt.directory / "4").iterdir() if p.is_dir())
    ckpt.close()
    assert items == ["ema", "meta", "params"]  # the micro encoder trains, so `rest` is empty and not written
    assert (tmp_path / "exported" / "tokenizer_ul2.model").is_file() and (tmp_path / "exported" / "config.json").is_file()
    prompts = ["a red circle moving left"]
    run = T2VSampler(cfg, workdir, devices=devices[:1]).sample(prompts, seed=1, num_steps=2, progress=False)
    exported = T2VSampler(cfg, tmp_path / "exported", devices=devices[:1]).sample(prompts, seed=1, num_steps=2,
                                                                                  progress=False)
    assert np.array_equal(run, exported)
    with pytest.raises(UserError, match="is the run itself"):
        export_params(cfg, workdir, workdir)
