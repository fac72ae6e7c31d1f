"""The spatial upsampler end to end on a micro run: it trains on degraded pairs (with TAE round trips), upsamples
clips of any length through MultiDiffusion windows (one frame included), the same seed gives the same output, and
`sample.py` upsamples a file or a clip a text-to-video run generates; bad input is one line and writes nothing."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from conftest import CONFIGS, upsample_config
from mgjax.commands import dispatch
from mgjax.config.data import UpsampleDataConfig
from mgjax.errors import UserError
from mgjax.pipelines.video_io import read_mp4, write_mp4
from mgjax.train.tasks import load_config


@pytest.fixture(scope="module")
def upsample_run(tmp_path_factory, devices):
    """A micro upsampler trained 2 steps from scratch, its low-resolution inputs through the committed tiny TAE half
    of the time."""
    from mgjax.train.loop import train

    cfg = upsample_config(steps=2, log_every=1, checkpoint_every=2)
    tae = load_config(CONFIGS / "shapes_upsample_tiny.py").data.upsample.tae
    cfg = dataclasses.replace(cfg, name="micro_upsample",
                              data=dataclasses.replace(cfg.data, upsample=UpsampleDataConfig(tae_prob=0.5, tae=tae)))
    workdir = tmp_path_factory.mktemp("upsample_run")
    train(cfg, workdir, devices=devices[:1], verbose=False)
    return cfg, workdir


@pytest.fixture(scope="module")
def sampler(upsample_run):
    from mgjax.pipelines.upsample import UpsampleSampler

    cfg, workdir = upsample_run
    return UpsampleSampler(cfg, workdir)


def test_clips_of_any_length_upsample_and_the_seed_fixes_the_output(sampler):
    clips = np.random.default_rng(0).integers(0, 255, (2, 19, 8, 8, 3), dtype=np.uint8)
    out = sampler.upsample(clips, seed=4, progress=False)
    assert out.shape == (2, 19, 16, 16, 3) and out.dtype == np.uint8  # 3 windows of 8 sharing 2 frames
    np.testing.assert_array_equal(out, sampler.upsample(clips, seed=4, progress=False))
    second = sampler.upsample(clips[1:], seed=4, progress=False, first_index=1)
    np.testing.assert_array_equal(out[1:], second)  # a clip's output does not depend on its batch
    assert not np.array_equal(out, sampler.upsample(clips, seed=5, progress=False))
    assert sampler.upsample(clips[:1, :1], progress=False).shape == (1, 1, 16, 16, 3)  # one frame
    with pytest.raises(UserError, match="multiples of 8x8 up to 16x16"):
        sampler.upsample(np.zeros((1, 2, 12, 12, 3), np.uint8), progress=False)


def test_sample_upsamples_a_file_and_a_generated_clip(upsample_run, micro_run, tmp_path):
    _, workdir = upsample_run
    frames = np.random.default_rng(1).integers(0, 255, (10, 21, 37, 3), dtype=np.uint8)  # odd size and aspect
    clip = write_mp4(tmp_path / "in.mp4", frames, fps=8)
    image = tmp_path / "in.png"
    Image.fromarray(frames[0]).convert("RGBA").save(image)
    for name, source in (("a", clip), ("b", clip), ("img", image)):
        dispatch(["sample", "--workdir", str(workdir), "--upsample", "--input", str(source), "--seed", "3",
                  "--out", str(tmp_path / f"{name}.mp4")])
    a, b = read_mp4(tmp_path / "a.mp4"), read_mp4(tmp_path / "b.mp4")
    assert a.shape[0] == 10 and np.array_equal(a, b)  # every frame; same seed, same output
    assert read_mp4(tmp_path / "img.mp4").shape[0] == 1
    assert (tmp_path / "a_side_by_side.gif").is_file()
    _, t2v = micro_run
    dispatch(["sample", "--workdir", str(t2v), "--prompt", "a red circle moving left", "--upsample", str(workdir),
              "--out", str(tmp_path / "gen.mp4")])
    assert read_mp4(tmp_path / "gen_upsampled.mp4").shape[0] == 8


def test_bad_upsample_input_is_one_line_and_writes_nothing(upsample_run, micro_run, tmp_path):
    _, workdir = upsample_run
    _, t2v = micro_run
    small = write_mp4(tmp_path / "small.mp4", np.zeros((3, 6, 6, 3), np.uint8), fps=8)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    cases = [(["--input", str(small)], "at least 8x8"), (["--input", str(broken)], "cannot read --input"),
             ([], "give --input"), (["--input", str(tmp_path / "missing.mp4")], "cannot read --input")]
    for extra, words in cases:
        with pytest.raises(UserError, match=words):
            dispatch(["sample", "--workdir", str(workdir), "--out", str(tmp_path / "x.mp4")] + extra)
    with pytest.raises(UserError, match="is a t2v run, not an upsampler"):
        dispatch(["sample", "--workdir", str(t2v), "--prompt", "a red circle", "--upsample", str(t2v),
                  "--out", str(tmp_path / "x.mp4")])
    with pytest.raises(UserError, match="name the upsampler run"):
        dispatch(["sample", "--workdir", str(t2v), "--prompt", "a red circle", "--upsample"])
    assert not list(tmp_path.glob("x*"))
