"""Synthetic edits with exact targets: each pair differs only where its instruction says, held-out combinations
never reach training, instructions come in several phrasings and name their task, backward edits undo forward ones,
and stage II's animation moves input and target alike."""

import numpy as np
import pytest

from mgjax.data.shape_edits import (EDIT_TYPES, SEGMENT, TASKS, AnimatedEdits, ShapeEdits, backward_edit,
                                    edit_region, is_heldout, render_scene, task_of)

N = 40


@pytest.mark.parametrize("frames", [1, 4])
@pytest.mark.parametrize("edit_type", TASKS[1:])
def test_a_pair_differs_only_where_the_instruction_says(edit_type, frames):
    source = ShapeEdits("train", num_frames=frames, types=(edit_type,))
    changed = 0
    for i in range(N):
        e = source.edit(i)
        before, after = render_scene(e.source, frames, 32, 32), render_scene(e.target, frames, 32, 32)
        differs = (before != after).any(-1)
        assert not (differs & ~edit_region(e, frames, 32, 32)).any(), e.instruction
        changed += differs.any()
        assert task_of(e.instruction) == edit_type, e.instruction
    assert changed == N  # every edit changes something


def test_heldout_combinations_never_appear_in_training():
    for edit_type in TASKS[1:]:
        train = [ShapeEdits("train", num_frames=1, types=(edit_type,)).edit(i) for i in range(60)]
        heldout = [ShapeEdits("heldout", num_frames=1, types=(edit_type,)).edit(i) for i in range(20)]
        assert not any(is_heldout(e.combo) for e in train)
        assert all(is_heldout(e.combo) for e in heldout)
        assert not {e.combo for e in train} & {e.combo for e in heldout}
        assert len({e.instruction.split()[0] for e in train}) >= 2 or edit_type == "style"  # several phrasings


def test_backward_edits_undo_forward_ones():
    rng = np.random.default_rng(0)
    for edit_type in EDIT_TYPES:
        source = ShapeEdits("train", num_frames=4, types=(edit_type,))
        for i in range(10):
            e = source.edit(i)
            back = backward_edit(e, rng)
            np.testing.assert_array_equal(render_scene(back.target, 4, 32, 32), render_scene(e.source, 4, 32, 32))
            assert task_of(back.instruction) == back.type
    with pytest.raises(ValueError):
        backward_edit(ShapeEdits("train", num_frames=1, types=(SEGMENT,)).edit(0), rng)


def test_animation_moves_input_and_target_alike():
    images = ShapeEdits("train", num_frames=1, types=("color",))
    item = AnimatedEdits(images, num_frames=4)[3]
    assert item["source"].shape == item["video"].shape == (4, 32, 32, 3)
    assert (item["source"][0] != item["source"][-1]).any()  # the camera moves
    e = images.edit(3)
    # Outside the (moved) object the two pseudo-videos agree exactly: the same affine path on both.
    still = (render_scene(e.source, 1, 32, 32) != render_scene(e.target, 1, 32, 32)).any(-1)
    assert still.any()
    assert (item["source"] != item["video"]).any(-1).sum() <= 4 * still.sum() * 1.5
    # A still camera repeats the pair's images: a still backdrop, as in the clips the model will edit.
    held = AnimatedEdits(images, num_frames=4, still_prob=1.0)[3]
    assert (held["source"] == held["source"][:1]).all() and (held["video"] == held["video"][:1]).all()
    np.testing.assert_array_equal(held["source"][0], render_scene(e.source, 1, 32, 32)[0])


@pytest.mark.parametrize("stage, frames", [(1, 1), (2, 4)])
def test_stage_batches_mix_edits_and_text_to_video(stage, frames):
    import dataclasses

    import grain

    from mgjax.config import load_config
    from mgjax.data.edit_loader import StepToEditBatch, edit_source
    from mgjax.data.t2v_loader import shapes_source

    cfg = load_config("configs/shapes_edit_stage1.py")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(
        cfg.data, batch_size=4, edit=dataclasses.replace(cfg.data.edit, stage=stage, segment_prob=0.5)))
    videos = grain.MapDataset.source(shapes_source(cfg.data)).batch(4, drop_remainder=True)
    step = StepToEditBatch(edit_source(cfg), videos, 4, cfg.data.edit.edit_every, None)
    tasks = set()
    for s in range(5):  # edit batches
        b = step(s)
        assert b["video"].shape == b["source"].shape == (4, frames, 32, 32, 3)
        tasks |= {TASKS[t] for t in b["task"]}
    t2v = step(5)
    assert t2v["video"].shape == (4, 4, 32, 32, 3) and not t2v["source"].any() and not t2v["task"].any()
    assert (SEGMENT in tasks) == (stage == 2) and len(tasks) >= 4
    np.testing.assert_array_equal(step(3)["video"], step(3)["video"])  # a function of the step
