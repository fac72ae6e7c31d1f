"""The upsampler evaluator's seam measure: which frame pairs are joins, and a ratio that sees a seam and only a seam."""

import numpy as np

from mgjax.eval.upsample import join_pairs, seam_ratio, summary


def test_join_pairs_are_where_the_covering_windows_change():
    # 64 frames, windows of 14 sharing 4: starts 0, 10, ..., 40, and the last moved back to 50.
    joins = join_pairs(64, 14, 4)
    assert joins.shape == (63,)
    expected = set()
    for s in (10, 20, 30, 40, 50):
        expected.add(s - 1)  # the pair entering the window
    for s in (0, 10, 20, 30, 40):
        expected.add(s + 13)  # the pair leaving it
    assert set(np.flatnonzero(joins)) == expected
    assert not join_pairs(14, 14, 4).any()  # one window: no joins
    assert set(np.flatnonzero(join_pairs(28, 14, 0))) == {13}  # two windows end to end


def test_seam_ratio_is_one_for_steady_change_and_sees_a_jump_at_a_join():
    steady = np.broadcast_to(3 * np.arange(28, dtype=np.uint8)[None, :, None, None, None], (2, 28, 4, 4, 3))
    joins = join_pairs(28, 14, 0)
    assert seam_ratio(steady, joins) == 1.0  # a steady change: the joins change as much as the rest
    seam = steady.astype(np.int32)
    seam[:, 14:] += 30  # a jump between the two windows
    assert seam_ratio(np.clip(seam, 0, 255).astype(np.uint8), joins) > 5


def test_summary_names_the_lead_and_the_one_step_estimate():
    cell = {"psnr": 24.0, "ssim": 0.7}
    quality = {"upsampler": {"psnr": 26.5, "ssim": 0.8}, "one_step": cell, "bicubic": cell, "bilinear": cell,
               "vae_ceiling": cell}
    seam = {"window": 14, "overlap": 4, "ramp": "uniform", "ratio": 1.0, "truth_ratio": 1.0, "psnr": 30.0}
    text = summary({"num": 2, "frames": 14, "step": 5, "quality": {"heldout_shapes": quality},
                    "seams": {"clips": 1, "frames": 64, "overlapping": seam, "overlapping_linear": seam,
                              "non_overlapping": seam}})
    assert "+2.50" in text and "one step" in text
