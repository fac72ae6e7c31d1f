"""The edit judge reads the instructed attribute from the pixels: exact targets pass for every edit type (>= 95%),
the unedited input fails (<= 5%), and faithfulness PSNR is infinite-like for the exact target."""

import numpy as np
import pytest

from mgjax.data.shape_edits import TASKS, ShapeEdits, render_scene
from mgjax.eval.edit_judge import faithfulness, success

N = 40


@pytest.mark.parametrize("frames", [1, 4])
@pytest.mark.parametrize("split", ["train", "heldout"])
def test_targets_pass_and_inputs_fail(frames, split):
    for edit_type in TASKS[1:]:
        source = ShapeEdits(split, num_frames=frames, types=(edit_type,), seed=5)
        edits = [source.edit(i) for i in range(N)]
        targets = [success(e, render_scene(e.target, frames, 32, 32)) for e in edits]
        inputs = [success(e, render_scene(e.source, frames, 32, 32)) for e in edits]
        assert np.mean(targets) >= 0.95, (edit_type, np.mean(targets))
        assert np.mean(inputs) <= 0.05, (edit_type, np.mean(inputs))


def test_faithfulness_measures_the_target_and_the_untouched_pixels():
    e = ShapeEdits("train", num_frames=4, types=("color",)).edit(0)
    source, target = render_scene(e.source, 4, 32, 32), render_scene(e.target, 4, 32, 32)
    exact = faithfulness(e, target, source, target)
    assert exact["psnr_target"] == 100.0 and exact["psnr_outside"] == 100.0
    unedited = faithfulness(e, source, source, target)
    assert unedited["psnr_target"] < 30 and unedited["psnr_outside"] == 100.0
    noisy = np.clip(target + np.random.default_rng(0).normal(0, 8, target.shape), 0, 255).astype(np.uint8)
    assert 25 < faithfulness(e, noisy, source, target)["psnr_outside"] < 35
