"""Movie Gen Edit end to end on a micro run: stage I from a text-to-video parent (its tokenizer carried over), stage
III's backtranslated records from that run's edits, a stage III run on them, and `sample.py` editing a file or a clip
it generates; same seed, same output; bad input is one line and writes nothing."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from conftest import micro_config
from mgjax.commands import dispatch
from mgjax.config.data import EditDataConfig
from mgjax.config.edit import edit_model
from mgjax.data.edit_loader import BacktranslatedEdits
from mgjax.data.shape_edits import TASKS, task_of
from mgjax.errors import UserError
from mgjax.pipelines.video_io import read_mp4, write_gif, write_mp4


def edit_run_config(parent, **edit):
    cfg = micro_config(steps=2, log_every=1, checkpoint_every=2, init_from=str(parent))
    return dataclasses.replace(cfg, name="micro_edit", task="edit", model=edit_model(cfg.model, task_width=8),
                               data=dataclasses.replace(cfg.data, edit=EditDataConfig(edit_every=1, **edit)))


@pytest.fixture(scope="module")
def stage1(micro_run, tmp_path_factory, devices):
    from mgjax.train.loop import train

    _, parent = micro_run
    workdir = tmp_path_factory.mktemp("edit_stage1")
    train(edit_run_config(parent, stage=1), workdir, devices=devices[:1], verbose=False)
    return workdir, parent


def test_stages_train_from_their_parent_and_backtranslation_feeds_stage3(stage1, tmp_path, devices):
    from mgjax.train.loop import train

    workdir, parent = stage1
    assert (workdir / "tokenizer_ul2.model").read_bytes() == (parent / "tokenizer_ul2.model").read_bytes()
    records = tmp_path / "bt.npz"
    assert dispatch(["edit-backtranslate", "--workdir", str(workdir), "--out", str(records), "--num", "3"]) in (0, None)
    bt = BacktranslatedEdits(records)
    assert len(bt) == 3 and bt.records["source"].shape == bt.records["video"].shape == (3, 8, 16, 16, 3)
    for i in range(3):  # the backward instruction names its own task; the target is a clean rendered clip
        assert task_of(str(bt[i]["caption"])) == TASKS[int(bt[i]["task"])]
    with pytest.raises(UserError, match="exists; pass --overwrite"):
        dispatch(["edit-backtranslate", "--workdir", str(workdir), "--out", str(records), "--num", "3"])
    stage3 = tmp_path / "stage3"
    cfg = edit_run_config(workdir, stage=3, backtranslated=str(records))
    train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=1)), stage3, devices=devices[:1],
          verbose=False)
    assert (stage3 / "checkpoints").is_dir()


def test_sample_edits_a_file_and_a_generated_clip(stage1, tmp_path):
    workdir, _ = stage1
    frames = np.random.default_rng(0).integers(0, 255, (10, 24, 40, 3), dtype=np.uint8)
    clip = write_mp4(tmp_path / "in.mp4", frames, fps=8)
    image = tmp_path / "in.png"
    Image.fromarray(frames[0]).convert("RGBA").save(image)
    base = ["sample", "--workdir", str(workdir), "--instruction", "make the red circle blue", "--seed", "3"]
    for name, source in (("a", clip), ("b", clip), ("img", image)):
        dispatch(base + ["--input", str(source), "--out", str(tmp_path / f"{name}.mp4")])
    a, b = read_mp4(tmp_path / "a.mp4"), read_mp4(tmp_path / "b.mp4")
    assert a.shape[0] == 8 and np.array_equal(a, b)  # 8 frames spread over the 10; same seed, same edit
    assert read_mp4(tmp_path / "img.mp4").shape[0] == 1  # an image is edited as a one-frame video
    assert (tmp_path / "a_side_by_side.gif").is_file()
    dispatch(["sample", "--workdir", str(workdir), "--prompt", "a red circle moving left", "--instruction",
              "remove the red circle", "--out", str(tmp_path / "gen.mp4")])
    assert read_mp4(tmp_path / "gen_side_by_side.mp4").shape[0] == 8


def test_bad_edit_input_is_one_line_and_writes_nothing(stage1, tmp_path):
    workdir, _ = stage1
    short = write_gif(tmp_path / "short.gif", np.arange(2)[:, None, None, None].repeat(16, 1).repeat(16, 2).repeat(
        3, 3).astype(np.uint8) * 200, fps=8)  # two different frames (a GIF merges equal ones)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    out = tmp_path / "out.mp4"
    base = ["sample", "--workdir", str(workdir), "--out", str(out)]
    cases = [(["--input", str(short), "--instruction", "  "], "needs a non-empty --instruction"),
             (["--input", str(short), "--instruction", "make the red circle blue", "--task", "paint"],
              "unknown edit task 'paint'"),
             (["--input", str(short), "--instruction", "do something nice"], "cannot tell the edit task"),
             (["--input", str(short), "--instruction", "make the red circle blue"], "has 2 frames; this model edits "
                                                                                     "8-frame videos"),
             (["--input", str(broken), "--instruction", "make the red circle blue"], "cannot read --input"),
             (["--input", str(short), "--prompt", "x", "--instruction", "make the red circle blue"], "either --input")]
    for args, message in cases:
        with pytest.raises(UserError, match=message):
            dispatch(base + args)
        assert not out.exists()
