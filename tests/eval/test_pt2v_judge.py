"""The PT2V judge reads ground truth at 100%, random identities near chance, and sees a copied pose."""

import dataclasses

import numpy as np

from mgjax.data.characters import NUM_IDENTITIES, Characters, render
from mgjax.eval.pt2v_judge import judge, read_clip


def _clips(split: str, num: int, size: int = 32):
    ds = Characters(split, num_frames=4, height=size, width=size)
    items = [ds[i] for i in range(num)]
    specs = [ds.spec(i) for i in range(num)]
    return ds, items, specs


def test_ground_truth_reads_at_100_percent_and_random_identities_near_chance():
    for split, size in (("heldout", 32), ("train", 48)):
        _, items, specs = _clips(split, 40, size)
        videos = [x["video"] for x in items]
        r = judge(videos, [x["identity"] for x in items], [x["pose"] for x in items],
                  [s.direction for s, _, _ in specs], [x["cross_pose"] for x in items])
        assert r["found"] == 1.0 and r["identity_accuracy"] == 1.0 and r["identity_exact"] == 1.0
        assert r["direction"] == 1.0 and r["tilt"] == r["size"] == r["light"] == 1.0
        assert r["copy_paste_rate"] == 0.0  # the truth follows its prompt's pose
        refs = judge([x["cross_reference"][None] for x in items], [x["identity"] for x in items],
                     [x["cross_pose"] for x in items], [None] * len(items))
        assert refs["identity_accuracy"] == 1.0 and refs["tilt"] == 1.0  # references read too (masked, still)
        rng = np.random.default_rng(0)
        others = judge(videos, [int(rng.integers(NUM_IDENTITIES)) for _ in items], [x["pose"] for x in items],
                       [None] * len(items))
        assert abs(others["identity_accuracy"] - others["identity_chance"]) < 0.08 and others["identity_exact"] == 0


def test_a_clip_in_its_references_pose_counts_as_copy_paste():
    ds, items, specs = _clips("heldout", 12)
    copies = []
    for (spec, cross_pose, _), item in zip(specs, items):
        posed = dataclasses.replace(spec, pose=cross_pose, start=(0.5, 0.5), speed="slowly")
        copies.append(render(posed, 4, 32, 32, 0)[0])
    r = judge(copies, [x["identity"] for x in items], [x["pose"] for x in items], [s.direction for s, _, _ in specs],
              [x["cross_pose"] for x in items])
    assert r["copy_paste_rate"] == 1.0 and r["identity_accuracy"] == 1.0


def test_an_empty_frame_is_no_character():
    grey = np.full((4, 32, 32, 3), 90, np.uint8)
    reading = read_clip(grey)
    assert not reading.found and np.all(reading.cells == -1) and reading.direction is None
