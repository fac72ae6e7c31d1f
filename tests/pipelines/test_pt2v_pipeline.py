"""Personalized video end to end on a micro run: stage I from a text-to-video parent (its tokenizer carried over) and
the micro CLIP's vision tower, a stage III step that trains the tower, `sample.py --reference` on images of any size
and mode, and the held-out evaluator; bad input is one line and writes nothing."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from conftest import clip_config, micro_config
from mgjax.commands import dispatch
from mgjax.config.data import PT2VDataConfig
from mgjax.config.pt2v import pt2v_model
from mgjax.data.characters import REFERENCE_FILL
from mgjax.errors import UserError
from mgjax.eval.pt2v import evaluate, summary
from mgjax.pipelines.pt2v import read_reference


def pt2v_run_config(parent, clip_dir, **model):
    cfg = micro_config(steps=2, log_every=1, checkpoint_every=2, init_from=str(parent))
    return dataclasses.replace(
        cfg, name="micro_pt2v", task="pt2v",
        model=pt2v_model(cfg.model, clip_config().model.vision, vision_from=str(clip_dir), **model),
        data=dataclasses.replace(cfg.data, num_frames=4, pt2v=PT2VDataConfig(cross_pair_prob=0.5)))


@pytest.fixture(scope="module")
def stage1(micro_run, clip_run, tmp_path_factory, devices):
    from mgjax.train.loop import train

    workdir = tmp_path_factory.mktemp("pt2v_stage1")
    cfg = pt2v_run_config(micro_run[1], clip_run[1])
    train(cfg, workdir, devices=devices[:1], verbose=False)
    return cfg, workdir, micro_run[1]


def test_stage3_trains_the_vision_tower_its_parent_froze(stage1, clip_run, tmp_path, devices):
    from mgjax.checkpoint.restore import load_clip, load_weights
    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.loop import train
    from mgjax.train.tasks import task_for

    cfg, workdir, parent = stage1
    assert (workdir / "tokenizer_ul2.model").read_bytes() == (parent / "tokenizer_ul2.model").read_bytes()
    stage3 = pt2v_run_config(workdir, clip_run[1], vision_trainable=True)
    stage3 = dataclasses.replace(stage3, train=dataclasses.replace(stage3.train, steps=2))  # step 0 has lr 0
    train(stage3, tmp_path, devices=devices[:1], verbose=False)
    target = task_for(stage3, abstract=True).abstract_state(make_mesh(stage3.mesh, devices[:1]))["params"]
    trained = load_weights({"params": target}, tmp_path)[0]["params"]["vision"]["patch_embed"]["kernel"]
    clip = load_clip(clip_run[1]).params["vision"]["patch_embed"]["kernel"][...]
    assert 0 < np.abs(np.asarray(trained) - np.asarray(clip)).max() < 0.1  # moved one step from the CLIP's


def test_references_of_any_size_and_mode(tmp_path):
    rgba = np.zeros((30, 50, 4), np.uint8)
    rgba[10:20, 20:30] = (230, 40, 40, 255)  # an opaque red subject; the rest transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    ref = read_reference(tmp_path / "cutout.png", 16, 16)
    assert ref.shape == (16, 16, 3) and ref.dtype == np.uint8
    assert tuple(ref[0, 0]) == (REFERENCE_FILL,) * 3 and ref[8, 8, 0] > 200 > ref[8, 8, 1] + 100
    Image.fromarray(np.full((7, 9), 90, np.uint8), "L").save(tmp_path / "grey.jpg")
    grey = read_reference(tmp_path / "grey.jpg", 16, 16)
    assert grey.shape == (16, 16, 3) and np.all(np.abs(grey.astype(int) - 90) <= 2)
    (tmp_path / "notes.png").write_text("not an image")
    for path, message in ((tmp_path / "notes.png", "cannot read --reference"), (tmp_path / "gone.png", "no such")):
        with pytest.raises(UserError, match=message) as e:
            read_reference(path, 16, 16)
        assert "\n" not in str(e.value)


def test_sample_with_a_reference_writes_the_video_and_its_strip(stage1, tmp_path):
    _, workdir, parent = stage1
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[12:28, 12:28] = (40, 200, 60, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "me.png")
    out = tmp_path / "out" / "me.mp4"
    args = ["sample", "--workdir", str(workdir), "--reference", str(tmp_path / "me.png"), "--prompt",
            "a small character upright moving left in daylight", "--steps", "2", "--out", str(out)]
    assert dispatch(args) in (0, None)
    written = sorted(p.name for p in out.parent.iterdir())
    assert written == ["me.gif", "me.mp4", "me_with_reference.gif", "me_with_reference.mp4"]
    with pytest.raises(UserError, match="exists; pass --overwrite"):
        dispatch(args)
    for bad, message in ((["sample", "--workdir", str(workdir), "--prompt", "x"], "needs --reference IMAGE"),
                         (["sample", "--workdir", str(parent), "--reference", "a.png", "--prompt", "x"],
                          "--reference needs a personalized-video run")):
        with pytest.raises(UserError, match=message):
            dispatch(bad)


def test_the_evaluator_judges_held_out_identities(stage1):
    cfg, workdir, _ = stage1
    r = evaluate(cfg, workdir, num=2)
    assert r["ground_truth"]["identity_accuracy"] == 1.0 and r["ground_truth"]["copy_paste_rate"] == 0.0
    assert 0.0 <= r["model"]["identity_accuracy"] <= 1.0 and "copy-paste" in summary(r)
    assert (workdir / "eval" / "pt2v_examples.png").is_file()
