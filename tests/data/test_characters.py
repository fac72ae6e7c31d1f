"""Characters (PT2V's data): enough identities, a held-out set disjoint from training, captions that never give the
identity away, and references as the paper pairs them."""

import numpy as np
import pytest

from mgjax.data.characters import (GRID, NUM_IDENTITIES, PALETTE, REFERENCE_FILL, Characters, identity_cells,
                                   is_heldout_identity, render)


def test_identities_are_many_and_each_a_distinct_grid():
    assert NUM_IDENTITIES >= 1000
    grids = {identity_cells(i).tobytes() for i in range(0, NUM_IDENTITIES, 97)}
    assert len(grids) == len(range(0, NUM_IDENTITIES, 97))
    assert identity_cells(NUM_IDENTITIES - 1).shape == (GRID, GRID)
    with pytest.raises(ValueError, match="identity must be"):
        identity_cells(NUM_IDENTITIES)


def test_heldout_identities_are_one_in_eight_scattered_and_never_trained_on():
    share = np.mean([is_heldout_identity(i) for i in range(NUM_IDENTITIES)])
    assert abs(share - 1 / 8) < 0.002
    heldout = [i for i in range(NUM_IDENTITIES) if is_heldout_identity(i)]
    cells = np.stack([identity_cells(i) for i in heldout])
    for colour in range(len(PALETTE)):  # every colour in every cell among the held-out ones: nothing else is held out
        assert np.all((cells == colour).any(axis=0))
    train, test = Characters("train"), Characters("heldout")
    trained = {train.spec(i)[0].identity for i in range(300)}
    tested = {test.spec(i)[0].identity for i in range(300)}
    assert not trained & tested
    assert not any(is_heldout_identity(i) for i in trained) and all(is_heldout_identity(i) for i in tested)


def test_captions_give_motion_and_pose_never_the_identity():
    ds = Characters("train", num_frames=4)
    colour_words = set(PALETTE) | {"colour", "color", "cell", "grid", "pattern"}
    for i in range(60):
        item = ds[i]
        spec = ds.spec(i)[0]
        words = set(item["caption"].replace(",", "").split())
        assert not words & colour_words, item["caption"]
        assert spec.pose.size in words and "character" in words
        assert any(w.startswith(spec.direction) for w in words), item["caption"]
    again = Characters("train", num_frames=4)[3]
    assert again["caption"] == ds[3]["caption"] and np.array_equal(again["video"], ds[3]["video"])  # by index


def test_references_are_paired_and_cross_paired_as_in_the_paper():
    ds = Characters("train", num_frames=4, height=32, width=32)
    for i in range(20):
        item = ds[i]
        ref, video = item["reference"], item["video"]
        body = np.any(ref != REFERENCE_FILL, axis=-1)
        assert body.sum() > 30
        # the paired reference is one of the clip's frames, everything but the subject flat grey, moved by whole
        # pixels to centre the subject (the paper crops around the face)
        assert any(np.array_equal(np.roll(ref, (r, c), (0, 1))[np.roll(body, (r, c), (0, 1))],
                                  frame[np.roll(body, (r, c), (0, 1))])
                   for frame in video for r in range(-12, 13) for c in range(-12, 13))
        assert np.abs(np.argwhere(body).mean(0) + 0.5 - 16).max() <= 1.0  # centred
        cross = item["cross_reference"]
        assert cross.shape == ref.shape and item["cross_pose"] != item["pose"]  # another pose of the same identity
        assert np.all(cross[0] == REFERENCE_FILL) and np.all(cross[:, 0] == REFERENCE_FILL)  # centred, background gone
        # the whole body stays in the frame all along its path (the largest, most tilted, fastest included)
        spec, _, rng = ds.spec(i)
        _, inside = render(spec, 4, 32, 32, rng)
        assert not (inside[:, 0].any() or inside[:, -1].any() or inside[:, :, 0].any() or inside[:, :, -1].any())
        assert np.ptp(inside.sum(axis=(1, 2))) <= 0.1 * inside.sum(axis=(1, 2)).max()
