"""Movie Gen Edit on Moving Shapes, stage II: multi-frame editing (paper §5.2).

From stage I's run: animated frame editing (an image edit pair with one random affine camera path applied to input
and output alike: pseudo-videos of 4 frames) and generative instruction-guided segmentation of real clips ("mark the
red circle in white": the target shows the object filled with that colour), jointly with text-to-video.

`python train.py --config configs/shapes_edit_stage2.py --workdir runs/edit_stage2` (reads runs/edit_stage1)
"""

import dataclasses
import pathlib

from mgjax.config import load_config

HERE = pathlib.Path(__file__).resolve().parent


def get_config():
    base = load_config(HERE / "shapes_edit_stage1.py")
    return dataclasses.replace(
        base,
        name="shapes_edit_stage2",
        data=dataclasses.replace(base.data, edit=dataclasses.replace(base.data.edit, stage=2)),
        train=dataclasses.replace(base.train, steps=6000, init_from="runs/edit_stage1", checkpoint_every=1200),
    )
